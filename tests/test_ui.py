from dataclasses import fields
from pathlib import Path

from turtle_id import ui
from turtle_id.catalogue import PhotoRow
from turtle_id.gallery import Identification, Match
from turtle_id.matching import MATCH, NEW, REVIEW
from turtle_id.photo import parse_region

P = ui.PROBABILITY


def match(turtle_id: str, score: float, similarity: float | None = None, inliers: int = 0) -> Match:
    values = {
        "turtle_id": turtle_id,
        "score": score,
        "similarity": score if similarity is None else similarity,
        "inliers": inliers,
        "photo_id": 1,
        "photo": Path(f"g/photos/{turtle_id}.jpg"),
        "preview": Path(f"g/previews/{turtle_id}.jpg"),
        "source_name": f"{turtle_id}.JPG",
        "view": None,
    }
    # Fields Match gained later (dates, sites) keep their defaults.
    names = {f.name for f in fields(Match)}
    return Match(**{name: value for name, value in values.items() if name in names})


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


def test_thresholds_text_states_the_rule_for_the_kind_of_score():
    assert ui.thresholds_text("similarity", 0.8, None) == "match from similarity 0.80"
    assert ui.thresholds_text(P, 0.722, 0.303) == "match from p 0.72 · review from p 0.30"
    # A configured match threshold at or under the review one leaves no review band.
    assert ui.thresholds_text(P, 0.25, 0.25) == "match from p 0.25"
    assert ui.thresholds_text(P, 0.7, None) == "match from p 0.70"


def test_match_table_puts_similarity_and_inliers_beside_the_probability():
    matches = [match("t003", 0.934, 0.812, 42), match("t001", 0.1, 0.605, 1)]
    assert ui.match_headers(P) == [
        "Rank",
        "Turtle ID",
        "Match probability",
        "Similarity",
        "Inliers",
    ]
    assert ui.match_rows(matches, P) == [
        [1, "t003", "0.93", "0.81", 42],
        [2, "t001", "0.10", "0.60", 1],  # 0.605 is stored as 0.60499...: rounds down
    ]


def test_match_table_without_calibration_shows_the_similarity_once():
    matches = [match("t003", 0.91234, inliers=7)]
    assert ui.match_headers("similarity") == ["Rank", "Turtle ID", "Similarity", "Inliers"]
    assert ui.match_rows(matches, "similarity") == [[1, "t003", "0.912", 7]]
    # Without keypoint verification there are no inliers to show.
    assert ui.match_headers("similarity", keypoints=False) == ["Rank", "Turtle ID", "Similarity"]
    assert ui.match_rows(matches, "similarity", keypoints=False) == [[1, "t003", "0.912"]]
    assert ui.match_rows([match("t010", 0.9996)], "similarity")[0][2] == "1.000"  # rounds


def test_match_items_pair_each_preview_with_its_turtle_best_first():
    result = identification(MATCH, ("t003", 0.95), ("t001", 0.5))
    assert ui.match_items(result.matches) == [
        ("g/previews/t003.jpg", "t003"),
        ("g/previews/t001.jpg", "t001"),
    ]
    assert ui.candidates(result.matches) == ["t003", "t001"]


def test_decision_for_a_match_names_the_turtle_and_its_score():
    result = identification(MATCH, ("t003", 0.912), ("t001", 0.70))
    assert ui.decision_text(result, 0.80, 10) == "This looks like t003 (similarity 0.91)"
    assert ui.decision_text(result, 0.5, 10, score_kind=P) == (
        "This looks like t003 (match probability 0.91)"
    )


def test_decision_for_review_asks_for_the_side_by_side_check():
    result = identification(REVIEW, ("t003", 0.551), ("t001", 0.20))
    assert ui.decision_text(result, 0.72, 10, score_kind=P) == (
        "Possibly t003 (p 0.55): check the side-by-side view before confirming"
    )


