"""The Identify tab's record keeping: the sighting a ranger types when registering (its date
filled in from the photo's EXIF), limits on the gallery photos identify matches (one site, a
range of days), and where and when each match's photo was taken. Registering is done for the
user logged in (`user_of`).
"""

import functools
import inspect
from pathlib import Path

import gradio as gr

from turtle_id import ui_records
from turtle_id.photo import load_photo

EXIF_DATE_SIDE = 64  # pixels: the smallest decode that reads a dropped photo's EXIF date


def user_of(request: gr.Request | None) -> str | None:
    """Who is logged in; None without logins."""
    return getattr(request, "username", None) or None


def partial(handler, **fixed):
    """functools.partial(handler, **fixed) as Gradio must see it: Gradio passes gr.Request to
    the parameter annotated so, and fills every positional parameter it is not given with its
    default (a bare partial has no annotations; one made by update_wrapper shows `fixed` as
    positional, and Gradio's defaults would override them)."""

    @functools.wraps(handler)
    def bound(*args):
        return handler(*args, **fixed)

    shown = inspect.signature(handler)
    kept = [p for name, p in shown.parameters.items() if name not in fixed]
    bound.__signature__ = shown.replace(parameters=kept)
    return bound


def search_limit_fields() -> list[gr.Textbox]:
    """Site, from, to: optional limits on the gallery photos identify matches."""
    with gr.Accordion("Search only one site or dates", open=False):
        site = gr.Textbox(label="Site", placeholder="blank = every site", elem_id="limit-site")
        with gr.Row():
            first = gr.Textbox(label="From", placeholder="YYYY-MM-DD", elem_id="limit-from")
            last = gr.Textbox(label="To", placeholder="YYYY-MM-DD", elem_id="limit-to")
    return [site, first, last]


def sighting_fields(photo: gr.Image) -> list[gr.Textbox]:
    """Date taken, site, observer, notes: what registering saves with the photo. Dropping a
    photo on `photo` fills in its EXIF date and empties the notes (they were the last
    photo's); site and observer stay, as they do for a morning on one beach."""
    with gr.Accordion("Sighting: saved with the photo when registering", open=True):
        with gr.Row():
            date = gr.Textbox(
                label="Date taken",
                placeholder="YYYY-MM-DD HH:MM, blank = EXIF",
                elem_id="sighting-date",
            )
            site = gr.Textbox(label="Site", elem_id="sighting-site")
            observer = gr.Textbox(label="Observer", elem_id="sighting-observer")
        notes = gr.Textbox(label="Notes", lines=2, elem_id="sighting-notes")

    def dropped(file: dict | None = None):
        if not file:
            return "", ""
        try:
            taken = load_photo(Path(file["path"]), target=EXIF_DATE_SIDE).taken
        except (ValueError, OSError):  # identify and register say what is wrong with it
            taken = None
        return taken or "", ""

    photo.upload(dropped, photo, [date, notes], preprocess=False)
    photo.clear(dropped, None, [date, notes])
    return [date, site, observer, notes]


def match_sightings_table(found: gr.State) -> gr.Dataframe:
    """Where and when the best photo of each match was taken, following what identify found
    (`found`: {"matches": [Match], ...} or None)."""
    table = gr.Dataframe(
        headers=ui_records.MATCH_SIGHTING_HEADERS,
        interactive=False,
        label="The matches' photos: file, date taken, site",
        elem_id="match-sightings",
    )
    found.change(
        lambda shown: ui_records.match_sighting_rows(shown["matches"] if shown else []),
        found,
        table,
    )
    return table
