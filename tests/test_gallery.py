import sqlite3

import numpy as np
import pytest

from tests.synthetic import photo_of, write_individuals
from turtle_id.catalogue import Catalogue
from turtle_id.datasets import PhotoRecord
from turtle_id.gallery import Gallery, validate_individual_id
from turtle_id.index import PhotoIndex
from turtle_id.matching import MATCH, NEW
from turtle_id.settings import MatchSettings


@pytest.fixture
def photos(tmp_path):
    return write_individuals(tmp_path / "photos", n_individuals=6, shots=3)


def _records(photos, shots=(0, 1)):
    return [
        PhotoRecord(paths[s], individual) for individual, paths in photos.items() for s in shots
    ]


def _state(root):
    """Everything a gallery holds: rows of each table and the set of stored files."""
    db = sqlite3.connect(root / "gallery.sqlite")
    tables = {
        t: db.execute(f"SELECT * FROM {t}").fetchall() for t in ("individuals", "photos", "events")
    }
    db.close()
    stored = [*(root / "photos").rglob("*"), *(root / "previews").rglob("*")]
    files = sorted(str(p.relative_to(root)) for p in stored)  # folders too: none may be left
    return tables, files


def test_a_photo_of_an_enrolled_individual_ranks_that_individual_first(tmp_path, photos, encoder):
    gallery = Gallery(tmp_path / "g", encoder)
    summary = gallery.enrol(_records(photos))
    assert (summary.added, len(summary.new_individuals), summary.problems) == (12, 6, [])
    for individual, paths in photos.items():
        answer = gallery.identify(paths[2])  # the third shot was never enrolled
        assert answer.matches[0].turtle_id == individual
        assert len(answer.matches) == 5
        assert [m.score for m in answer.matches] == sorted(
            (m.score for m in answer.matches), reverse=True
        )
        assert len({m.turtle_id for m in answer.matches}) == 5  # one entry per individual


def test_the_same_photo_enrolled_twice_is_one_photo(tmp_path, photos, encoder):
    gallery = Gallery(tmp_path / "g", encoder)
    gallery.enrol(_records(photos))
    again = gallery.enrol(_records(photos))
    assert (again.added, again.already) == (0, 12)
    assert len(gallery) == 12


def test_the_same_photo_under_another_individual_is_reported_not_enrolled(
    tmp_path, photos, encoder
):
    gallery = Gallery(tmp_path / "g", encoder)
    path = photos["ind00"][0]
    gallery.enrol([PhotoRecord(path, "ind00")])
    summary = gallery.enrol([PhotoRecord(path, "ind01")])
    assert summary.added == 0
    assert "already enrolled as 'ind00'" in summary.problems[0]


def test_a_failed_enrolment_leaves_the_gallery_exactly_as_it_was(
    tmp_path, photos, encoder, monkeypatch
):
    root = tmp_path / "g"
    gallery = Gallery(root, encoder)
    gallery.enrol(_records(photos, shots=(0,)))
    before = _state(root)
    calls = []
    real_add_photo = Catalogue.add_photo

    def failing_add_photo(db, fields, embedding, detail):
        calls.append(fields["sha256"])
        if len(calls) == 3:
            raise OSError("disk full")
        return real_add_photo(db, fields, embedding, detail)

    monkeypatch.setattr(Catalogue, "add_photo", staticmethod(failing_add_photo))
    with pytest.raises(OSError, match="disk full"):
        gallery.enrol(_records(photos, shots=(1, 2)))
    assert len(calls) == 3
    assert _state(root) == before
    monkeypatch.undo()
    # The gallery still works, and the photos that failed can be enrolled afterwards.
    assert gallery.enrol(_records(photos, shots=(1,))).added == 6


