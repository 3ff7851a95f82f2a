"""The audit trail: every change to a gallery (registration, adding a photo to a turtle,
merge, move, remove, restore, rename, edit, undo), who made it, when, and from which photo,
read from the catalogue's event log, in words and as a CSV file.
"""

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from turtle_id.catalogue import Catalogue

AUDIT_COLUMNS = ("event", "at", "user", "action", "turtle_id", "photo_id", "photo", "what")


@dataclass(frozen=True)
class AuditEntry:
    event: int  # event id, what `undo` takes
    at: str  # UTC, ISO 8601
    user: str | None  # None for events written before users were recorded
    action: str  # the event log's own name: enrol_photo, merge, move_photo, undo, ...
    turtle_id: str | None
    photo_id: int | None
    photo: str | None  # the file the photo was enrolled from
    what: str  # the change in words
    detail: dict

    def row(self) -> list:
        return [getattr(self, c) for c in AUDIT_COLUMNS]


def audit_trail(catalogue: Catalogue, limit: int | None = None) -> list[AuditEntry]:
    """Events, newest first; `limit` of them, all when None."""
    rows = catalogue.read(
        "SELECT e.id, e.at, e.user, e.action, e.individual_id, e.photo_id, p.source_name, "
        "e.detail FROM events e LEFT JOIN photos p ON p.id = e.photo_id "
        "ORDER BY e.id DESC LIMIT ?",
        (-1 if limit is None else limit,),
    )
    entries = []
    for event, at, user, action, turtle_id, photo_id, photo, detail in rows:
        detail = json.loads(detail or "{}")
        what = describe(action, turtle_id, photo_id, photo, detail)
        entries.append(
            AuditEntry(event, at, user, action, turtle_id, photo_id, photo, what, detail)
        )
    return entries


def write_audit_csv(entries: list[AuditEntry], path: Path) -> None:
    """AUDIT_COLUMNS, one row per entry, UTF-8."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(AUDIT_COLUMNS)
        writer.writerows(entry.row() for entry in entries)


def describe(
    action: str, turtle_id: str | None, photo_id: int | None, photo: str | None, detail: dict
) -> str:
    """One change in words, e.g. `merged turtle-0007 into Shelly (3 photos)`."""
    shown = f"photo {photo_id}" + (f" ({photo})" if photo else "")
    if action == "enrol_photo":
        verb = {"register": "registered", "add": "added"}.get(detail.get("how"), "enrolled")
        return f"{verb} {shown} as {turtle_id}"
    if action == "create_individual":
        return f"created turtle {turtle_id}"
    if action == "rename":
        return f"renamed {detail.get('from')} to {detail.get('to')}"
    if action == "merge":
        count = len(detail.get("photos", []))
        return f"merged {detail.get('merged')} into {detail.get('into')} ({count} photos)"
    if action == "move_photo":
        return f"moved {shown} from {detail.get('from')} to {detail.get('to')}"
    if action == "remove_photo":
        reason = detail.get("reason")
        return f"removed {shown} of {turtle_id}" + (f": {reason}" if reason else "")
    if action == "restore_photo":
        return f"restored {shown} of {turtle_id}"
    if action == "edit_photo":
        after = detail.get("after", {})
        changes = ", ".join(f"{k} {detail['before'].get(k)!r} -> {v!r}" for k, v in after.items())
        return f"edited {shown}: {changes}"
    if action == "reembed":
        return f"re-embedded {shown} with {detail.get('model_version')}"
    if action == "undo":
        return f"undid event {detail.get('undoes')} ({detail.get('action')})"
    return f"{action} {json.dumps(detail)}"
