"""`check`: is a gallery's record whole? The database passes SQLite's integrity and foreign-key
checks, every photo file exists and matches its SHA-256, every preview exists, and the index
the gallery would search agrees with the catalogue.

Problems (the check fails) are what loses records or makes identify answer wrongly. Notes are
fine but worth knowing: orphan files (written by an enrolment that was killed before it
committed; `repair` deletes them), and a saved index that is missing, behind or stale (the
gallery rebuilds or catches it up on its next open; `repair` does it now).
"""

import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from turtle_id.catalogue import DATABASE_FILE, Catalogue, PhotoRow
from turtle_id.index import IndexMismatch, PhotoIndex
from turtle_id.photo import PhotoError, load_photo
from turtle_id.photostore import PhotoStore, sha256_of
from turtle_id.settings import IndexSettings

INDEX_FILE = Path("index") / "photos.hnsw"  # as Gallery.index_path, relative to the gallery
SELF_SEARCHES = 20  # photos searched for by their own embedding
STALE_TMP_SECONDS = 600  # an index temporary this old is left over, not being written


@dataclass
class CheckReport:
    root: Path
    problems: list[str] = field(default_factory=list)  # each one fails the check
    notes: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # relative paths no photo row names
    repaired: list[str] = field(default_factory=list)
    photos: int = 0  # photo rows checked, removed ones included

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        lines = [f"problem: {p}" for p in self.problems] + [f"note: {n}" for n in self.notes]
        lines += [f"repaired: {r}" for r in self.repaired]
        verdict = "ok" if self.ok else f"FAILED, {len(self.problems)} problems"
        lines.append(
            f"check {self.root}: {verdict} ({self.photos} photos, {len(self.orphans)} orphan "
            f"files, {len(self.notes)} notes)"
        )
        return lines


