"""The gallery's SQLite catalogue, the source of truth: individuals, photos (with their
embeddings) and an event log of every change. WAL mode lets readers run beside one writer.
"""

import getpass
import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS individuals (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    alias_of TEXT REFERENCES individuals (id)  -- set when merged into that individual
);
CREATE UNIQUE INDEX IF NOT EXISTS individuals_id_nocase ON individuals (id COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS photos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL UNIQUE,       -- of the file's bytes: the same photo is one photo
    individual_id TEXT NOT NULL REFERENCES individuals (id),
    file TEXT NOT NULL,                -- stored copy, relative to the gallery folder
    preview TEXT NOT NULL,             -- browser-friendly JPEG copy, relative
    source_name TEXT NOT NULL,         -- file name it was enrolled from
    view TEXT,                         -- top / left / right, NULL when unknown
    date_taken TEXT,
    site TEXT,
    observer TEXT,
    region TEXT,                       -- JSON [x, y, w, h] in stored-photo pixels, NULL = whole
    latitude REAL,                     -- WGS84 degrees, from EXIF GPS or typed
    longitude REAL,
    notes TEXT,
    removed_at TEXT,                   -- set when removed: kept, restorable, never matched
    extra TEXT NOT NULL DEFAULT '{}',  -- JSON of the source's other columns
    embedding BLOB NOT NULL,           -- float32, L2-normalised
    model_version TEXT NOT NULL,       -- encoder that made the embedding
    enrolled_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS photos_individual ON photos (individual_id);
-- model_version sits after the embedding, in a row's overflow pages: without this index,
-- counting or listing one model's photos reads every embedding (5 GB at a million photos).
CREATE INDEX IF NOT EXISTS photos_model ON photos (model_version, id);
CREATE TABLE IF NOT EXISTS keypoints (
    photo_id INTEGER PRIMARY KEY REFERENCES photos (id),
    settings TEXT NOT NULL,            -- KeypointSettings.key that extracted them
    data BLOB NOT NULL                 -- Keypoints.to_bytes()
);
CREATE INDEX IF NOT EXISTS keypoints_settings ON keypoints (settings);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    action TEXT NOT NULL,              -- create_individual, enrol_photo, reembed, ...
    individual_id TEXT,
    photo_id INTEGER,
    detail TEXT NOT NULL DEFAULT '{}',
    user TEXT                          -- who made the change
);
CREATE INDEX IF NOT EXISTS events_action ON events (action);
"""
# Columns added since the first release: galleries made before them gain them on open.
ADDED_COLUMNS = (
    ("individuals", "alias_of", "TEXT REFERENCES individuals (id)"),
    ("photos", "latitude", "REAL"),
    ("photos", "longitude", "REAL"),
    ("photos", "notes", "TEXT"),
    ("photos", "removed_at", "TEXT"),
    ("events", "user", "TEXT"),
)
DATABASE_FILE = "gallery.sqlite"  # in the gallery folder
# Events that only add photos: an index that follows them needs no refresh of its maps.
ENROLMENT_ACTIONS = ("create_individual", "enrol_photo")

GENERATED_ID = re.compile(r"^turtle-(\d+)$")


@dataclass(frozen=True)
class PhotoRow:
    id: int
    sha256: str
    individual_id: str
    file: str
    preview: str
    source_name: str
    view: str | None
    date_taken: str | None
    site: str | None
    observer: str | None
    region: tuple[int, int, int, int] | None
    model_version: str
    latitude: float | None = None
    longitude: float | None = None
    notes: str | None = None
    removed_at: str | None = None  # None while the photo is in use


class PhotoFacts(NamedTuple):
    """What the index needs to know of a photo to filter a search."""

    id: int
    individual_id: str
    view: str | None
    date_taken: str | None
    site: str | None
    removed: bool


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def os_user() -> str:
    """The operating-system user: who made a change when the caller names no one."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        return "unknown"


_writer = threading.local()  # .user: who the current thread's transaction writes for