def test_registering_a_new_turtle_is_used_by_the_very_next_query(tmp_path, photos, encoder):
    gallery = Gallery(tmp_path / "g", encoder)
    gallery.enrol(_records({k: v for k, v in photos.items() if k != "ind05"}))
    query = photos["ind05"][0]
    assert gallery.identify(query).matches[0].turtle_id != "turtle-0001"
    turtle_id, _ = gallery.register(query.read_bytes(), "field.jpg", confirmed=True)
    assert turtle_id == "turtle-0001"
    answer = gallery.identify(query)
    assert answer.matches[0].turtle_id == "turtle-0001"
    assert answer.matches[0].score == pytest.approx(1.0, abs=1e-4)
    assert answer.decision == MATCH
    # Adding the next shot to the confirmed turtle also counts at once.
    gallery.register(photos["ind05"][1], "second.jpg", turtle_id="turtle-0001", new=False)
    assert [r.source_name for r in gallery.photos_of("turtle-0001")] == ["field.jpg", "second.jpg"]


def test_registration_is_seen_by_another_gallery_object_on_the_same_folder(
    tmp_path, photos, encoder
):
    first = Gallery(tmp_path / "g", encoder)
    second = Gallery(tmp_path / "g", encoder)  # e.g. the app while the CLI enrols
    first.enrol(_records(photos, shots=(0,)))
    assert second.identify(photos["ind03"][1]).matches[0].turtle_id == "ind03"


def test_generated_ids_are_sequential_and_typed_names_must_be_unique(tmp_path, photos, encoder):
    gallery = Gallery(tmp_path / "g", encoder)
    # confirmed=True: these synthetic turtles may look alike; the IDs are what is tested here.
    assert gallery.register(photos["ind00"][0], "a.jpg", confirmed=True)[0] == "turtle-0001"
    shelly = gallery.register(photos["ind01"][0], "b.jpg", turtle_id="Shelly", confirmed=True)
    assert shelly[0] == "Shelly"
    assert gallery.register(photos["ind02"][0], "c.jpg", confirmed=True)[0] == "turtle-0002"
    with pytest.raises(ValueError, match="'shelly' already exists"):
        gallery.register(photos["ind03"][0], "d.jpg", turtle_id="shelly")
    with pytest.raises(ValueError, match="already in the gallery as turtle 'Shelly'"):
        gallery.register(photos["ind01"][0], "b-again.jpg")
    with pytest.raises(ValueError, match="no turtle 'Nobody'"):
        gallery.register(photos["ind04"][0], "e.jpg", turtle_id="Nobody", new=False)
    assert [i for i, _, _ in gallery.individuals()] == ["Shelly", "turtle-0001", "turtle-0002"]


@pytest.mark.parametrize(
    "name", ["../etc", "a/b", "a\\b", "", "  ", "x" * 65, "-dash", "tab\there"]
)
def test_turtle_ids_with_path_characters_or_bad_shape_are_refused(name):
    with pytest.raises(ValueError, match="turtle ID"):
        validate_individual_id(name)


def test_a_readable_turtle_id_is_accepted_stripped():
    assert validate_individual_id("  SE010 (Zakynthos) ") == "SE010 (Zakynthos)"


def test_an_empty_gallery_answers_new_with_no_matches(tmp_path, photos, encoder):
    answer = Gallery(tmp_path / "g", encoder).identify(photos["ind00"][0])
    assert (answer.decision, answer.matches) == (NEW, [])


def test_decision_follows_the_configured_threshold(tmp_path, photos, encoder):
    records = _records(photos)
    strict = Gallery(tmp_path / "g", encoder, MatchSettings(threshold=1.01))
    strict.enrol(records)
    assert strict.identify(photos["ind00"][0]).decision != MATCH  # review or new
    lenient = Gallery(tmp_path / "g", encoder, MatchSettings(threshold=-1.0))
    assert lenient.identify(photos["ind00"][2]).decision == MATCH


