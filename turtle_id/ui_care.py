"""The web app's Records tab: gallery care (rename, merge, move, remove, restore, edit a
photo's sighting, undo), the audit trail, and exports and a backup to download.

Every change is made for the user logged in (gr.Request.username; None without logins, which
the catalogue records as the OS user), is logged, and can be undone. The gallery's index
follows each change at its next search. Words and rows come from turtle_id/ui_records.py.
"""

import functools
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import gradio as gr

from turtle_id import ui_records
from turtle_id.audit import AuditEntry, audit_trail, write_audit_csv
from turtle_id.backup import backup
from turtle_id.care import Care
from turtle_id.gallery import Gallery
from turtle_id.tables import DarwinCoreSettings, export
from turtle_id.ui import plural
from turtle_id.ui_sighting import user_of

# Export kind (tables.EXPORTS) -> button and file name.
EXPORTS = {
    "photos": ("Photos (Zindi layout)", "photos.csv"),
    "sightings": ("Sightings", "sightings.csv"),
    "dwc": ("Darwin Core occurrences", "darwin-core.csv"),
}
DOWNLOAD_MAX_AGE_S = 3600  # our copy of a download; Gradio serves its own, cleared daily


def reported(handler):
    """The package's refusals (a name taken, a change that conflicts: they say the fix) as a
    message in the page."""

    @functools.wraps(handler)
    def wrapped(*args):
        try:
            return handler(*args)
        except gr.Error:
            raise
        except (ValueError, OSError) as error:
            raise gr.Error(str(error)) from None

    return wrapped


class Downloads:
    """Files made for download, each in a folder of its own (two users exporting at once never
    share a file); folders older than `max_age_s` go when the next one is made. The last ones
    stay in the system's temporary folder when the app stops."""

    def __init__(self, max_age_s: float = DOWNLOAD_MAX_AGE_S):
        self.max_age_s = max_age_s
        self._root: Path | None = None

    def folder(self) -> Path:
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="turtle-id-downloads-"))
        cutoff = time.time() - self.max_age_s
        for old in self._root.iterdir():
            if old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        return Path(tempfile.mkdtemp(dir=self._root))


# The Records tab


@dataclass
class RecordsTab:
    changed: list  # the event of every change, for the app to refresh its other listings


