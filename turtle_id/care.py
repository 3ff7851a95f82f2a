"""Gallery care: rename and merge individuals, move, remove, restore and edit photos, and undo
any of these (or a registration).

Each change is one transaction that checks the state it starts from, changes the catalogue and
logs one event (who, when, what, which photo) holding what its undo needs. Nothing is deleted:
a removed photo is kept, marked, and never matched; a merged individual stays as an alias of
the one it was merged into. Every Gallery follows these changes on its next search, in this
process or another (it watches the event log).

    care = Care(gallery.catalogue)
    event = care.merge("turtle-0007", into="Shelly", user="ana")
    care.undo(event, user="ana")
"""

import json
import sqlite3
from dataclasses import dataclass

from turtle_id.catalogue import Catalogue, now
from turtle_id.gallery import validate_individual_id
from turtle_id.settings import VIEWS
from turtle_id.sightings import MAX_NOTES, check_coordinate, clean_text, normalise_date

# What undo can reverse; an undo itself is not undone (make the change again instead).
UNDOABLE = ("rename", "merge", "move_photo", "remove_photo", "restore_photo", "edit_photo")
UNDOABLE_WITH_ENROLMENT = (*UNDOABLE, "enrol_photo")  # undoing a registration removes the photo
EDITABLE = ("date_taken", "site", "observer", "notes", "latitude", "longitude", "view")


@dataclass(frozen=True)
class Change:
    """One logged change, as undo sees it."""

    event_id: int
    at: str  # UTC, ISO 8601
    user: str | None
    action: str
    turtle_id: str | None
    photo_id: int | None
    detail: dict


