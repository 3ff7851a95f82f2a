"""The words and rows of the app's record keeping (turtle_id/ui_records.py), worked out by hand
on one or two photos; and the handler wrapper that keeps gr.Request (turtle_id/ui_sighting.py)."""

import functools
from pathlib import Path

import gradio as gr
import pytest
from gradio.helpers import special_args

from turtle_id import ui_records
from turtle_id.audit import AuditEntry
from turtle_id.catalogue import PhotoRow
from turtle_id.gallery import Match
from turtle_id.ui_sighting import partial


def _photo(**fields) -> PhotoRow:
    values = dict(
        id=7,
        sha256="ab" * 32,
        individual_id="Shelly",
        file="photos/ab/ab.jpg",
        preview="previews/ab/ab.jpg",
        source_name="IMG_7.JPG",
        view="left",
        date_taken="2021-06-24 10:05:00",
        site="Laganas",
        observer="ana",
        region=None,
        model_version="m1",
        latitude=37.72,
        longitude=20.88,
        notes="scar on the left cheek",
    )
    return PhotoRow(**{**values, **fields})


def test_a_sighting_of_blank_fields_is_empty_and_a_bad_date_says_the_fix():
    assert ui_records.sighting("", " ", "", "") == ui_records.Sighting()
    typed = ui_records.sighting("2021:06:24 10:05", "Laganas", "ana", "ok")
    assert (typed.date, typed.site, typed.observer) == ("2021-06-24 10:05:00", "Laganas", "ana")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        ui_records.sighting("24 June", "", "", "")


def test_search_limits_keep_only_what_was_typed_and_refuse_a_reversed_range():
    assert ui_records.search_limits("", "", "") == {}
    assert ui_records.search_limits(" Laganas ", "2021-1-5", "") == {
        "site": "Laganas",
        "date_from": "2021-01-05",
    }
    with pytest.raises(ValueError, match="swap the two dates"):
        ui_records.search_limits("", "2022-01-01", "2021-01-01")


def test_match_sighting_rows_show_each_matchs_photo_date_and_site():
    match = Match(
        turtle_id="Shelly",
        score=0.93,
        similarity=0.81,
        inliers=40,
        photo_id=7,
        photo=Path("p.jpg"),
        preview=Path("v.jpg"),
        source_name="IMG_7.JPG",
        view=None,
        date_taken="2021-06-24 10:05:00",
        site=None,
    )
    assert ui_records.match_sighting_rows([match]) == [
        [1, "Shelly", "IMG_7.JPG", "2021-06-24 10:05:00", ""]
    ]


def test_photo_rows_and_choices_mark_removed_photos():
    kept, removed = _photo(), _photo(id=8, source_name="b.jpg", removed_at="2026-12-03T17:04:17")
    sighting = ["left", "2021-06-24 10:05:00", "Laganas", "ana", kept.notes]
    assert ui_records.photo_rows([kept, removed]) == [
        [7, "IMG_7.JPG", *sighting, "in use"],
        [8, "b.jpg", *sighting, "removed 2026-12-03"],
    ]
    assert ui_records.photo_choices([kept, removed]) == [
        ("photo 7 · IMG_7.JPG", 7),
        ("photo 8 · b.jpg · removed", 8),
    ]
    assert ui_records.photo_items([kept], ["/g/previews/ab.jpg"]) == [
        ("/g/previews/ab.jpg", "photo 7 · IMG_7.JPG")
    ]


def test_the_edit_form_shows_a_photos_sighting_and_edits_only_what_changed():
    photo = _photo()
    shown = ui_records.sighting_fields(photo)
    assert shown == ["2021-06-24 10:05:00", "Laganas", "ana", photo.notes, "37.72", "20.88"]
    assert ui_records.sighting_fields(None) == [""] * 6
    # The form sent back as shown, with the site retyped and the notes cleared.
    date, _, observer, _, lat, lon = shown
    assert ui_records.edits(photo, date, "Zakynthos", observer, "", lat, lon) == {
        "site": "Zakynthos",
        "notes": None,
    }
    with pytest.raises(ValueError, match="already has these values"):
        ui_records.edits(photo, *shown)


def test_a_stored_date_that_is_not_a_date_is_kept_when_another_field_is_edited():
    photo = _photo(date_taken="summer 2019")  # as an enrolled CSV wrote it
    date, _, observer, notes, lat, lon = ui_records.sighting_fields(photo)
    assert ui_records.edits(photo, date, "Zakynthos", observer, notes, lat, lon) == {
        "site": "Zakynthos"
    }
    with pytest.raises(ValueError, match="both latitude and longitude"):
        ui_records.edits(photo, date, "Laganas", observer, notes, "", lon)


def test_audit_rows_show_utc_times_and_blanks_for_what_an_event_lacks():
    entry = AuditEntry(
        event=14,
        at="2026-12-03T17:04:17+00:00",
        user=None,
        action="rename",
        turtle_id="Shelly",
        photo_id=None,
        photo=None,
        what="renamed ind02 to Shelly",
        detail={"from": "ind02", "to": "Shelly"},
    )
    assert ui_records.audit_rows([entry]) == [
        [14, "2026-12-03 17:04:17", "", "rename", "Shelly", "", "", "renamed ind02 to Shelly"]
    ]


def test_what_a_change_and_an_undo_did_in_words():
    assert ui_records.done_text("renamed ind02 to Shelly", 14, "ana") == (
        "Done: renamed ind02 to Shelly (event 14, by ana). Undo last change puts it back."
    )
    assert ui_records.undone_text("renamed ind02 to Shelly", 14, 15, None) == (
        "Undone: renamed ind02 to Shelly (event 14; the undo is event 15)."
    )
    counts = {"photos": 1, "individuals": 2, "events": 5}
    assert ui_records.backup_text("b.zip", counts, 4, 0) == (
        "b.zip: 1 photo, 2 individuals, 5 events, 4 files"
    )
    assert ui_records.backup_text("b.zip", counts, 3, 1).endswith(
        "; 1 photo file missing from the gallery: run check"
    )


def test_a_partial_handler_still_gets_the_request_and_its_fixed_arguments():
    def register(photo, name, request: gr.Request, confirmed=False):
        return photo, name, request, confirmed

    def reported(handler):  # as app.py wraps its handlers
        @functools.wraps(handler)
        def wrapped(*args):
            return handler(*args)

        return wrapped

    for handler, confirmed in (
        (reported(register), False),
        (partial(register, confirmed=True), True),
        (reported(partial(register, confirmed=True)), True),
    ):
        inputs, *_ = special_args(handler, ["p.jpg", "t1"], request="the request")
        assert handler(*inputs) == ("p.jpg", "t1", "the request", confirmed)