def test_decision_for_a_new_turtle_gives_the_best_score():
    result = identification(NEW, ("t003", 0.12))
    assert ui.decision_text(result, 0.72, 10, score_kind=P) == (
        "No gallery turtle is likely (best p 0.12): probably a new turtle"
    )
    result = identification(NEW, ("t003", 0.74))
    assert ui.decision_text(result, 0.8, 10) == (
        "No gallery turtle reaches the similarity threshold 0.80 (best 0.74): probably a new turtle"
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
    # Probabilities: 0.97 - 0.72 = 0.25 above the threshold; the runner-up 0.60 is under it.
    result = identification(MATCH, ("t003", 0.97), ("t001", 0.60))
    assert ui.close_call(result, 0.72, P) is None


def test_match_just_above_the_threshold_is_weak():
    # 0.82 - 0.80 = 0.02 < CLOSE_CALL for similarities (0.03).
    warning = ui.close_call(identification(MATCH, ("t003", 0.82), ("t001", 0.60)), 0.80)
    assert warning.startswith("Weak match: t003 (similarity 0.82) is just above the match")
    # 0.76 - 0.72 = 0.04 < CLOSE_CALL for probabilities (0.05); 0.04 would pass for cosines.
    warning = ui.close_call(identification(MATCH, ("t003", 0.76), ("t001", 0.1)), 0.72, P)
    assert warning.startswith("Weak match: t003 (p 0.76) is just above the match threshold 0.72")
    assert ui.close_call(identification(MATCH, ("t003", 0.76), ("t001", 0.1)), 0.72) is None


def test_runner_up_almost_as_similar_is_a_close_call():
    # 0.95 - 0.93 = 0.02 < CLOSE_CALL; the threshold is far below both.
    warning = ui.close_call(identification(MATCH, ("t003", 0.95), ("t001", 0.93)), 0.80)
    assert warning.startswith("Close call: t003 (0.950) and t001 (0.930)")


def test_a_second_turtle_over_the_match_threshold_is_a_conflict_however_far_below():
    # 0.99 - 0.80 = 0.19, far more than CLOSE_CALL, but 0.80 >= 0.72: both "match".
    result = identification(MATCH, ("t003", 0.99), ("t001", 0.80))
    assert ui.close_call(result, 0.72, P) == (
        "Two turtles match: t003 (p 0.99) and t001 (p 0.80): compare both in the side-by-side "
        "view before adding"
    )


def test_review_and_new_decisions_are_never_a_close_call():
    assert ui.close_call(identification(NEW, ("t003", 0.79), ("t001", 0.79)), 0.80) is None
    assert ui.close_call(identification(NEW, size=0), 0.80) is None
    assert ui.close_call(identification(REVIEW, ("t003", 0.71), ("t001", 0.7)), 0.72, P) is None


def test_why_text_gives_score_similarity_and_keypoint_counts():
    best = match("t003", 0.934, 0.812, 18)
    assert ui.why_text(best, matches=29, inliers=18, score_kind=P) == (
        "**t003**, gallery photo t003.JPG\n\nmatch probability 0.93 · similarity 0.81\n\n"
        "29 keypoint matches, 18 inliers: the lines join the inliers, pairs that agree on one "
        "position, scale and turn of the head"
    )
    text = ui.why_text(match("t001", 0.7), matches=1, inliers=1)
    assert "similarity 0.70\n\n1 keypoint match, 1 inlier:" in text


def test_duplicate_text_names_the_likely_turtle_and_the_two_ways_on():
    text = ui.duplicate_text("IMG_9.JPG", match("t003", 0.987), P)
    assert text.startswith("Not registered: IMG_9.JPG looks like t003 (p 0.99).")
    assert "**Register anyway**" in text and text.endswith("add the photo to t003.")


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


def test_rsm_shows_the_whole_gallery_when_it_is_small_enough():
    assert ui.rsm_individuals([], ["a", "b", "c"], cap=3) == (None, "")
    assert ui.rsm_individuals(None, ["a", "b", "c"], cap=3) == (None, "")


def test_rsm_of_a_big_gallery_takes_the_first_individuals_and_says_so():
    ids, note = ui.rsm_individuals([], ["a", "b", "c", "d"], cap=3)
    assert ids == ["a", "b", "c"]
    assert note == "Showing the first 3 of 4 turtles: choose turtles above to compare others."


def test_rsm_of_chosen_individuals_keeps_the_choice_up_to_the_cap():
    assert ui.rsm_individuals(["c", "a"], ["a", "b", "c"], cap=3) == (["c", "a"], "")
    ids, note = ui.rsm_individuals(["d", "c", "b", "a"], ["a", "b", "c", "d"], cap=2)
    assert ids == ["d", "c"]
    assert note == "Showing the first 2 of the 4 chosen turtles."


def test_scores_note_describes_the_evidence_or_why_there_is_none():
    text = ui.scores_note(True, 203, 209, "dev-a (31 queries)", 0.722, 0.303)
    assert text == (
        "Calibration fitted on dev-a (31 queries). Green: the true turtle's match probability, "
        "203 queries; red: the best other turtle's, 209 queries. Black lines: the current "
        "thresholds (match from p 0.72 · review from p 0.30)."
    )
    assert ui.scores_note(True, 0, 0, "dev-a", 0.722, 0.303).startswith(
        "The calibration fitted on dev-a kept no scores: refit it"
    )
    assert ui.scores_note(False, 0, 0, "", 0.8, None).startswith(
        "No calibration fits this encoder and keypoint setting: scores are raw similarities "
        "(match from similarity 0.80)"
    )


def test_region_text_says_which_part_of_the_query_was_matched():
    assert ui.region_text((461, 338, 337, 218), head_found=True) == (
        "Head found at x 461, y 338, 337 × 218 px: that part of the photo was matched."
    )
    assert ui.region_text((10, 20, 30, 40), head_found=None) == (
        "Region at x 10, y 20, 30 × 40 px: that part of the photo was matched."
    )
    assert ui.region_text(None, head_found=False).startswith(
        "No head found: the whole photo was matched."
    )
    assert ui.region_text(None, head_found=None) == ""  # whole photo, no head finder asked
    assert ui.region_text(None, head_found=True) == (
        "The head fills the photo: the whole photo was matched."
    )


def test_region_field_writes_the_region_as_the_region_box_reads_it():
    assert ui.region_field((120, 80, 400, 300)) == "120,80,400,300"
    assert parse_region(ui.region_field((120, 80, 400, 300))) == (120, 80, 400, 300)
    assert ui.region_field(None) == ""


def test_box_note_says_what_the_box_is_and_how_to_change_it():
    head = (320, 231, 261, 215)
    note = ui.box_note("a.jpg", head, proposal=head, head_found=True)
    assert note.startswith("a.jpg: head found at x 320, y 231, 261 × 215 px, boxed:")
    assert "Not the head? Click two opposite corners" in note
    # The ranger's own box, with the way back to the finder's, or to the whole photo.
    note = ui.box_note("a.jpg", (10, 20, 300, 400), proposal=head, head_found=True)
    assert note.startswith("a.jpg: your box at x 10, y 20, 300 × 400 px is matched.")
    assert note.endswith("clear the region to go back to the head finder's box.")
    note = ui.box_note("a.jpg", (10, 20, 300, 400), proposal=None, head_found=None)
    assert note.endswith("clear the region to go back to the whole photo.")
    assert ui.box_note("a.jpg", None, None, head_found=False).startswith(
        "a.jpg: No head found: the whole photo is used. To match the head only, click two"
    )
    assert ui.box_note("a.jpg", None, None, head_found=True) == (
        "a.jpg: the head fills the photo: the whole photo is used."
    )
    assert ui.box_note("a.jpg", None, None, head_found=None).startswith(  # no head finder
        "a.jpg: the whole photo is used. To match the head only,"
    )
    assert ui.box_note("a.jpg", head, head, True, corner=(7, 9)) == (
        "a.jpg: first corner at x 7, y 9: now click the opposite corner of the head."
    )


def test_add_to_this_turtle_starts_empty_when_the_decision_is_a_new_turtle():
    assert ui.preselected(identification(MATCH, ("t003", 0.91), ("t001", 0.2))) == "t003"
    assert ui.preselected(identification(REVIEW, ("t001", 0.6), ("t003", 0.5))) == "t001"
    assert ui.preselected(identification(NEW, ("t447", 0.11), ("t001", 0.1))) is None
    assert ui.preselected(identification(NEW, size=0)) is None


def test_a_refusal_stays_on_the_page_with_its_fix():
    message = "damaged.jpg: the file is cut off; copy it again from the camera"
    assert ui.refused_text(message) == f"**Not done:** {message}"