class Care:
    """Changes to a gallery's catalogue that keep its record straight."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue

    # Individuals

    def rename(self, turtle_id: str, new_name: str, user: str | None = None) -> int:
        """Give an individual another name (its photos and aliases follow); the event id."""
        new_name = validate_individual_id(new_name)
        with self.catalogue.transaction(user) as db:
            old = _active(db, turtle_id)
            if old == new_name:
                raise ValueError(f"turtle {old!r} already has that name: type a different one")
            _check_free(db, new_name, old)
            _rename(db, old, new_name)
            return Catalogue.log(db, "rename", new_name, None, {"from": old, "to": new_name})

    def merge(self, turtle_id: str, into: str, user: str | None = None) -> int:
        """Merge one individual into another: its photos move there and its name becomes an
        alias that answers the surviving ID; the event id."""
        with self.catalogue.transaction(user) as db:
            absorbed, survivor = _active(db, turtle_id), _active(db, into)
            if absorbed == survivor:
                raise ValueError(f"cannot merge turtle {absorbed!r} into itself: pick another")
            photos = _photo_ids_of(db, absorbed)
            db.execute(
                "UPDATE photos SET individual_id = ? WHERE individual_id = ?", (survivor, absorbed)
            )
            db.execute("UPDATE individuals SET alias_of = ? WHERE id = ?", (survivor, absorbed))
            detail = {"merged": absorbed, "into": survivor, "photos": photos}
            return Catalogue.log(db, "merge", survivor, None, detail)

    # Photos

    def move(self, photo_id: int, turtle_id: str, user: str | None = None) -> int:
        """Move a photo to another individual (a merged name means the one it was merged
        into); the event id."""
        with self.catalogue.transaction(user) as db:
            current = _photo(db, photo_id)["individual_id"]
            target = _resolve(db, turtle_id)
            if target == current:
                raise ValueError(f"photo {photo_id} already belongs to turtle {target!r}")
            _set_owner(db, [photo_id], target)
            detail = {"from": current, "to": target}
            return Catalogue.log(db, "move_photo", target, photo_id, detail)

    def remove(self, photo_id: int, reason: str | None = None, user: str | None = None) -> int:
        """Take a photo out of matching and listings; it is kept and can be restored."""
        reason = clean_text(reason, "reason")
        with self.catalogue.transaction(user) as db:
            photo = _photo(db, photo_id)
            if photo["removed_at"]:
                raise ValueError(f"photo {photo_id} was already removed on {photo['removed_at']}")
            _set_removed(db, photo_id, True)
            detail = {"reason": reason} if reason else {}
            return Catalogue.log(db, "remove_photo", photo["individual_id"], photo_id, detail)

    def restore(self, photo_id: int, user: str | None = None) -> int:
        """Bring a removed photo back into matching; the event id."""
        with self.catalogue.transaction(user) as db:
            photo = _photo(db, photo_id)
            if not photo["removed_at"]:
                raise ValueError(f"photo {photo_id} is not removed: nothing to restore")
            _set_removed(db, photo_id, False)
            return Catalogue.log(db, "restore_photo", photo["individual_id"], photo_id, {})

    def edit(self, photo_id: int, user: str | None = None, **changes) -> int:
        """Change a photo's sighting fields (EDITABLE; None clears one); the event id."""
        unknown = sorted(set(changes) - set(EDITABLE))
        if unknown:
            raise ValueError(
                f"cannot edit {', '.join(unknown)}: editable are {', '.join(EDITABLE)}"
            )
        cleaned = {name: _clean(name, value) for name, value in changes.items()}
        with self.catalogue.transaction(user) as db:
            photo = _photo(db, photo_id)
            before = {k: photo[k] for k in cleaned if photo[k] != cleaned[k]}
            after = {k: cleaned[k] for k in before}
            if not after:
                raise ValueError(f"photo {photo_id} already has these values: nothing to change")
            merged = {**photo, **after}
            if (merged["latitude"] is None) != (merged["longitude"] is None):
                raise ValueError("give both latitude and longitude, or clear both")
            _set_fields(db, photo_id, after)
            detail = {"before": before, "after": after}
            return Catalogue.log(db, "edit_photo", photo["individual_id"], photo_id, detail)

    # Undo

    def changes(self, limit: int = 20, user: str | None = None) -> list[Change]:
        """The latest changes undo can still reverse, newest first; by `user` when given."""
        sql = (
            "SELECT id, at, user, action, individual_id, photo_id, detail FROM events e "
            f"WHERE action IN ({','.join('?' * len(UNDOABLE_WITH_ENROLMENT))}) "
            "AND NOT EXISTS (SELECT 1 FROM events u WHERE u.action = 'undo' "
            "AND json_extract(u.detail, '$.undoes') = e.id)"
        )
        args: tuple = UNDOABLE_WITH_ENROLMENT
        if user is not None:
            sql, args = sql + " AND user = ?", (*args, user)
        rows = self.catalogue.read(sql + " ORDER BY id DESC LIMIT ?", (*args, limit))
        return [_change(r) for r in rows]

    def undo(self, event_id: int | None = None, user: str | None = None) -> int:
        """Reverse one change: `event_id`, or else the latest change `user` made (any user's
        when None). Refused, saying why, when the gallery has changed since in a way that
        conflicts. Returns the undo's own event id."""
        if event_id is None:
            latest = self.changes(limit=1, user=user)
            if not latest:
                who = f" by {user!r}" if user else ""
                raise ValueError(f"no change{who} left to undo")
            event_id = latest[0].event_id
        with self.catalogue.transaction(user) as db:
            change = _event(db, event_id)
            if change.action == "undo":
                raise ValueError(f"event {event_id} is an undo: make the change again instead")
            if change.action not in UNDOABLE_WITH_ENROLMENT:
                raise ValueError(f"event {event_id} ({change.action}) cannot be undone")
            done = db.execute(
                "SELECT id FROM events WHERE action = 'undo' AND json_extract(detail, "
                "'$.undoes') = ?",
                (event_id,),
            ).fetchone()
            if done:
                raise ValueError(f"event {event_id} was already undone (by event {done[0]})")
            detail, turtle_id = _REVERSE[change.action](db, change)
            detail = {"undoes": event_id, "action": change.action, **detail}
            return Catalogue.log(db, "undo", turtle_id, change.photo_id, detail)


# Reversing each kind of change: check the state it left is still there, put back the old.


def _undo_rename(db, change: Change) -> tuple[dict, str]:
    old, new = change.detail["from"], change.detail["to"]
    current = db.execute("SELECT id, alias_of FROM individuals WHERE id = ?", (new,)).fetchone()
    if current is None or current[1] is not None:
        raise ValueError(f"turtle {new!r} has been renamed or merged since: undo that change first")
    _check_free(db, old, new)
    _rename(db, new, old)
    return {"from": new, "to": old}, old


