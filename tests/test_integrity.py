import shutil
import sqlite3

import numpy as np
import pytest

from tests.synthetic import write_individuals
from turtle_id.care import Care
from turtle_id.catalogue import Catalogue
from turtle_id.datasets import PhotoRecord
from turtle_id.gallery import Gallery
from turtle_id.index import PhotoIndex
from turtle_id.integrity import check_gallery


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory, encoder):
    """A gallery of 3 turtles x 2 photos (ids 1..6), its index saved."""
    photos = write_individuals(tmp_path_factory.mktemp("photos"), n_individuals=3, shots=2)
    root = tmp_path_factory.mktemp("enrolled") / "g"
    g = Gallery(root, encoder)
    g.enrol([PhotoRecord(p, ind) for ind, paths in photos.items() for p in paths])
    g.close()
    return root


@pytest.fixture
def root(tmp_path, enrolled):
    shutil.copytree(enrolled, tmp_path / "g")
    return tmp_path / "g"


def _check(root, encoder, repair=False):
    return check_gallery(root, encoder.model_version, encoder.info.embedding_size, repair=repair)


def _file_of(root, photo_id, column="file"):
    db = sqlite3.connect(root / "gallery.sqlite")
    (name,) = db.execute(f"SELECT {column} FROM photos WHERE id = ?", (photo_id,)).fetchone()
    db.close()
    return root / name


def test_a_whole_gallery_passes_with_nothing_to_note(root, encoder):
    report = _check(root, encoder)
    assert (report.ok, report.problems, report.notes, report.photos) == (True, [], [], 6)
    assert report.lines()[-1].endswith("ok (6 photos, 0 orphan files, 0 notes)")


def test_a_missing_or_changed_photo_file_fails_the_check(root, encoder):
    _file_of(root, 2).unlink()
    _file_of(root, 5).write_bytes(b"not the photo any more")
    report = _check(root, encoder, repair=True)  # repair cannot bring a photo back
    assert not report.ok
    assert len(report.problems) == 2
    assert "photo 2 (1.jpg of ind00): file photos/" in report.problems[0]
    assert report.problems[0].endswith("is missing: restore the gallery from a backup")
    assert "photo 5 (0.jpg of ind02)" in report.problems[1]
    assert "does not match its SHA-256" in report.problems[1]


def test_a_missing_preview_fails_and_repair_remakes_it(root, encoder):
    preview = _file_of(root, 3, "preview")
    preview.unlink()
    report = _check(root, encoder)
    assert report.problems == [
        f"photo 3 (0.jpg of ind01): preview {preview.relative_to(root)} is missing: "
        "`check --repair` remakes it"
    ]
    assert _check(root, encoder, repair=True).ok and preview.is_file()
    assert _check(root, encoder).ok


def test_orphan_files_are_noted_not_failed_and_repair_deletes_them(root, encoder):
    orphan = root / "photos" / "ff" / ("f" * 64 + ".jpg")
    orphan.parent.mkdir()
    orphan.write_bytes(b"written before a killed enrolment committed")
    leftover = root / "previews" / "ab" / "x.jpg.tmp"
    leftover.parent.mkdir(exist_ok=True)
    leftover.write_bytes(b"half")
    report = _check(root, encoder)
    assert report.ok
    assert report.orphans == [f"photos/ff/{'f' * 64}.jpg", "previews/ab/x.jpg.tmp"]
    assert "2 orphan files no photo refers to" in report.notes[0]
    repaired = _check(root, encoder, repair=True)
    assert repaired.repaired == ["deleted 2 orphan files"]
    assert not orphan.exists() and not leftover.exists()
    assert _check(root, encoder).notes == []


def test_a_removed_photo_keeps_its_file_and_is_no_orphan(root, encoder):
    catalogue = Catalogue(root / "gallery.sqlite")
    Care(catalogue).remove(4)
    catalogue.close()
    report = _check(root, encoder)
    assert (report.ok, report.orphans) == (True, [])


