"""Words and table rows for the app's record keeping: sightings typed when registering, search
limits on identify, the Records tab's photo and audit tables, and what each change did.

Pure functions of their arguments (no Gradio, no files), checked by `tests/test_ui_records.py`;
`turtle_id/ui_care.py` places what they return on the page. Everything a person typed (names,
sites, observers, notes, file names) goes into tables and text boxes, which show it as text.
"""

from collections.abc import Sequence

from turtle_id.audit import AuditEntry
from turtle_id.catalogue import PhotoRow
from turtle_id.gallery import Match
from turtle_id.sightings import Sighting, SightingFilter
from turtle_id.ui import plural

AUDIT_HEADERS = ["Event", "When (UTC)", "User", "Action", "Turtle", "Photo", "File", "What"]
PHOTO_HEADERS = ["Photo", "File", "View", "Date taken", "Site", "Observer", "Notes", "Status"]
MATCH_SIGHTING_HEADERS = ["Rank", "Turtle ID", "Gallery photo", "Date taken", "Site"]
AUDIT_SHOWN = 200  # latest events in the audit table; the CSV download holds them all
NO_MATCH_IN_LIMITS = (
    "No gallery photo is from that site or those dates: widen or clear the search limits, or "
    "register this photo as a new turtle."
)


def _blank(value) -> str:
    return "" if value is None else str(value)


def sighting(
    date: str | None,
    site: str | None,
    observer: str | None,
    notes: str | None,
    latitude: str | float | None = None,
    longitude: str | float | None = None,
) -> Sighting:
    """The sighting typed beside a photo; blank fields are None (the date and position then
    come from the photo's EXIF). A bad value is a ValueError that says the fix."""
    return Sighting(date or None, site, observer, notes, latitude, longitude)


def search_limits(site: str | None, date_from: str | None, date_to: str | None) -> dict:
    """Gallery.identify's site / date_from / date_to for the limits typed, only those given;
    {} searches the whole gallery. Bad dates are a ValueError that says the fix."""
    limits = SightingFilter(site, date_from, date_to)  # validates, e.g. a reversed range
    typed = {"site": (site or "").strip(), "date_from": limits.date_from, "date_to": limits.date_to}
    return {key: value for key, value in typed.items() if value}


def match_sighting_rows(matches: Sequence[Match]) -> list[list]:
    """Rows under MATCH_SIGHTING_HEADERS: where and when each match's best photo was taken."""
    return [
        [rank, m.turtle_id, m.source_name, _blank(m.date_taken), _blank(m.site)]
        for rank, m in enumerate(matches, 1)
    ]


# The Records tab


def status(row: PhotoRow) -> str:
    """`in use`, or `removed 2026-12-03` (UTC day)."""
    return "in use" if row.removed_at is None else f"removed {row.removed_at[:10]}"


def photo_rows(photos: Sequence[PhotoRow]) -> list[list]:
    """Rows under PHOTO_HEADERS, removed photos too (they can be restored)."""
    return [
        [
            p.id,
            p.source_name,
            _blank(p.view),
            _blank(p.date_taken),
            _blank(p.site),
            _blank(p.observer),
            _blank(p.notes),
            status(p),
        ]
        for p in photos
    ]


def photo_label(row: PhotoRow) -> str:
    """`photo 12 · IMG_12.JPG` (`· removed` when it is): a choice in the photo dropdown."""
    label = f"photo {row.id} · {row.source_name}"
    return label if row.removed_at is None else f"{label} · removed"


def photo_choices(photos: Sequence[PhotoRow]) -> list[tuple[str, int]]:
    """(label, photo id) per photo, as gr.Dropdown takes them."""
    return [(photo_label(p), p.id) for p in photos]


def photo_items(photos: Sequence[PhotoRow], previews: Sequence[str]) -> list[tuple[str, str]]:
    """(preview path, caption) per photo for gr.Gallery; `previews` in the same order."""
    return [(path, photo_label(p)) for p, path in zip(photos, previews)]


def sighting_fields(row: PhotoRow | None) -> list[str]:
    """The edit form's date, site, observer, notes, latitude, longitude for a photo; blanks
    for none chosen."""
    if row is None:
        return [""] * 6
    values = (row.date_taken, row.site, row.observer, row.notes, row.latitude, row.longitude)
    return [_blank(v) for v in values]


def edits(
    row: PhotoRow,
    date: str | None,
    site: str | None,
    observer: str | None,
    notes: str | None,
    latitude: str | None,
    longitude: str | None,
) -> dict:
    """Care.edit's changes: the fields typed that differ from the photo's (a cleared field is
    None). Values are checked as when registering; a bad one is a ValueError. A date left as
    it was stored is kept as it is, even one that is not a date (from an enrolled CSV)."""
    kept = (date or "").strip() == (row.date_taken or "")
    typed = sighting(None if kept else date, site, observer, notes, latitude, longitude)
    new = {
        "date_taken": row.date_taken if kept else typed.date,
        "site": typed.site,
        "observer": typed.observer,
        "notes": typed.notes,
        "latitude": typed.latitude,
        "longitude": typed.longitude,
    }
    old = {field: getattr(row, field) for field in new}
    changed = {field: value for field, value in new.items() if value != old[field]}
    if not changed:
        raise ValueError(f"photo {row.id} already has these values: change a field first")
    return changed


def audit_rows(entries: Sequence[AuditEntry]) -> list[list]:
    """Rows under AUDIT_HEADERS, newest first; times as `2026-12-03 17:04:17` (UTC)."""
    return [
        [
            e.event,
            e.at[:19].replace("T", " "),
            _blank(e.user),
            e.action,
            _blank(e.turtle_id),
            _blank(e.photo_id),
            _blank(e.photo),
            e.what,
        ]
        for e in entries
    ]


def done_text(what: str, event: int, user: str | None) -> str:
    """The Records tab's answer to a change, e.g. `Done: renamed ind02 to Shelly (event 14,
    by ana). Undo last change puts it back.`"""
    by = f", by {user}" if user else ""
    return f"Done: {what} (event {event}{by}). Undo last change puts it back."


def undone_text(what: str, event: int, undo_event: int, user: str | None) -> str:
    """The answer to an undo: which change was reversed."""
    by = f", by {user}" if user else ""
    return f"Undone: {what} (event {event}; the undo is event {undo_event}{by})."


def backup_text(name: str, counts: dict, files: int, missing: int) -> str:
    """What a backup holds, e.g. `turtle-id-backup.zip: 12 photos, 6 individuals, 31 events,
    27 files` (removed photos and merged names are kept, and counted)."""
    text = (
        f"{name}: {plural(counts.get('photos', 0), 'photo')}, "
        f"{plural(counts.get('individuals', 0), 'individual')}, "
        f"{plural(counts.get('events', 0), 'event')}, {plural(files, 'file')}"
    )
    if missing:
        text += f"; {plural(missing, 'photo file')} missing from the gallery: run check"
    return text