def _undo_merge(db, change: Change) -> tuple[dict, str]:
    absorbed = change.detail["merged"]
    row = db.execute("SELECT alias_of FROM individuals WHERE id = ?", (absorbed,)).fetchone()
    if row is None or row[0] is None:
        raise ValueError(f"turtle {absorbed!r} is no longer merged: nothing to undo")
    survivor = _resolve(db, absorbed)
    photos = change.detail["photos"]
    owners = _owners(db, photos)
    moved = sorted(p for p in photos if owners.get(p) != survivor)
    if moved:
        raise ValueError(
            f"photos {moved} of the merge have moved since: move them back to {survivor!r} "
            "or undo those moves first"
        )
    _set_owner(db, photos, absorbed)
    db.execute("UPDATE individuals SET alias_of = NULL WHERE id = ?", (absorbed,))
    return {"unmerged": absorbed, "from": survivor, "photos": photos}, absorbed


def _undo_move(db, change: Change) -> tuple[dict, str]:
    photo_id = change.photo_id
    later = db.execute(
        "SELECT id FROM events e WHERE id > ? AND photo_id = ? AND action = 'move_photo' "
        "AND NOT EXISTS (SELECT 1 FROM events u WHERE u.action = 'undo' "
        "AND json_extract(u.detail, '$.undoes') = e.id)",
        (change.event_id, photo_id),
    ).fetchone()
    if later:
        raise ValueError(f"photo {photo_id} was moved again (event {later[0]}): undo that first")
    current = _photo(db, photo_id)["individual_id"]
    target = _resolve(db, change.detail["from"])
    _set_owner(db, [photo_id], target)
    return {"from": current, "to": target}, target


def _undo_remove(db, change: Change) -> tuple[dict, str | None]:
    photo = _photo(db, change.photo_id)
    if not photo["removed_at"]:
        raise ValueError(f"photo {change.photo_id} is not removed any more: nothing to undo")
    _set_removed(db, change.photo_id, False)
    return {"restored": change.photo_id}, photo["individual_id"]


def _undo_restore_or_enrol(db, change: Change) -> tuple[dict, str | None]:
    photo = _photo(db, change.photo_id)
    if photo["removed_at"]:
        raise ValueError(f"photo {change.photo_id} is already removed: nothing to undo")
    _set_removed(db, change.photo_id, True)
    return {"removed": change.photo_id}, photo["individual_id"]


def _undo_edit(db, change: Change) -> tuple[dict, str | None]:
    photo = _photo(db, change.photo_id)
    after, before = change.detail["after"], change.detail["before"]
    changed = sorted(k for k, v in after.items() if photo[k] != v)
    if changed:
        raise ValueError(
            f"photo {change.photo_id}: {', '.join(changed)} changed again since: undo that first"
        )
    _set_fields(db, change.photo_id, before)
    return {"before": after, "after": before}, photo["individual_id"]


_REVERSE = {
    "rename": _undo_rename,
    "merge": _undo_merge,
    "move_photo": _undo_move,
    "remove_photo": _undo_remove,
    "restore_photo": _undo_restore_or_enrol,
    "enrol_photo": _undo_restore_or_enrol,
    "edit_photo": _undo_edit,
}


# Reads and writes inside a transaction


def _active(db: sqlite3.Connection, name: str) -> str:
    """The stored ID of an individual that is not merged into another, or ValueError."""
    row = db.execute(
        "SELECT id, alias_of FROM individuals WHERE id = ? COLLATE NOCASE", (str(name).strip(),)
    ).fetchone()
    if row is None:
        raise ValueError(f"no turtle {name!r} in the gallery: check the name")
    if row[1] is not None:
        raise ValueError(
            f"turtle {row[0]!r} was merged into {row[1]!r}: use {row[1]!r}, or undo the merge"
        )
    return row[0]


def _resolve(db: sqlite3.Connection, name: str) -> str:
    """An individual's stored ID, following merges to the surviving one."""
    current = _active_or_alias(db, name)
    seen = {current[0]}
    while current[1] is not None:
        current = _active_or_alias(db, current[1])
        if current[0] in seen:
            raise ValueError(f"turtle {name!r}: merges form a loop: check the gallery")
        seen.add(current[0])
    return current[0]