@pytest.mark.parametrize("damage", ["garbage", "missing", "behind"])
def test_a_damaged_missing_or_behind_index_is_noted_and_repair_saves_it(root, encoder, damage):
    index_file = root / "index" / "photos.hnsw"
    if damage == "garbage":
        index_file.write_bytes(b"garbage")
    elif damage == "missing":
        shutil.rmtree(root / "index")
    else:  # photo 6 enrolled by a process killed after its commit, before the index save
        catalogue = Catalogue(root / "gallery.sqlite")
        vectors, _ = catalogue.embeddings(encoder.model_version)
        catalogue.close()
        behind = PhotoIndex(encoder.info.embedding_size, encoder.model_version)
        behind.add(vectors[:5], np.arange(1, 6))
        behind.save(index_file)
    report = _check(root, encoder)
    assert report.ok, report.problems
    expected = {"garbage": "is stale or damaged", "missing": "no saved index", "behind": "behind"}
    assert len(report.notes) == 1 and expected[damage] in report.notes[0]
    _check(root, encoder, repair=True)
    assert _check(root, encoder).notes == []


def test_an_index_the_gallery_would_trust_but_that_finds_wrong_photos_fails(root, encoder):
    # Right photo ids and count, wrong vectors: the gallery's own load checks accept it.
    dim = encoder.info.embedding_size
    wrong = PhotoIndex(dim, encoder.model_version)
    vectors = np.random.default_rng(0).normal(size=(6, dim)).astype(np.float32)
    wrong.add(vectors, np.arange(1, 7))
    wrong.save(root / "index" / "photos.hnsw")
    report = _check(root, encoder)
    assert not report.ok
    assert report.problems == [
        "the index disagrees with the catalogue (photo 1 is not found by its own embedding): "
        "`check --repair` rebuilds it"
    ]
    assert _check(root, encoder, repair=True).ok
    assert _check(root, encoder).ok


def test_a_database_that_is_not_one_fails_with_how_to_restore(root, encoder):
    for extra in ("-wal", "-shm"):
        (root / f"gallery.sqlite{extra}").unlink(missing_ok=True)
    (root / "gallery.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x13" * 4000)
    report = _check(root, encoder)
    assert not report.ok and "restore" in report.problems[0]
    assert "no gallery.sqlite" in _check(root.parent / "nowhere", encoder).problems[0]


OLD_SCHEMA = """
CREATE TABLE individuals (id TEXT PRIMARY KEY, created_at TEXT NOT NULL);
CREATE TABLE photos (id INTEGER PRIMARY KEY AUTOINCREMENT, sha256 TEXT NOT NULL UNIQUE,
    individual_id TEXT NOT NULL REFERENCES individuals (id), file TEXT NOT NULL,
    preview TEXT NOT NULL, source_name TEXT NOT NULL, view TEXT, date_taken TEXT, site TEXT,
    observer TEXT, region TEXT, extra TEXT NOT NULL DEFAULT '{}', embedding BLOB NOT NULL,
    model_version TEXT NOT NULL, enrolled_at TEXT NOT NULL);
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
    action TEXT NOT NULL, individual_id TEXT, photo_id INTEGER, detail TEXT NOT NULL DEFAULT '{}');
INSERT INTO individuals VALUES ('old-1', '2020-01-01T00:00:00+00:00');
INSERT INTO events (at, action, individual_id) VALUES ('2020-01-01', 'create_individual', 'old-1');
"""


def test_a_gallery_from_before_sightings_gains_the_new_columns_on_open(tmp_path, encoder):
    db = sqlite3.connect(tmp_path / "gallery.sqlite")
    db.executescript(OLD_SCHEMA)
    db.close()
    catalogue = Catalogue(tmp_path / "gallery.sqlite")
    Catalogue(tmp_path / "gallery.sqlite").close()  # a second open finds them there
    columns = {
        t: {r[1] for r in catalogue.read(f"PRAGMA table_info({t})")}
        for t in ("individuals", "photos", "events")
    }
    assert {"alias_of"} <= columns["individuals"]
    assert {"latitude", "longitude", "notes", "removed_at"} <= columns["photos"]
    assert "user" in columns["events"]
    assert catalogue.read("SELECT id, user FROM events") == [(1, None)]
    assert catalogue.individuals() == [("old-1", 0, "2020-01-01T00:00:00+00:00")]
    catalogue.close()
    assert _check(tmp_path, encoder).ok
