import json
import subprocess
import sys

import pytest

from tests.synthetic import write_individuals
from turtle_id.cli import main


@pytest.fixture
def labelled(tmp_path):
    """A folder-per-individual collection of 6 synthetic turtles, 2 shots each, plus a
    third shot of each kept apart as queries."""
    photos = write_individuals(tmp_path / "data", n_individuals=6, shots=3)
    queries = tmp_path / "queries"
    queries.mkdir()
    for individual, paths in photos.items():
        paths[2].rename(queries / f"{individual}.jpg")
    return tmp_path / "data", queries


def _run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def test_enroll_then_identify_json_follows_the_contract(tmp_path, labelled, capsys):
    data, queries = labelled
    gallery = tmp_path / "gallery"
    code, out, err = _run(capsys, "enroll", data, "--gallery", gallery)
    assert code == 0
    assert "enrolled 12 photos (6 new individuals), 0 already in the gallery, 0 problems" in out
    code, out, err = _run(
        capsys, "identify", queries, "--gallery", gallery, "--json", "--threshold", "0.5"
    )
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 6
    for line in lines:
        assert set(line) >= {"photo", "decision", "matches"}
        assert line["decision"] == "match"
        assert len(line["matches"]) == 5
        best = line["matches"][0]
        assert set(best) >= {"turtle_id", "score", "photo"}
        assert best["turtle_id"] == line["photo"].rsplit("/", 1)[1][:-4]  # queries/indNN.jpg
        assert best["score"] >= line["matches"][1]["score"]


def test_identify_top_and_gallery_from_the_environment(tmp_path, labelled, capsys, monkeypatch):
    data, queries = labelled
    monkeypatch.setenv("TURTLE_ID_GALLERY", str(tmp_path / "env-gallery"))
    assert _run(capsys, "enroll", data)[0] == 0
    code, out, _ = _run(capsys, "identify", queries / "ind01.jpg", "--top", "2", "--json")
    assert code == 0 and len(json.loads(out)["matches"]) == 2
    assert (tmp_path / "env-gallery" / "gallery.sqlite").is_file()


def test_enroll_reports_bad_rows_by_file_and_reason_and_enrols_the_rest(tmp_path, labelled, capsys):
    data, _ = labelled
    (data / "ind00" / "empty.jpg").write_bytes(b"")
    (data / "ind01" / "notes.jpg").write_text("field notes, not a photo")
    code, out, err = _run(capsys, "enroll", data, "--gallery", tmp_path / "g")
    assert code == 0
    assert "enrolled 12 photos" in out and "2 problems" in out
    assert "empty.jpg: photo is 0 bytes: upload a JPEG, PNG, WebP or TIFF" in err
    assert "notes.jpg: not a photo Pillow can read" in err


def test_identify_of_a_damaged_photo_fails_with_its_name_and_a_non_zero_exit(
    tmp_path, labelled, capsys
):
    data, queries = labelled
    _run(capsys, "enroll", data, "--gallery", tmp_path / "g")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes((queries / "ind00.jpg").read_bytes()[:400])
    code, out, err = _run(capsys, "identify", truncated, "--gallery", tmp_path / "g", "--json")
    assert code == 1 and out == ""
    assert "cut.jpg" in err and "damaged or truncated" in err