def check_gallery(
    root: Path,
    model_version: str,
    dim: int,
    index_settings: IndexSettings | None = None,
    repair: bool = False,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> CheckReport:
    """Check the gallery at `root` against the encoder that searches it (model_version, dim).

    Args:
        repair: delete orphan files, remake missing previews from their photos, and rebuild
            and save the index when it is missing, stale or disagrees.
        progress: wraps the photo rows while their files are hashed (tqdm-like).
    """
    root = Path(root)
    report = CheckReport(root)
    database = root / DATABASE_FILE
    if not database.is_file():
        report.problems.append(f"no {DATABASE_FILE} in {root}: is this the gallery folder?")
        return report
    catalogue = _open(database, report)
    if catalogue is None:
        return report
    try:
        rows = catalogue.photos()
        report.photos = len(rows)
        _check_files(root, rows, report, repair, progress)
        _check_orphans(root, catalogue, report, repair)
        _check_index(root, catalogue, model_version, dim, index_settings, report, repair)
    finally:
        catalogue.close()
    return report


def _open(database: Path, report: CheckReport) -> Catalogue | None:
    """The catalogue, once SQLite's own checks pass; None (and the problem) when they fail."""
    try:
        catalogue = Catalogue(database)
        verdicts = [r[0] for r in catalogue.read("PRAGMA integrity_check")]
        dangling = catalogue.read("PRAGMA foreign_key_check")
    except sqlite3.DatabaseError as error:  # a damaged file, or not a database at all
        report.problems.append(
            f"{database} cannot be read as a gallery database ({error}): restore it from a "
            "backup (python -m turtle_id restore BACKUP --gallery DIR)"
        )
        return None
    if verdicts != ["ok"]:
        report.problems.append(
            f"{database} fails SQLite's integrity check ({'; '.join(verdicts[:5])}): restore "
            "it from a backup"
        )
        catalogue.close()
        return None
    for table, rowid, parent, _ in dangling:
        report.problems.append(f"{table} row {rowid} refers to a missing {parent} row")
    return catalogue


def _check_files(
    root: Path, rows: list[PhotoRow], report: CheckReport, repair: bool, progress
) -> None:
    store = PhotoStore(root)
    for row in progress(rows) if progress else rows:
        name = f"photo {row.id} ({row.source_name} of {row.individual_id})"
        original = root / row.file
        if not original.is_file():
            report.problems.append(
                f"{name}: file {row.file} is missing: restore the gallery from a backup"
            )
            continue
        data = original.read_bytes()
        if sha256_of(data) != row.sha256:
            report.problems.append(
                f"{name}: file {row.file} does not match its SHA-256 (damaged): restore the "
                "gallery from a backup"
            )
            continue
        if (root / row.preview).is_file():
            continue
        if not repair:
            report.problems.append(
                f"{name}: preview {row.preview} is missing: `check --repair` remakes it"
            )
            continue
        try:
            picture = load_photo(data, name).image
        except PhotoError as error:
            report.problems.append(f"{name}: preview missing and the photo unreadable: {error}")
            continue
        store.put(data, row.sha256, Path(row.file).suffix, picture)
        report.repaired.append(f"{name}: preview {row.preview} remade")


def _check_orphans(root: Path, catalogue: Catalogue, report: CheckReport, repair: bool) -> None:
    report.orphans = _orphans(root, catalogue)
    if not report.orphans:
        return
    if not repair:
        report.notes.append(
            f"{len(report.orphans)} orphan files no photo refers to (left by an enrolment "
            f"that was interrupted before it committed), e.g. {report.orphans[0]}: "
            "`check --repair` deletes them"
        )
        return
    # Photo files are written only inside an enrolment's write transaction: holding the
    # write lock, no enrolment is half-way, so every orphan listed now is left over.
    with catalogue.transaction():
        orphans = _orphans(root, catalogue)
        for name in orphans:
            (root / name).unlink(missing_ok=True)
    report.repaired.append(f"deleted {len(orphans)} orphan files")
    report.orphans = orphans


def _orphans(root: Path, catalogue: Catalogue) -> list[str]:
    named = {n for pair in catalogue.read("SELECT file, preview FROM photos") for n in pair}
    found = [
        str(p.relative_to(root).as_posix())
        for folder in ("photos", "previews")
        for p in (root / folder).rglob("*")
        if p.is_file()
    ]
    orphans = [n for n in found if n not in named]
    cutoff = time.time() - STALE_TMP_SECONDS
    orphans += [
        str(p.relative_to(root).as_posix())
        for p in (root / INDEX_FILE.parent).glob("*.tmp")
        if p.stat().st_mtime < cutoff  # a younger one may be a save in progress
    ]
    return sorted(orphans)


def _check_index(
    root: Path,
    catalogue: Catalogue,
    model_version: str,
    dim: int,
    settings: IndexSettings | None,
    report: CheckReport,
    repair: bool,
) -> None:
    settings = settings or IndexSettings()
    path = root / INDEX_FILE
    vectors, rows = catalogue.embeddings(model_version)
    ids = [r[0] for r in rows]
    removed = {f.id for f in catalogue.facts(model_version) if f.removed}
    stale = catalogue.count_photos() - catalogue.count_photos(model_version)
    if stale > 0:
        report.notes.append(
            f"{stale} photos were embedded by another encoder: the gallery re-embeds them with "
            f"{model_version} on its next open"
        )
    if len(rows) and vectors.shape[1] != dim:
        report.problems.append(
            f"embeddings are {vectors.shape[1]}-d, the encoder {model_version} makes {dim}-d"
        )
        return
    index, saved_ok = _saved_index(path, dim, model_version, settings, ids, report)
    if index is None:
        index = _build(vectors, ids, dim, model_version, settings)
    else:
        # As the gallery does: photos enrolled after the last save are added on open.
        newer = [i for i, photo_id in enumerate(ids) if photo_id > index.max_label]
        if newer:
            report.notes.append(
                f"saved index is {len(newer)} photos behind the catalogue: the gallery adds them "
                "on its next open"
            )
            index.add(vectors[newer], np.array([ids[i] for i in newer]))
            saved_ok = False
    index.set_removed(removed)
    disagreement = _disagreement(index, vectors, ids, removed)
    if disagreement:
        report.problems.append(
            f"the index disagrees with the catalogue ({disagreement}): `check --repair` rebuilds it"
        )
        if repair:
            index = _build(vectors, ids, dim, model_version, settings)
            index.set_removed(removed)
            if _disagreement(index, vectors, ids, removed) is None:
                report.problems.pop()
                saved_ok = False
    if repair and not saved_ok:
        index.save(path)
        report.repaired.append(f"index saved: {len(index)} photos, {len(removed)} removed")


def _saved_index(path, dim, model_version, settings, ids, report) -> tuple[PhotoIndex | None, bool]:
    """The saved index as the gallery would accept it, else None (with a note saying why)."""
    if not path.exists() and not path.with_name(path.name + ".json").exists():
        if ids:
            report.notes.append(
                f"no saved index ({INDEX_FILE}): the gallery builds it on its next open"
            )
        return None, not ids
    try:
        index = PhotoIndex.load(path, dim, model_version, settings)
        indexed = sum(1 for i in ids if i <= index.max_label)
        if indexed != len(index):
            raise IndexMismatch(f"index holds {len(index)} photos, catalogue {indexed}")
    except IndexMismatch as reason:
        report.notes.append(
            f"saved index {INDEX_FILE} is stale or damaged ({reason}): the gallery rebuilds it "
            "from the catalogue on its next open; `check --repair` rebuilds it now"
        )
        return None, False
    return index, True


def _build(vectors, ids, dim, model_version, settings) -> PhotoIndex:
    index = PhotoIndex(dim, model_version, settings)
    if ids:
        index.add(vectors, np.array(ids))
    return index


def _disagreement(index: PhotoIndex, vectors, ids: list[int], removed: set[int]) -> str | None:
    """How the index differs from the catalogue, or None when it agrees: the same photos,
    a sample of them each found by its own embedding, and removed ones never found."""
    held = set(index.labels())
    if held != set(ids):
        extra, lost = sorted(held - set(ids)), sorted(set(ids) - held)
        return f"{len(extra)} photos only in the index {extra[:5]}, {len(lost)} missing {lost[:5]}"
    active = [i for i, photo_id in enumerate(ids) if photo_id not in removed]
    step = max(1, len(active) // SELF_SEARCHES)
    for i in active[::step][:SELF_SEARCHES]:
        labels, _ = index.search(vectors[i], min(5, index.searchable))
        if ids[i] not in labels.tolist():
            return f"photo {ids[i]} is not found by its own embedding"
    for i in [i for i, photo_id in enumerate(ids) if photo_id in removed][:SELF_SEARCHES]:
        labels, _ = index.search(vectors[i], min(5, index.searchable))
        if ids[i] in labels.tolist():
            return f"photo {ids[i]} is removed but still found"
    return None