def records_tab(gallery: Gallery) -> RecordsTab:
    """Build the tab inside the gr.Blocks being built."""
    care = Care(gallery.catalogue)
    downloads = Downloads()

    def turtle_ids() -> list[str]:
        return [turtle_id for turtle_id, _, _ in gallery.individuals()]

    def photos_of(turtle: str | None):
        if not turtle:
            return []
        return gallery.catalogue.photos(individual_id=turtle, include_removed=True)

    def shown(turtle: str | None, photo_id: int | None, message: str | None = None) -> dict:
        """Every output of the tab, for this turtle and photo (followed through a merge);
        the message unchanged when None."""
        ids = turtle_ids()
        turtle = gallery.catalogue.individual_named(turtle) if turtle else None
        photos = photos_of(turtle)
        row = next((p for p in photos if p.id == photo_id), None)
        entries = audit_trail(gallery.catalogue, ui_records.AUDIT_SHOWN)
        out = {
            chosen: gr.Dropdown(choices=ids, value=turtle),
            # Choices only: a value chosen while this was on its way stays chosen.
            into: gr.Dropdown(choices=ids),
            move_to: gr.Dropdown(choices=ids),
            pictures: picture_items(photos),
            table: ui_records.photo_rows(photos),
            photo: gr.Dropdown(choices=ui_records.photo_choices(photos), value=row and row.id),
            audit: ui_records.audit_rows(entries),
            **dict(zip(fields, ui_records.sighting_fields(row))),
        }
        if message is not None:
            out[result] = message
        return out

    def picture_items(photos) -> list[tuple[str, str]]:
        previews = [str(gallery.preview_path(p)) for p in photos]
        return ui_records.photo_items(photos, previews)

    def done(event: int, request: gr.Request) -> dict:
        """The tab after a change: the turtle and photo the event names, and its words."""
        entry = _entry(gallery, event)
        user = user_of(request) or entry.user
        message = ui_records.done_text(entry.what, event, user)
        gr.Info(f"Done: event {event}")  # the words, typed names included, are in the box
        return shown(entry.turtle_id, entry.photo_id, message)

    def chosen_photo(photo_id):
        if photo_id in (None, ""):
            raise gr.Error("no photo chosen: choose a turtle, then one of its photos")
        return int(photo_id)

    def chosen_turtle(turtle):
        if not turtle:
            raise gr.Error("no turtle chosen: choose one in the Turtle list first")
        return turtle

    @reported
    def rename(turtle, name, request: gr.Request):
        event = care.rename(chosen_turtle(turtle), name, user=user_of(request))
        return {**done(event, request), new_name: ""}

    @reported
    def merge(turtle, survivor, request: gr.Request):
        if not survivor:
            raise gr.Error("no turtle to merge into: choose one under Merge it into")
        event = care.merge(chosen_turtle(turtle), into=survivor, user=user_of(request))
        return done(event, request)

    @reported
    def move(photo_id, target, request: gr.Request):
        photo_id = chosen_photo(photo_id)
        if not target:
            raise gr.Error("no turtle to move the photo to: choose one under Move it to")
        return done(care.move(photo_id, target, user=user_of(request)), request)

    @reported
    def remove(photo_id, reason, request: gr.Request):
        event = care.remove(chosen_photo(photo_id), reason or None, user=user_of(request))
        return {**done(event, request), why: ""}

    @reported
    def restore(photo_id, request: gr.Request):
        return done(care.restore(chosen_photo(photo_id), user=user_of(request)), request)

    @reported
    def edit(photo_id, taken, at, by, text, lat, lon, request: gr.Request):
        photo_id = chosen_photo(photo_id)
        (row,) = gallery.catalogue.photos([photo_id])
        changes = ui_records.edits(row, taken, at, by, text, lat, lon)
        return done(care.edit(photo_id, user=user_of(request), **changes), request)

    @reported
    def undo(request: gr.Request):
        user = user_of(request)
        latest = care.changes(limit=1, user=user)
        if not latest:
            raise gr.Error(f"no change{f' by {user}' if user else ''} left to undo")
        change = latest[0]
        undo_event = care.undo(change.event_id, user=user)
        what = _entry(gallery, change.event_id).what
        undone = _entry(gallery, undo_event)
        message = ui_records.undone_text(what, change.event_id, undo_event, undone.user)
        gr.Info(f"Undone: event {change.event_id}")
        return shown(undone.turtle_id, change.photo_id, message)

    def pick_turtle(turtle):
        return shown(turtle, None)

    def pick_photo(turtle, photo_id):
        return shown(turtle, photo_id)

    def pick_picture(turtle, event: gr.SelectData):
        photos = photos_of(turtle)
        picked = photos[event.index].id if 0 <= event.index < len(photos) else None
        return shown(turtle, picked)

    def pick_row(turtle, event: gr.SelectData):
        return shown(turtle, event.row_value[0])

    @reported
    def export_table(kind: str, species: str):
        label, name = EXPORTS[kind]
        path = downloads.folder() / name
        settings = DarwinCoreSettings(scientific_name=species or "")
        rows = export(gallery.catalogue, kind, path, settings)
        return str(path), f"{label}: {plural(rows, 'row')} in {name}"

    @reported
    def audit_download():
        path = downloads.folder() / "audit.csv"
        entries = audit_trail(gallery.catalogue)
        write_audit_csv(entries, path)
        return str(path), f"Audit trail: {plural(len(entries), 'event')} in audit.csv"

    @reported
    def backup_download():
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        path = downloads.folder() / f"turtle-id-backup-{stamp}.zip"
        made = backup(gallery.root, path)
        return str(path), ui_records.backup_text(
            path.name, made.counts, made.files, len(made.missing)
        )

    with gr.Tab("Records") as tab:
        gr.Markdown(
            "Gallery care: every change is logged with who made it, and **Undo last change** "
            "puts it back. Removed photos are kept, never matched, and can be restored."
        )
        result = gr.Textbox(label="Result", interactive=False, elem_id="records-result")
        with gr.Row():
            with gr.Column(scale=2):
                chosen = gr.Dropdown(label="Turtle", choices=[], elem_id="care-turtle")
                with gr.Row():
                    new_name = gr.Textbox(label="New name", elem_id="care-new-name", scale=2)
                    rename_button = gr.Button("Rename", scale=1)
                with gr.Row():
                    into = gr.Dropdown(label="Merge it into", choices=[], elem_id="care-into")
                    merge_button = gr.Button("Merge", scale=0)
                undo_button = gr.Button("Undo last change", variant="stop", elem_id="care-undo")
            with gr.Column(scale=3):
                pictures = gr.Gallery(
                    label="Its photos, removed ones too",
                    columns=5,
                    height=180,
                    object_fit="cover",
                    allow_preview=False,
                    elem_id="care-photos",
                )
                photo = gr.Dropdown(label="Photo", choices=[], elem_id="care-photo")
                with gr.Row():
                    move_to = gr.Dropdown(label="Move it to", choices=[], elem_id="care-move-to")
                    move_button = gr.Button("Move", scale=0)
                with gr.Row():
                    why = gr.Textbox(label="Reason for removing (optional)", elem_id="care-why")
                    remove_button = gr.Button("Remove", scale=0)
                    restore_button = gr.Button("Restore", scale=0)
        table = gr.Dataframe(
            headers=ui_records.PHOTO_HEADERS,
            interactive=False,
            label="Photos of the turtle",
            elem_id="care-table",
        )
        with gr.Accordion("Edit the photo's sighting", open=False):
            with gr.Row():
                date = gr.Textbox(label="Date taken", elem_id="edit-date")
                site = gr.Textbox(label="Site", elem_id="edit-site")
                observer = gr.Textbox(label="Observer", elem_id="edit-observer")
                latitude = gr.Textbox(label="Latitude", elem_id="edit-latitude")
                longitude = gr.Textbox(label="Longitude", elem_id="edit-longitude")
            notes = gr.Textbox(label="Notes", lines=2, elem_id="edit-notes")
            edit_button = gr.Button("Save the sighting")
        fields = [date, site, observer, notes, latitude, longitude]
        audit = gr.Dataframe(
            headers=ui_records.AUDIT_HEADERS,
            interactive=False,
            label=f"Audit trail: the latest {ui_records.AUDIT_SHOWN} changes, newest first",
            elem_id="audit",
        )
        with gr.Row():
            audit_button = gr.Button("Audit trail (CSV)")
            export_buttons = {kind: gr.Button(label) for kind, (label, _) in EXPORTS.items()}
            backup_button = gr.Button("Backup (zip)")
        species = gr.Textbox(
            label="Species, for Darwin Core (scientificName)",
            value=DarwinCoreSettings().scientific_name,
            elem_id="dwc-species",
        )
        download = gr.File(label="Download", interactive=False, height=120, elem_id="records-file")

    outputs = [result, chosen, into, move_to, new_name, pictures, table, photo, audit, why]
    outputs += fields
    changed = [
        rename_button.click(rename, [chosen, new_name], outputs),
        merge_button.click(merge, [chosen, into], outputs),
        move_button.click(move, [photo, move_to], outputs),
        remove_button.click(remove, [photo, why], outputs),
        restore_button.click(restore, photo, outputs),
        edit_button.click(edit, [photo, *fields], outputs),
        undo_button.click(undo, None, outputs),
    ]
    # .input and .select, not .change: the handlers above set these too.
    tab.select(pick_photo, [chosen, photo], outputs)
    chosen.input(pick_turtle, chosen, outputs)
    photo.input(pick_photo, [chosen, photo], outputs)
    pictures.select(pick_picture, chosen, outputs)
    table.select(pick_row, chosen, outputs)
    audit_button.click(audit_download, None, [download, result])
    for kind, button in export_buttons.items():
        button.click(functools.partial(export_table, kind), species, [download, result])
    backup_button.click(backup_download, None, [download, result])
    return RecordsTab(changed)


def _entry(gallery: Gallery, event: int) -> AuditEntry:
    """The audit trail's entry for one event, which has just been made."""
    for entry in audit_trail(gallery.catalogue, ui_records.AUDIT_SHOWN):
        if entry.event == event:
            return entry
    raise AssertionError(f"event {event} is not among the latest {ui_records.AUDIT_SHOWN}")
