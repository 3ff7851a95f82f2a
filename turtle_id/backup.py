"""Backup of a whole gallery into one zip archive, and its restore.

The archive holds a snapshot of the database made with SQLite's online backup API (consistent
while the app or another process writes), the photo and preview files that snapshot refers to
(files are content-addressed and never change, so every one the snapshot names is complete),
`calibration.json` when the gallery has one, and `manifest.json` with the SHA-256 of each. The
index is not saved: it is rebuilt from the database on the first open after a restore.

Restore checks every file against the manifest and the database's integrity before anything
is put in place, and refuses a damaged archive or a non-empty target without `force`.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from turtle_id.catalogue import DATABASE_FILE, now
from turtle_id.gallery import CALIBRATION_FILE

MANIFEST = "manifest.json"
FORMAT = "turtle-id-backup/1"
TABLES = ("individuals", "photos", "keypoints", "events")  # counted in the manifest
_TOP_LEVEL = {DATABASE_FILE, CALIBRATION_FILE, "photos", "previews"}
# What a damaged or truncated zip raises while it is read.
_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, struct.error, NotImplementedError)


@dataclass
class BackupSummary:
    archive: Path
    files: int  # files in the archive, the database and manifest included
    counts: dict[str, int]  # rows per table in the snapshot
    missing: list[str] = field(default_factory=list)  # files the database names but lacks

    def line(self) -> str:
        line = (
            f"backup {self.archive}: {self.counts['photos']} photos of "
            f"{self.counts['individuals']} individuals, {self.counts['events']} events, "
            f"{self.files} files"
        )
        if self.missing:
            line += f"; {len(self.missing)} photo files missing from the gallery (run check)"
        return line


def backup(root: Path, archive: Path) -> BackupSummary:
    """Write the gallery at `root` into the zip `archive` (replaced atomically)."""
    root, archive = Path(root), Path(archive)
    database = root / DATABASE_FILE
    if not database.is_file():
        raise ValueError(f"{root}: no {DATABASE_FILE}: give the gallery folder with --gallery")
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=archive.parent, prefix=".backup-") as scratch:
        snapshot = Path(scratch) / DATABASE_FILE
        counts, files = _snapshot(database, snapshot)
        partial = Path(scratch) / "archive.zip"
        hashes, missing = {}, []
        with zipfile.ZipFile(partial, "w") as zf:
            hashes[DATABASE_FILE] = _add(zf, DATABASE_FILE, snapshot, zipfile.ZIP_DEFLATED)
            if (root / CALIBRATION_FILE).is_file():
                hashes[CALIBRATION_FILE] = _add(zf, CALIBRATION_FILE, root / CALIBRATION_FILE)
            for name in files:
                if (root / name).is_file():
                    # JPEG and PNG are compressed already: stored, not deflated again.
                    hashes[name] = _add(zf, name, root / name, zipfile.ZIP_STORED)
                else:
                    missing.append(name)
            manifest = {
                "format": FORMAT,
                "created_at": now(),
                "gallery": str(root.resolve()),
                "counts": counts,
                "files": hashes,
                "missing": missing,
            }
            zf.writestr(MANIFEST, json.dumps(manifest, indent=1), zipfile.ZIP_DEFLATED)
        os.replace(partial, archive)
    return BackupSummary(archive, len(hashes) + 1, counts, missing)


@dataclass
class RestoreSummary:
    root: Path
    files: int
    counts: dict[str, int]

    def line(self) -> str:
        return (
            f"restored {self.root}: {self.counts['photos']} photos of "
            f"{self.counts['individuals']} individuals, {self.counts['events']} events, "
            f"{self.files} files, every one matching the manifest"
        )


def restore(archive: Path, root: Path, force: bool = False) -> RestoreSummary:
    """Restore a backup into `root`, which must be empty or absent unless `force` (then its
    gallery is replaced: stop the app on it first). Nothing is changed when the archive is
    damaged."""
    archive, root = Path(archive), Path(root)
    if root.exists() and any(root.iterdir()) and not force:
        raise ValueError(
            f"{root} is not empty: restore into a new folder, or add --force to replace the "
            "gallery there"
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.restoring-"))
    try:
        manifest = _unpack(archive, staging)
        counts = _check_database(staging / DATABASE_FILE, manifest["counts"], archive)
        _swap_in(staging, root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return RestoreSummary(root, len(manifest["files"]) + 1, counts)


def _snapshot(database: Path, snapshot: Path) -> tuple[dict[str, int], list[str]]:
    """Copy the live database to `snapshot`; its row counts and the files it refers to."""
    source = sqlite3.connect(database, timeout=30)
    target = sqlite3.connect(snapshot)
    try:
        # pages=-1 (the default) copies every page in one step under one read transaction:
        # a consistent snapshot even while other connections write.
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file in the archive
        counts = {t: target.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
        rows = target.execute("SELECT file, preview FROM photos ORDER BY id").fetchall()
    finally:
        source.close()
        target.close()
    files = sorted({name for pair in rows for name in pair})
    return counts, files


def _add(zf: zipfile.ZipFile, name: str, path: Path, compression=zipfile.ZIP_DEFLATED) -> str:
    data = path.read_bytes()
    zf.writestr(name, data, compression)
    return hashlib.sha256(data).hexdigest()


def _unpack(archive: Path, staging: Path) -> dict:
    """Every file of the archive into `staging`, each checked against the manifest."""
    damaged = f"{archive} is damaged"
    try:
        with zipfile.ZipFile(archive) as zf:
            try:
                manifest = json.loads(zf.read(MANIFEST))
            except KeyError:
                raise ValueError(f"{archive} has no {MANIFEST}: not a Turtle ID backup") from None
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ValueError(f"{archive}: manifest is not {FORMAT}: not a Turtle ID backup")
            listed = manifest.get("files")
            if not isinstance(listed, dict):
                raise ValueError(f"{damaged}: its manifest lists no files: use another backup")
            present = set(zf.namelist()) - {MANIFEST}
            if present != set(listed) or DATABASE_FILE not in listed:
                extra, lost = sorted(present - set(listed)), sorted(set(listed) - present)
                raise ValueError(
                    f"{damaged}: files not in its manifest {extra[:3]}, files of the manifest "
                    f"missing {lost[:3]}: use another backup"
                )
            for name, expected in listed.items():
                target = staging / _safe(name, archive)
                data = zf.read(name)
                if hashlib.sha256(data).hexdigest() != expected:
                    raise ValueError(
                        f"{damaged}: {name} does not match its SHA-256 in the manifest"
                    )
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
    except _DAMAGE as error:
        raise ValueError(f"{damaged} ({error}): use another backup, or copy it again") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{damaged}: its manifest is not JSON ({error})") from None
    return manifest


def _safe(name: str, archive: Path) -> PurePosixPath:
    """A member name that stays inside the gallery folder, or ValueError."""
    path = PurePosixPath(name)
    if (
        path.is_absolute()
        or ".." in path.parts
        or not path.parts
        or path.parts[0] not in _TOP_LEVEL
    ):
        raise ValueError(f"{archive}: member {name!r} is not a gallery file: refusing the archive")
    return path


def _check_database(database: Path, expected: dict, archive: Path) -> dict[str, int]:
    db = sqlite3.connect(database)
    try:
        verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise ValueError(f"{archive}: the database fails SQLite's integrity check: {verdict}")
        counts = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
    except sqlite3.DatabaseError as error:
        raise ValueError(f"{archive}: the database is unreadable ({error})") from None
    finally:
        db.close()
    if counts != expected:
        raise ValueError(f"{archive}: the database holds {counts}, its manifest says {expected}")
    return counts


def _swap_in(staging: Path, root: Path) -> None:
    """Put the restored folder at `root`, moving a replaced gallery aside until it is in."""
    if not root.exists():
        os.rename(staging, root)
        return
    old = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.replaced-"))
    os.rename(root, old / "gallery")
    try:
        os.rename(staging, root)
    except BaseException:
        os.rename(old / "gallery", root)
        raise
    shutil.rmtree(old, ignore_errors=True)