class Catalogue:
    """Thread-safe access to one gallery database; every write is one transaction."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the app's handler threads, serialised by a lock; other
        # processes on the same gallery are kept consistent by SQLite's own locking.
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        self._migrate()

    def close(self) -> None:
        self._db.close()

    def _migrate(self) -> None:
        with self.transaction():  # two processes opening an old gallery add each column once
            for table, column, kind in ADDED_COLUMNS:
                present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                if column not in present:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    @contextmanager
    def transaction(self, user: str | None = None) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back whole on any exception.

        Args:
            user: who the events written in it are recorded for; None = the OS user.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            _writer.user = user or os_user()
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                _writer.user = None
            self._db.execute("COMMIT")

    def read(self, sql: str, args: tuple = ()) -> list[tuple]:
        """Rows of one read-only query, for modules that own their queries (exports, audit)."""
        return self._query(sql, args)

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # Reads

    def individual_named(self, name: str) -> str | None:
        """The stored ID equal to `name` ignoring case, or None; a merged individual's name
        answers the individual it was merged into."""
        rows = self._query(
            "SELECT id, alias_of FROM individuals WHERE id = ? COLLATE NOCASE", (name,)
        )
        seen = set()
        while rows and rows[0][1] is not None and rows[0][0] not in seen:
            seen.add(rows[0][0])
            rows = self._query("SELECT id, alias_of FROM individuals WHERE id = ?", (rows[0][1],))
        return rows[0][0] if rows else None

    def photo_with_hash(self, sha256: str) -> PhotoRow | None:
        rows = self._query(f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE sha256 = ?", (sha256,))
        return _photo_row(rows[0]) if rows else None

    def photos(
        self,
        ids: list[int] | None = None,
        individual_id: str | None = None,
        include_removed: bool = False,
    ) -> list[PhotoRow]:
        """Photos by id, or one individual's (removed ones only with include_removed), or
        every photo row (removed ones too, with `removed_at` set)."""
        sql, args = f"SELECT {_PHOTO_COLUMNS} FROM photos", ()
        if ids is not None:
            sql += f" WHERE id IN ({','.join('?' * len(ids))})"
            args = tuple(ids)
        elif individual_id is not None:
            sql += " WHERE individual_id = ?"
            sql += "" if include_removed else " AND removed_at IS NULL"
            args = (individual_id,)
        return [_photo_row(r) for r in self._query(sql + " ORDER BY id", args)]

    def facts(self, model_version: str, after_id: int = 0, upto: int | None = None):
        """PhotoFacts of photos `model_version` embedded with after_id < id <= upto."""
        rows = self._query(
            "SELECT id, individual_id, view, date_taken, site, removed_at IS NOT NULL "
            "FROM photos WHERE model_version = ? AND id > ? AND id <= ? ORDER BY id",
            (model_version, after_id, upto if upto is not None else 2**62),
        )
        return [PhotoFacts(*r[:5], bool(r[5])) for r in rows]

    def changes_after(self, event_id: int) -> tuple[int, set[str]]:
        """The latest event id, and the actions of the events after `event_id`."""
        # NOT INDEXED: with the action index SQLite scans every event (about 40 ms at a
        # million, bench/search.py); the rowid range of the few new events is near free.
        rows = self._query(
            "SELECT action, MAX(id) FROM events NOT INDEXED WHERE id > ? GROUP BY action",
            (event_id,),
        )
        latest = max((r[1] for r in rows), default=event_id)
        return latest, {r[0] for r in rows}

    def embeddings(self, model_version: str, after_id: int = 0) -> tuple[np.ndarray, list[tuple]]:
        """Embeddings made by `model_version` of photos with id > after_id.

        Returns:
            embeddings (n, dim) and one (photo id, individual id, view) per row.
        """
        rows = self._query(
            "SELECT id, individual_id, view, embedding FROM photos "
            "WHERE model_version = ? AND id > ? ORDER BY id",
            (model_version, after_id),
        )
        if not rows:
            return np.zeros((0, 0), dtype=np.float32), []
        vectors = np.stack([np.frombuffer(r[3], dtype=np.float32) for r in rows])
        return vectors, [r[:3] for r in rows]

    def _count_all_photos(self) -> int:
        """Every photo row, removed ones too."""
        return self._query("SELECT COUNT(*) FROM photos")[0][0]

    def count_embedded(self, model_version: str, upto: int | None = None) -> int:
        """Photos with an embedding by `model_version` (removed ones too: the index keeps
        them, marked), with id <= upto when given; what a saved index must hold."""
        return self._query(
            "SELECT COUNT(*) FROM photos WHERE model_version = ? AND id <= ?",
            (model_version, upto if upto is not None else 2**63 - 1),
        )[0][0]

    def count_photos(self, model_version: str | None = None) -> int:
        """Photos in use (removed ones not counted)."""
        if model_version is None:
            return self._query("SELECT COUNT(*) FROM photos WHERE removed_at IS NULL")[0][0]
        return self._query(
            "SELECT COUNT(*) FROM photos WHERE model_version = ? AND removed_at IS NULL",
            (model_version,),
        )[0][0]

    def stale_photos(self, model_version: str) -> list[PhotoRow]:
        """Photos whose embedding another model made: they must be re-embedded before use."""
        # Every open asks; two index counts answer "none" without reading the table (a
        # model_version != ? scan reads every row: seconds, or half a minute cold, at 1M).
        if self.count_embedded(model_version) == self._count_all_photos():
            return []
        rows = self._query(
            f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE model_version != ? ORDER BY id",
            (model_version,),
        )
        return [_photo_row(r) for r in rows]

    def keypoints(self, photo_ids: list[int], settings: str) -> dict[int, bytes]:
        """Stored keypoints of these photos, extracted with `settings`, by photo id."""
        if not photo_ids:
            return {}
        rows = self._query(
            f"SELECT photo_id, data FROM keypoints WHERE settings = ? "
            f"AND photo_id IN ({','.join('?' * len(photo_ids))})",
            (settings, *photo_ids),
        )
        return dict(rows)

    def photos_without_keypoints(self, settings: str) -> list[PhotoRow]:
        # One keypoints row per photo (photo_id is its key): equal counts mean none missing.
        extracted = self._query("SELECT COUNT(*) FROM keypoints WHERE settings = ?", (settings,))[
            0
        ][0]
        if extracted == self._count_all_photos():
            return []
        rows = self._query(
            f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE id NOT IN "
            "(SELECT photo_id FROM keypoints WHERE settings = ?) ORDER BY id",
            (settings,),
        )
        return [_photo_row(r) for r in rows]

    def individuals(self) -> list[tuple[str, int, str]]:
        """(individual id, photo count, created at) of every individual, by ID; merged ones
        (aliases) are left out, removed photos are not counted."""
        return self._query(
            "SELECT i.id, COUNT(p.id), i.created_at FROM individuals i "
            "LEFT JOIN photos p ON p.individual_id = i.id AND p.removed_at IS NULL "
            "WHERE i.alias_of IS NULL GROUP BY i.id ORDER BY i.id"
        )

    def events(self, limit: int = 100) -> list[tuple]:
        return self._query(
            "SELECT id, at, action, individual_id, photo_id, detail FROM events "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )

    # Writes: call inside `transaction()`.

    @staticmethod
    def next_generated_id(db: sqlite3.Connection) -> str:
        """`turtle-0001`, `turtle-0002`, ...: one past the highest generated ID so far."""
        numbers = [
            int(m.group(1))
            for (name,) in db.execute("SELECT id FROM individuals WHERE id LIKE 'turtle-%'")
            if (m := GENERATED_ID.match(name))
        ]
        return f"turtle-{max(numbers, default=0) + 1:04d}"

    @staticmethod
    def add_individual(db: sqlite3.Connection, individual_id: str, detail: dict) -> None:
        at = now()
        db.execute("INSERT INTO individuals (id, created_at) VALUES (?, ?)", (individual_id, at))
        _log(db, at, "create_individual", individual_id, None, detail)

    @staticmethod
    def add_photo(db: sqlite3.Connection, fields: dict, embedding: np.ndarray, detail: dict) -> int:
        at = now()
        cursor = db.execute(
            "INSERT INTO photos (sha256, individual_id, file, preview, source_name, view, "
            "date_taken, site, observer, region, extra, embedding, model_version, enrolled_at, "
            "latitude, longitude, notes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                fields["sha256"],
                fields["individual_id"],
                fields["file"],
                fields["preview"],
                fields["source_name"],
                fields.get("view"),
                fields.get("date_taken"),
                fields.get("site"),
                fields.get("observer"),
                json.dumps(list(fields["region"])) if fields.get("region") else None,
                json.dumps(fields.get("extra") or {}),
                np.asarray(embedding, dtype=np.float32).tobytes(),
                fields["model_version"],
                at,
                fields.get("latitude"),
                fields.get("longitude"),
                fields.get("notes"),
            ),
        )
        photo_id = cursor.lastrowid
        _log(db, at, "enrol_photo", fields["individual_id"], photo_id, detail)
        return photo_id

    @staticmethod
    def set_keypoints(db: sqlite3.Connection, photo_id: int, settings: str, data: bytes) -> None:
        db.execute(
            "INSERT OR REPLACE INTO keypoints (photo_id, settings, data) VALUES (?, ?, ?)",
            (photo_id, settings, data),
        )

    @staticmethod
    def set_embedding(
        db: sqlite3.Connection, photo_id: int, embedding: np.ndarray, model_version: str
    ) -> None:
        db.execute(
            "UPDATE photos SET embedding = ?, model_version = ? WHERE id = ?",
            (np.asarray(embedding, dtype=np.float32).tobytes(), model_version, photo_id),
        )
        _log(db, now(), "reembed", None, photo_id, {"model_version": model_version})

    @staticmethod
    def log(
        db: sqlite3.Connection, action: str, individual_id: str | None, photo_id, detail: dict
    ) -> int:
        """Record one change in the event log, for the transaction's user; its event id."""
        return _log(db, now(), action, individual_id, photo_id, detail)


_PHOTO_COLUMNS = (
    "id, sha256, individual_id, file, preview, source_name, view, date_taken, site, observer, "
    "region, model_version, latitude, longitude, notes, removed_at"
)


def _photo_row(row: tuple) -> PhotoRow:
    values = list(row)
    values[10] = tuple(json.loads(values[10])) if values[10] else None
    return PhotoRow(*values)


def _log(
    db: sqlite3.Connection, at: str, action: str, individual_id, photo_id, detail: dict
) -> int:
    # The user is the transaction's (Catalogue.transaction(user=...)), so no write helper can
    # forget to record who made a change.
    user = getattr(_writer, "user", None) or os_user()
    cursor = db.execute(
        "INSERT INTO events (at, action, individual_id, photo_id, detail, user) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (at, action, individual_id, photo_id, json.dumps(detail), user),
    )
    return cursor.lastrowid