def test_view_restricts_matching_to_that_view_or_unknown_view(tmp_path, photos, encoder):
    gallery = Gallery(tmp_path / "g", encoder)
    gallery.enrol(
        [PhotoRecord(photos["ind00"][0], "ind00", view="left")]
        + [PhotoRecord(photos["ind01"][0], "ind01", view="right")]
        + [PhotoRecord(photos["ind02"][0], "ind02")]
    )
    seen = {m.turtle_id for m in gallery.identify(photos["ind00"][1], view="right").matches}
    assert seen == {"ind01", "ind02"}
    assert gallery.identify(photos["ind00"][1], view="left").matches[0].turtle_id == "ind00"


def test_a_region_crops_the_query_before_embedding(tmp_path, encoder):
    # Individual A is the left half of a canvas; a query cropped to the left half of the
    # same canvas must match A exactly.
    canvas = np.concatenate([np.asarray(photo_of(1, 0)), np.asarray(photo_of(2, 0))], axis=1)
    from PIL import Image

    whole = tmp_path / "whole.png"
    Image.fromarray(canvas).save(whole)
    left = tmp_path / "left.png"
    Image.fromarray(canvas[:, :320]).save(left)
    gallery = Gallery(tmp_path / "g", encoder)
    Image.fromarray(canvas[:, 320:]).save(tmp_path / "right.png")
    gallery.enrol([PhotoRecord(left, "A"), PhotoRecord(tmp_path / "right.png", "B")])
    answer = gallery.identify(whole, region=(0, 0, 320, 240))
    assert answer.matches[0].turtle_id == "A"
    assert answer.matches[0].score == pytest.approx(1.0, abs=1e-3)
    assert answer.region == (0, 0, 320, 240)


def test_a_missing_corrupt_or_foreign_index_is_rebuilt_from_the_catalogue(
    tmp_path, photos, encoder
):
    root = tmp_path / "g"
    Gallery(root, encoder).enrol(_records(photos))
    index_file = root / "index" / "photos.hnsw"
    expected = Gallery(root, encoder).identify(photos["ind04"][2]).as_json()["matches"]

    index_file.write_bytes(b"garbage")
    assert Gallery(root, encoder).identify(photos["ind04"][2]).as_json()["matches"] == expected
    index_file.unlink()
    assert Gallery(root, encoder).identify(photos["ind04"][2]).as_json()["matches"] == expected
    meta = index_file.with_name("photos.hnsw.json")
    meta.write_text(meta.read_text().replace(encoder.model_version, "some-other-model"))
    assert Gallery(root, encoder).identify(photos["ind04"][2]).as_json()["matches"] == expected


def test_gallery_keypoints_are_stored_at_enrolment_and_only_the_query_is_extracted(
    tmp_path, photos, encoder, monkeypatch
):
    gallery = Gallery(tmp_path / "g", encoder)
    summary = gallery.enrol(_records(photos))
    key = gallery.keypoints.settings.key
    assert set(gallery.catalogue.keypoints(summary.photo_ids, key)) == set(summary.photo_ids)
    calls = []
    real_extract = gallery.keypoints.extract
    monkeypatch.setattr(gallery.keypoints, "extract", lambda p: calls.append(1) or real_extract(p))
    answer = gallery.identify(photos["ind02"][2])
    assert len(calls) == 1
    best = answer.matches[0]
    assert best.turtle_id == "ind02"
    assert best.inliers > max(m.inliers for m in answer.matches[1:])


def test_keypoints_missing_from_an_older_gallery_are_extracted_on_open(tmp_path, photos, encoder):
    root = tmp_path / "g"
    summary = Gallery(root, encoder).enrol(_records(photos))
    db = sqlite3.connect(root / "gallery.sqlite")
    db.execute("DELETE FROM keypoints")
    db.commit()
    db.close()
    reopened = Gallery(root, encoder)
    key = reopened.keypoints.settings.key
    assert len(reopened.catalogue.keypoints(summary.photo_ids, key)) == 12


