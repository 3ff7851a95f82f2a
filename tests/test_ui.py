from dataclasses import fields
from pathlib import Path

from turtle_id import ui
from turtle_id.catalogue import PhotoRow
from turtle_id.gallery import Identification, Match
from turtle_id.matching import MATCH, NEW


def match(turtle_id: str, score: float) -> Match:
    values = {
        "turtle_id": turtle_id,
        "score": score,
        "similarity": score,
        "inliers": 0,
        "photo_id": 1,
        "photo": Path(f"g/photos/{turtle_id}.jpg"),
        "preview": Path(f"g/previews/{turtle_id}.jpg"),
        "source_name": f"{turtle_id}.JPG",
        "view": None,
    }
    # Only the fields this version of Match has: the UI reads none of the evidence fields.
    return Match(**{f.name: values[f.name] for f in fields(Match)})


def identification(decision: str, *scores: tuple[str, float], size: int = 10) -> Identification:
    matches = [match(turtle_id, score) for turtle_id, score in scores]
    return Identification("q.jpg", decision, matches, region=None, gallery_size=size)


def photo_row(source_name: str, view: str | None, date_taken: str | None) -> PhotoRow:
    return PhotoRow(
        id=7,
        sha256="ab" * 32,
        individual_id="t003",
        file="photos/ab/x.jpg",
        preview="previews/ab/x.jpg",
        source_name=source_name,
        view=view,
        date_taken=date_taken,
        site=None,
        observer=None,
        region=None,
        model_version="v1",
    )


def test_any_view_means_no_view_filter():
    assert ui.view_of("any") is None
    assert ui.view_of(None) is None
    assert ui.view_of("") is None
    assert ui.view_of("left") == "left"
    assert ui.VIEW_CHOICES == ("any", "top", "left", "right")


def test_gallery_summary_counts_photos_and_turtles_in_words():
    assert ui.gallery_summary(0, 0) == "empty"
    assert ui.gallery_summary(1, 1) == "1 photo of 1 turtle"
    assert ui.gallery_summary(12, 6) == "12 photos of 6 turtles"


def test_caption_shows_turtle_and_similarity_to_three_decimals():
    assert ui.caption(match("t003", 0.91234)) == "t003 · 0.912"
    assert ui.caption(match("t010", 0.9996)) == "t010 · 1.000"  # rounds, not truncates


def test_match_items_pair_each_preview_with_its_caption_best_first():
    result = identification(MATCH, ("t003", 0.95), ("t001", 0.5))
    assert ui.match_items(result.matches) == [
        ("g/previews/t003.jpg", "t003 · 0.950"),
        ("g/previews/t001.jpg", "t001 · 0.500"),
    ]
    assert ui.candidates(result.matches) == ["t003", "t001"]


def test_decision_for_a_match_names_the_turtle_and_its_score():
    result = identification(MATCH, ("t003", 0.912), ("t001", 0.70))
    assert ui.decision_text(result, 0.80, 10) == "This looks like t003 (similarity 0.91)"
    assert ui.decision_text(result, 0.5, 10, score_name="match probability") == (
        "This looks like t003 (match probability 0.91)"
    )


def test_decision_for_a_new_turtle_states_the_threshold():
    result = identification(NEW, ("t003", 0.74))
    assert ui.decision_text(result, 0.8, 10) == (
        "No gallery turtle reaches the threshold 0.80: probably a new turtle"
    )


def test_decision_on_an_empty_gallery_offers_registration():
    result = identification(NEW, size=0)
    assert ui.decision_text(result, 0.8, 0) == (
        "The gallery is empty: register this photo as the first turtle."
    )


def test_decision_when_the_view_filter_leaves_no_photo_names_the_view():
    result = identification(NEW, size=0)
    text = ui.decision_text(result, 0.8, 5, view="top")
    assert text.startswith("No gallery photo has the view 'top' or an unknown view")


def test_clear_match_gives_no_warning():
    # 0.95 - 0.80 = 0.15 above the threshold, 0.95 - 0.70 = 0.25 above the runner-up.
    assert ui.close_call(identification(MATCH, ("t003", 0.95), ("t001", 0.70)), 0.80) is None


def test_match_just_above_the_threshold_is_weak():
    # 0.82 - 0.80 = 0.02 < CLOSE_CALL (0.03).
    warning = ui.close_call(identification(MATCH, ("t003", 0.82), ("t001", 0.60)), 0.80)
    assert warning.startswith("Weak match: t003 scores 0.820, just above the threshold 0.80")


def test_runner_up_almost_as_similar_is_a_close_call():
    # 0.95 - 0.93 = 0.02 < CLOSE_CALL; the threshold is far below both.
    warning = ui.close_call(identification(MATCH, ("t003", 0.95), ("t001", 0.93)), 0.80)
    assert warning.startswith("Close call: t003 (0.950) and t001 (0.930)")


def test_new_turtle_decision_is_never_a_close_call():
    assert ui.close_call(identification(NEW, ("t003", 0.79), ("t001", 0.79)), 0.80) is None
    assert ui.close_call(identification(NEW, size=0), 0.80) is None


def test_registered_text_says_what_was_done():
    assert ui.registered_text("IMG_1.JPG", "turtle-0007", new=True, photos_now=1) == (
        "Registered IMG_1.JPG as the new turtle turtle-0007"
    )
    assert ui.registered_text("IMG_2.JPG", "t003", new=False, photos_now=3) == (
        "Added IMG_2.JPG to t003 (now 3 photos)"
    )


def test_individual_rows_keep_id_and_count_and_shorten_the_date():
    individuals = [
        ("t001", 2, "2024-06-24T08:15:00+00:00"),
        ("t002", 1, "2025-01-02T23:59:59+00:00"),
    ]
    assert ui.individual_rows(individuals) == [
        ["t001", 2, "2024-06-24"],
        ["t002", 1, "2025-01-02"],
    ]
    assert ui.INDIVIDUAL_HEADERS == ["Turtle ID", "Photos", "Registered"]


def test_photo_caption_leaves_out_what_is_unknown():
    assert ui.photo_caption(photo_row("IMG_12.JPG", "left", "2021-06-24 10:03:11")) == (
        "IMG_12.JPG · left · 2021-06-24"
    )
    assert ui.photo_caption(photo_row("IMG_13.JPG", None, None)) == "IMG_13.JPG"