def _active_or_alias(db: sqlite3.Connection, name: str) -> tuple[str, str | None]:
    row = db.execute(
        "SELECT id, alias_of FROM individuals WHERE id = ? COLLATE NOCASE", (str(name).strip(),)
    ).fetchone()
    if row is None:
        raise ValueError(f"no turtle {name!r} in the gallery: check the name")
    return row


def _check_free(db: sqlite3.Connection, name: str, allowed: str) -> None:
    clash = db.execute("SELECT id FROM individuals WHERE id = ? COLLATE NOCASE", (name,)).fetchone()
    if clash and clash[0] != allowed:
        raise ValueError(
            f"turtle ID {name!r} is already taken (by {clash[0]!r}): pick another name, or "
            "merge the two turtles"
        )


def _rename(db: sqlite3.Connection, old: str, new: str) -> None:
    # The ID is the key photos and aliases refer to: check those references at COMMIT, after
    # all three updates, rather than at each (defer_foreign_keys resets at the transaction's
    # end).
    db.execute("PRAGMA defer_foreign_keys = ON")
    db.execute("UPDATE individuals SET id = ? WHERE id = ?", (new, old))
    db.execute("UPDATE photos SET individual_id = ? WHERE individual_id = ?", (new, old))
    db.execute("UPDATE individuals SET alias_of = ? WHERE alias_of = ?", (new, old))


_PHOTO_FIELDS = ("individual_id", "removed_at", *EDITABLE)


def _photo(db: sqlite3.Connection, photo_id: int) -> dict:
    row = db.execute(
        f"SELECT {', '.join(_PHOTO_FIELDS)} FROM photos WHERE id = ?", (int(photo_id),)
    ).fetchone()
    if row is None:
        raise ValueError(f"no photo {photo_id} in the gallery: check the photo id")
    return dict(zip(_PHOTO_FIELDS, row))


def _photo_ids_of(db: sqlite3.Connection, turtle_id: str) -> list[int]:
    rows = db.execute("SELECT id FROM photos WHERE individual_id = ? ORDER BY id", (turtle_id,))
    return [r[0] for r in rows]


def _owners(db: sqlite3.Connection, photo_ids: list[int]) -> dict[int, str]:
    if not photo_ids:
        return {}
    rows = db.execute(
        f"SELECT id, individual_id FROM photos WHERE id IN ({','.join('?' * len(photo_ids))})",
        photo_ids,
    )
    return dict(rows.fetchall())


def _set_owner(db: sqlite3.Connection, photo_ids: list[int], turtle_id: str) -> None:
    db.executemany(
        "UPDATE photos SET individual_id = ? WHERE id = ?", [(turtle_id, p) for p in photo_ids]
    )


def _set_removed(db: sqlite3.Connection, photo_id: int, removed: bool) -> None:
    db.execute(
        "UPDATE photos SET removed_at = ? WHERE id = ?", (now() if removed else None, photo_id)
    )


def _set_fields(db: sqlite3.Connection, photo_id: int, values: dict) -> None:
    assert set(values) <= set(EDITABLE)  # column names come from EDITABLE only
    for name, value in values.items():
        db.execute(f"UPDATE photos SET {name} = ? WHERE id = ?", (value, photo_id))


def _clean(name: str, value):
    if name == "date_taken":
        return normalise_date(value)
    if name in ("site", "observer"):
        return clean_text(value, name)
    if name == "notes":
        return clean_text(value, name, MAX_NOTES)
    if name == "latitude":
        return check_coordinate(value, name, 90)
    if name == "longitude":
        return check_coordinate(value, name, 180)
    if value not in (None, "", *VIEWS):  # view
        raise ValueError(f"view {value!r} is not one of {', '.join(VIEWS)} (or empty)")
    return value or None


def _event(db: sqlite3.Connection, event_id: int) -> Change:
    row = db.execute(
        "SELECT id, at, user, action, individual_id, photo_id, detail FROM events WHERE id = ?",
        (int(event_id),),
    ).fetchone()
    if row is None:
        raise ValueError(f"no event {event_id}: see `python -m turtle_id audit` for the ids")
    return _change(row)


def _change(row: tuple) -> Change:
    return Change(*row[:6], json.loads(row[6] or "{}"))