def test_enroll_of_a_folder_that_is_no_collection_explains_the_layouts(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = _run(capsys, "enroll", tmp_path / "empty", "--gallery", tmp_path / "g")
    assert code == 1 and "sub-folder" in err


def test_identify_against_an_empty_gallery_warns_and_answers_new(tmp_path, labelled, capsys):
    _, queries = labelled
    (tmp_path / "g").mkdir()  # an existing, empty gallery folder
    code, out, err = _run(
        capsys, "identify", queries / "ind00.jpg", "--gallery", tmp_path / "g", "--json"
    )
    assert code == 0 and "gallery" in err and "empty" in err
    assert json.loads(out) == {
        "photo": str(queries / "ind00.jpg"),
        "decision": "new",
        "region": None,
        "matches": [],
    }


def test_evaluate_prints_map5_and_writes_json(tmp_path, labelled, capsys):
    data, _ = labelled
    report = tmp_path / "report.json"
    code, out, _ = _run(capsys, "evaluate", data, "--json", report)
    assert code == 0
    assert out.startswith("embedding  map@5 1.000  top-1 1.000  top-5 1.000  queries 6")
    assert "keypoints  map@5 1.000" in out
    assert json.loads(report.read_text())["queries"] == 6


@pytest.mark.parametrize("command", ["enroll", "identify", "evaluate"])
def test_every_command_has_help(command):
    result = subprocess.run(
        [sys.executable, "-m", "turtle_id", command, "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "--gallery" in result.stdout


def test_identify_json_reports_the_head_region_found_or_null_with_no_crop(
    tmp_path, shared_data, capsys
):
    from turtle_id.datasets import read_collection
    from turtle_id.head_finder import region_iou

    record = read_collection(shared_data / "turtle-profiles-dev").records[0]
    (tmp_path / "g").mkdir()
    code, out, _ = _run(capsys, "identify", record.path, "--gallery", tmp_path / "g", "--json")
    region = json.loads(out)["region"]
    assert code == 0 and len(region) == 4 and all(isinstance(v, int) for v in region)
    assert region_iou(tuple(region), record.region) > 0.5  # the labelled head box
    code, out, _ = _run(
        capsys, "identify", record.path, "--gallery", tmp_path / "g", "--json", "--no-crop"
    )
    assert json.loads(out)["region"] is None


# Commands that read a gallery (and their arguments besides --gallery).
READERS = {
    "identify": ["photo.jpg"],
    "rename": ["a", "b"],
    "audit": [],
    "export": ["photos", "--out", "photos.csv"],
    "backup": ["b.zip"],
    "check": [],
}


def test_identify_with_a_gallery_that_does_not_exist_refuses_and_creates_nothing(
    tmp_path, labelled, capsys
):
    _, queries = labelled
    missing = tmp_path / "typo"
    code, out, err = _run(capsys, "identify", queries / "ind00.jpg", "--gallery", missing)
    assert (code, out) == (1, "")
    assert err == (
        f"error: no gallery at {missing}: the folder does not exist: enrol photos first with "
        f"`python -m turtle_id enroll DATA --gallery {missing}`, or check --gallery "
        "(or $TURTLE_ID_GALLERY)\n"
    )
    assert not missing.exists()


@pytest.mark.parametrize("command", READERS)
def test_commands_that_read_a_gallery_create_none_where_none_exists(
    command, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "typo"
    code, out, err = _run(capsys, command, *READERS[command], "--gallery", missing)
    assert code == 1 and f"no gallery at {missing}: the folder does not exist" in err
    assert not missing.exists()


def test_enroll_still_creates_a_new_gallery(tmp_path, labelled, capsys):
    data, _ = labelled
    code, out, _ = _run(capsys, "enroll", data, "--gallery", tmp_path / "new" / "gallery")
    assert code == 0 and (tmp_path / "new" / "gallery" / "gallery.sqlite").is_file()


@pytest.mark.parametrize(
    "command",
    [*READERS, "enroll", "calibrate", "restore"],
)
def test_a_gallery_path_that_is_a_file_is_refused_with_a_message(
    command, tmp_path, labelled, capsys, monkeypatch
):
    data, _ = labelled
    monkeypatch.chdir(tmp_path)
    arguments = {"enroll": [data], "calibrate": [data], "restore": ["b.zip"]}
    a_file = tmp_path / "gallery.txt"
    a_file.write_text("not a gallery")
    code, out, err = _run(
        capsys, command, *arguments.get(command, READERS.get(command)), "--gallery", a_file
    )
    assert (code, out) == (1, "")
    assert err.endswith(
        f"error: gallery {a_file} is a file, not a folder: give --gallery (or "
        "$TURTLE_ID_GALLERY) the gallery's folder\n"
    )
    assert a_file.read_text() == "not a gallery"


def test_identify_refuses_a_region_that_reaches_past_the_photo(tmp_path, labelled, capsys):
    from PIL import Image

    from tests.synthetic import photo_of

    (tmp_path / "g").mkdir()
    query = tmp_path / "turned.jpg"  # stored 320x240, EXIF orientation 6: upright 240x320
    exif = Image.Exif()
    exif[0x0112] = 6
    photo_of(0, 0).save(query, exif=exif)
    g = ("--gallery", tmp_path / "g", "--json", "--no-crop")
    code, out, err = _run(capsys, "identify", query, "--region", "10,10,5000,5000", *g)
    assert (code, out) == (1, "")
    assert (
        f"failed: {query}: region 10,10,5000,5000 reaches past the 240x320 photo: give "
        "x + w <= 240 and y + h <= 320, in pixels of the photo as stored"
    ) in err
    code, out, err = _run(capsys, "identify", query, "--region", "0,0,320,240", *g)
    assert code == 1 and "reaches past the 240x320 photo" in err
    code, out, _ = _run(capsys, "identify", query, "--region", "0,0,240,320", *g)
    assert code == 0 and json.loads(out)["region"] == [0, 0, 240, 320]


def test_threshold_is_the_match_probability_as_identify_help_says(tmp_path, labelled, capsys):
    data, queries = labelled
    g = ("--gallery", tmp_path / "g", "--json")
    assert _run(capsys, "enroll", data, "--gallery", tmp_path / "g")[0] == 0
    best = json.loads(_run(capsys, "identify", queries / "ind00.jpg", *g)[1])["matches"][0]
    assert best["score"] != best["similarity"]  # the shipped calibration fits: a probability
    decisions = [
        json.loads(_run(capsys, "identify", queries / "ind00.jpg", *g, "--threshold", t)[1])
        for t in (best["score"] - 0.0001, best["score"] + 0.0001)
    ]
    assert decisions[0]["decision"] == "match" and decisions[1]["decision"] != "match"
    result = subprocess.run(
        [sys.executable, "-m", "turtle_id", "identify", "--help"], capture_output=True, text=True
    )
    help_text = " ".join(result.stdout.split())
    assert "--threshold THRESHOLD score for 'match': the calibrated match probability" in help_text
    assert "similarity for 'match'" not in help_text