def test_registering_as_new_a_photo_that_matches_an_existing_turtle_asks_for_confirmation(
    tmp_path, photos, encoder
):
    from turtle_id.gallery import LikelyDuplicate

    gallery = Gallery(tmp_path / "g", encoder, MatchSettings(threshold=0.5))
    gallery.enrol(_records(photos))
    with pytest.raises(LikelyDuplicate, match="strongly matches turtle 'ind03'") as caught:
        gallery.register(photos["ind03"][2], "shot3.jpg")
    assert caught.value.match.turtle_id == "ind03"
    assert len(gallery) == 12  # nothing written
    turtle_id, _ = gallery.register(photos["ind03"][2], "shot3.jpg", confirmed=True)
    assert turtle_id == "turtle-0001" and len(gallery) == 13


def test_explain_returns_both_pictures_and_inlier_pairs_inside_them(tmp_path, photos, encoder):
    gallery = Gallery(tmp_path / "g", encoder)
    gallery.enrol(_records(photos))
    answer = gallery.identify(photos["ind01"][2])
    best = answer.matches[0]
    explanation = gallery.explain(photos["ind01"][2], "q.jpg", best.photo_id)
    assert explanation.turtle_id == "ind01"
    assert explanation.match.inliers == best.inliers > 0
    pairs = explanation.match.pairs
    assert pairs.shape == (best.inliers, 2, 2)
    for picture, points in ((explanation.query, pairs[:, 0]), (explanation.gallery, pairs[:, 1])):
        assert (points >= 0).all()
        assert (points[:, 0] <= picture.width).all() and (points[:, 1] <= picture.height).all()


def test_embeddings_of_chosen_individuals_for_the_rsm(tmp_path, photos, encoder):
    gallery = Gallery(tmp_path / "g", encoder)
    gallery.enrol(_records(photos))
    vectors, labels = gallery.embeddings_of(["ind00", "ind04"])
    assert vectors.shape == (4, encoder.info.embedding_size)
    assert sorted(labels) == ["ind00", "ind00", "ind04", "ind04"]


def test_a_found_head_gets_a_margin_and_is_dropped_when_it_fills_the_photo():
    from turtle_id.gallery import _head_region

    # Box 100x50 at (200, 100) in a picture at 1/4 scale: 400x200 at (800, 400) in the photo,
    # plus 10% per side: 480x240 at (760, 380).
    assert _head_region((200, 100, 100, 50), 0.25, (2000, 1500)) == (760, 380, 480, 240)
    # Clipped at the photo's edges.
    assert _head_region((0, 0, 100, 50), 0.25, (2000, 1500)) == (0, 0, 440, 220)
    # A head covering most of a photo that is already a head crop: use the whole photo.
    assert _head_region((10, 10, 80, 80), 1.0, (100, 100)) is None


def test_a_saved_index_that_does_not_hold_the_catalogues_photos_is_rebuilt(
    tmp_path, photos, encoder
):
    root = tmp_path / "g"
    Gallery(root, encoder).enrol(_records(photos))  # 12 photos, the index saved with them
    db = sqlite3.connect(root / "gallery.sqlite")
    # A photo removed is still indexed (marked); one another model embedded is not.
    db.execute("UPDATE photos SET removed_at = '2026-01-01' WHERE id = 2")
    db.execute("UPDATE photos SET model_version = 'older-model' WHERE id = 3")
    db.commit()
    catalogue = Catalogue(root / "gallery.sqlite")
    assert catalogue.count_embedded(encoder.model_version) == 11
    assert catalogue.count_embedded(encoder.model_version, upto=5) == 4  # ids 1, 2, 4, 5
    catalogue.close()
    db.execute("UPDATE photos SET model_version = ? WHERE id = 3", (encoder.model_version,))
    db.execute("DELETE FROM keypoints WHERE photo_id = 7")
    db.execute("DELETE FROM photos WHERE id = 7")  # the catalogue restored without one photo
    db.commit()
    db.close()
    gallery = Gallery(root, encoder)
    gallery.identify(photos["ind04"][2])
    gallery.close()
    index = PhotoIndex.load(
        root / "index" / "photos.hnsw", encoder.info.embedding_size, encoder.model_version
    )
    assert sorted(index.labels()) == [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12]
