import hashlib
import json
import sqlite3
import threading
import zipfile

import pytest

from tests.synthetic import write_individuals
from turtle_id.backup import MANIFEST, backup, restore
from turtle_id.care import Care
from turtle_id.datasets import PhotoRecord
from turtle_id.gallery import Gallery
from turtle_id.settings import ASSETS

TABLES = ("individuals", "photos", "keypoints", "events")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return write_individuals(tmp_path_factory.mktemp("photos"), n_individuals=3, shots=2)


@pytest.fixture
def gallery(tmp_path, photos, encoder):
    g = Gallery(tmp_path / "g", encoder)
    g.enrol([PhotoRecord(p, ind, site="Laganas") for ind, paths in photos.items() for p in paths])
    Care(g.catalogue).remove(2, reason="blurred")
    Care(g.catalogue).rename("ind01", "Shelly")
    # A calibration of another encoder: backed up and restored, and ignored by this gallery.
    fitted = json.loads((ASSETS / "calibration.json").read_text()) | {"model_version": "other"}
    (g.root / "calibration.json").write_text(json.dumps(fitted))
    yield g
    g.close()


def _contents(root):
    """Rows of every table and the SHA-256 of every file a restore must bring back."""
    db = sqlite3.connect(root / "gallery.sqlite")
    rows = {t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in TABLES}
    db.close()
    files = {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted([*root.glob("photos/*/*"), *root.glob("previews/*/*")])
    }
    files["calibration.json"] = hashlib.sha256((root / "calibration.json").read_bytes()).hexdigest()
    return rows, files


def test_a_backup_restored_into_a_fresh_folder_has_the_same_rows_and_files(
    tmp_path, gallery, encoder, photos
):
    archive = tmp_path / "backups" / "g.zip"
    summary = backup(gallery.root, archive)
    assert summary.counts == {"individuals": 3, "photos": 6, "keypoints": 6, "events": 11}
    assert summary.files == 6 + 6 + 3  # photos, previews, database + calibration + manifest
    restored = restore(archive, tmp_path / "fresh")
    assert restored.counts == summary.counts
    rows, files = _contents(tmp_path / "fresh")
    assert (rows, files) == _contents(gallery.root)
    assert len(files) == 13
    assert not (tmp_path / "fresh" / "index").exists()  # a cache: rebuilt on first open
    again = Gallery(tmp_path / "fresh", encoder)
    assert again.identify(photos["ind01"][1]).matches[0].turtle_id == "Shelly"
    assert len(again) == 5  # photo 2 is still removed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backups", "fresh", "g"]  # no leftovers


def test_a_backup_made_while_another_thread_registers_is_consistent(tmp_path, gallery, encoder):
    more = write_individuals(tmp_path / "more", n_individuals=6, shots=1, first_seed=40)
    writer = Gallery(gallery.root, encoder)
    done = threading.Event()

    def register():
        for paths in more.values():
            writer.register(paths[0], paths[0].name, confirmed=True)
        done.set()

    thread = threading.Thread(target=register)
    thread.start()
    archives = []
    while not done.is_set() or not archives:
        archives.append(backup(gallery.root, tmp_path / f"b{len(archives)}.zip"))
    thread.join()
    for i, summary in enumerate(archives):
        # Each snapshot holds whole registrations only: one photo, keypoints, two events each.
        c = summary.counts
        assert c["photos"] == c["keypoints"] and c["events"] == 11 + 2 * (c["photos"] - 6)
        assert not summary.missing
        restore(summary.archive, tmp_path / f"r{i}")
    print(
        f"backups during registration: {len(archives)}, photos in them "
        f"{[s.counts['photos'] for s in archives]}"
    )


def _rewrite(archive, target, change):
    """Copy the zip, passing each member's bytes through change(name, data)."""
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            data = change(info.filename, src.read(info.filename))
            if data is not None:
                dst.writestr(info, data)
    return target


def test_restore_refuses_a_damaged_archive_and_leaves_nothing_behind(tmp_path, gallery):
    archive = tmp_path / "g.zip"
    backup(gallery.root, archive)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside a stored photo: its CRC-32 no longer matches
    flipped = tmp_path / "flipped.zip"
    flipped.write_bytes(bytes(data))
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive.read_bytes()[: len(data) // 3])
    photo = next(n for n in zipfile.ZipFile(archive).namelist() if n.startswith("photos/"))
    swapped = _rewrite(archive, tmp_path / "swapped.zip",
                       lambda n, d: b"other bytes" if n == photo else d)  # fmt: skip
    dropped = _rewrite(archive, tmp_path / "dropped.zip", lambda n, d: None if n == photo else d)
    unlisted = _rewrite(
        archive,
        tmp_path / "unlisted.zip",
        lambda n, d: d.replace(b'"photos/', b'"other/') if n == MANIFEST else d,
    )
    for bad, message in [
        (flipped, "is damaged"),
        (truncated, "is damaged"),
        (swapped, f"{photo} does not match its SHA-256"),
        (dropped, "missing"),
        (unlisted, "not in its manifest"),
    ]:
        with pytest.raises(ValueError, match=message):
            restore(bad, tmp_path / "target")
        assert not (tmp_path / "target").exists()
    assert not list(tmp_path.glob(".target*"))


def test_restore_refuses_a_non_empty_gallery_unless_forced(tmp_path, gallery, photos, encoder):
    archive = tmp_path / "g.zip"
    backup(gallery.root, archive)
    other = Gallery(tmp_path / "other", encoder)
    other.enrol([PhotoRecord(photos["ind00"][0], "someone")])
    other.close()
    with pytest.raises(ValueError, match="is not empty: restore into a new folder, or add --force"):
        restore(archive, tmp_path / "other")
    restore(archive, tmp_path / "other", force=True)
    assert _contents(tmp_path / "other") == _contents(gallery.root)
    assert not list(tmp_path.glob(".other*"))
