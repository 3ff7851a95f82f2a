import csv
import io
import json

import pytest

from tests.synthetic import write_individuals
from turtle_id.cli import main

COMMANDS = ["rename", "merge", "move", "remove", "reinstate", "edit", "undo", "audit", "export",
            "backup", "restore", "check", "users"]  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_individuals(root, n_individuals=3, shots=2)  # ind00..ind02, photo ids 1..6
    return root


@pytest.fixture
def gallery(tmp_path, data, capsys):
    assert main(["enroll", str(data), "--gallery", str(tmp_path / "g")]) == 0
    capsys.readouterr()
    return tmp_path / "g"


def _run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def test_care_commands_change_the_gallery_and_undo_reverses_the_latest(gallery, capsys):
    g = ("--gallery", gallery)
    assert _run(capsys, "rename", "ind00", "Shelly", *g, "--user", "ana") == (
        0,
        "renamed ind00 to Shelly (event 10)\n",
        "",
    )
    assert _run(capsys, "merge", "ind01", "Shelly", *g, "--user", "ana")[1] == (
        "merged ind01 into Shelly (event 11)\n"
    )
    assert _run(capsys, "move", 5, "Shelly", *g, "--user", "ben")[0] == 0
    assert _run(capsys, "remove", 6, "--reason", "blurred", *g, "--user", "ben")[0] == 0
    assert _run(capsys, "edit", 1, "--site", "Laganas", "--lat", 37.7, "--lon", 20.9, *g)[0] == 0
    code, out, _ = _run(capsys, "undo", *g, "--user", "ben")
    assert (code, out) == (0, "undid event 13 (remove_photo) (event 15)\n")
    code, out, _ = _run(capsys, "audit", *g, "--limit", 3)
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["15", "14", "13"]
    assert lines[0].split()[2] == "ben" and lines[0].endswith("undid event 13 (remove_photo)")
    assert "edited photo 1 (0.jpg)" in lines[1]
    code, out, err = _run(capsys, "merge", "Shelly", "Shelly", *g)
    assert (code, out) == (1, "") and "cannot merge turtle 'Shelly' into itself" in err
    code, _, err = _run(capsys, "rename", "nobody", "x", "--gallery", gallery.parent / "none")
    assert code == 1 and "no gallery at" in err


def test_audit_and_every_export_write_csv_files_that_open(gallery, tmp_path, capsys):
    g = ("--gallery", gallery)
    _run(capsys, "edit", 1, "--date", "2021-06-24 10:05", "--site", "Laganas", "--observer",
         "ana", "--lat", -37.25, "--lon", 21.6, *g)  # fmt: skip
    assert _run(capsys, "audit", *g, "--out", tmp_path / "audit.csv")[1].startswith("wrote 10 ")
    # Sightings: ind00 on 2021-06-24 at Laganas, ind00 undated, ind01 and ind02 undated.
    for table, rows in (("photos", 6), ("sightings", 4), ("dwc", 6)):
        out = tmp_path / f"{table}.csv"
        code, printed, _ = _run(capsys, "export", table, "--out", out, *g)
        assert code == 0 and printed.startswith(f"wrote {rows} rows to {out}")
    with open(tmp_path / "dwc.csv", newline="", encoding="utf-8") as f:
        first = next(csv.DictReader(f))
    assert (first["individualID"], first["eventDate"], first["decimalLatitude"]) == (
        "ind00",
        "2021-06-24T10:05:00",
        "-37.25",
    )
    assert (first["scientificName"], first["basisOfRecord"], first["recordedBy"]) == (
        "Caretta caretta",
        "HumanObservation",
        "ana",
    )
    species = ("--species", "Chelonia mydas", "--basis", "MachineObservation")
    code, printed, _ = _run(capsys, "export", "dwc", "--out", tmp_path / "cm.csv", *g, *species)
    assert "'Chelonia mydas', MachineObservation" in printed
    with open(tmp_path / "photos.csv", newline="") as f:
        assert next(csv.reader(f)) == ["image_id", "image_location", "turtle_id"]


def test_backup_restore_and_check_from_the_command_line(gallery, tmp_path, capsys):
    archive = tmp_path / "b.zip"
    code, out, _ = _run(capsys, "backup", archive, "--gallery", gallery)
    assert (code, out) == (
        0,
        f"backup {archive}: 6 photos of 3 individuals, 9 events, 14 files\n",
    )
    fresh = tmp_path / "fresh"
    code, out, _ = _run(capsys, "restore", archive, "--gallery", fresh)
    assert code == 0 and out.startswith(f"restored {fresh}: 6 photos of 3 individuals")
    code, out, _ = _run(capsys, "restore", archive, "--gallery", fresh)
    assert code == 1
    code, out, _ = _run(capsys, "check", "--gallery", fresh)
    assert code == 0
    assert out.splitlines()[0].startswith("note: no saved index")  # restored: built on open
    assert out.splitlines()[-1] == f"check {fresh}: ok (6 photos, 0 orphan files, 1 notes)"
    assert _run(capsys, "check", "--gallery", fresh, "--repair")[0] == 0
    assert _run(capsys, "check", "--gallery", fresh)[1].endswith("0 notes)\n")
    for photo in (fresh / "photos").rglob("*.jpg"):
        photo.write_bytes(b"damaged")
        break
    code, out, _ = _run(capsys, "check", "--gallery", fresh)
    assert code == 1
    assert "does not match its SHA-256" in out and "FAILED, 1 problems" in out


def test_identify_can_be_limited_to_a_site_and_dates(gallery, data, capsys):
    _run(capsys, "edit", 3, "--site", "Gerakas", "--date", "2021-07-15", "--gallery", gallery)
    limits = ("--site", "gerakas", "--from", "2021-01-01", "--to", "2021-12-31")
    query = data / "ind00" / "0.jpg"
    code, out, _ = _run(capsys, "identify", query, "--gallery", gallery, "--json", *limits)
    assert code == 0
    matches = json.loads(out)["matches"]
    assert [(m["turtle_id"], m["site"], m["date_taken"]) for m in matches] == [
        ("ind01", "Gerakas", "2021-07-15")
    ]


def test_users_add_writes_a_hash_from_stdin(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("green-flipper\n"))
    path = tmp_path / "users.txt"
    code, out, _ = _run(capsys, "users", "add", "ana", "--file", path, "--password-stdin")
    assert code == 0 and "scrypt" in out
    assert "green-flipper" not in path.read_text() and "ana:scrypt$" in path.read_text()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_record_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0 and "--gallery" in capsys.readouterr().out
