"""Words and table rows for the web app, made from the package's results.

Pure functions of their arguments (no Gradio, no files), so `tests/test_ui.py` checks them
without a browser; `app.py` only places what they return on the page.
"""

from collections.abc import Sequence

from turtle_id.catalogue import PhotoRow
from turtle_id.gallery import Identification, Match
from turtle_id.matching import MATCH, NEW, REVIEW
from turtle_id.photo import Region
from turtle_id.settings import VIEWS

ANY_VIEW = "any"  # the view choice that matches gallery photos of every view
VIEW_CHOICES = (ANY_VIEW, *VIEWS)
INDIVIDUAL_HEADERS = ["Turtle ID", "Photos", "Registered"]
PROBABILITY = "match probability"  # Gallery.score_kind with a calibrated fusion
SIMILARITY = "similarity"  # Gallery.score_kind without one: the score is the cosine
# Score gap under which a match is a weak one: the best turtle is this close to the match
# threshold (or, for similarities, to the runner-up), so a person should compare the photos.
# Cosines of different turtles sit within a few hundredths of each other; the calibrated
# probabilities come from a fit on a few hundred dev queries, so a few hundredths either side
# of its threshold are within its own noise.
CLOSE_CALL = {SIMILARITY: 0.03, PROBABILITY: 0.05}
# The RSM names each individual only up to 40 (turtle_id/plots.py); more is unreadable.
RSM_MAX_INDIVIDUALS = 40


def view_of(choice: str | None) -> str | None:
    """The view to filter the gallery on: None for "any" or no choice."""
    return None if choice in (None, "", ANY_VIEW) else choice


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 photo`, `2 photos`; `nouns` for a plural that is not noun + s (`queries`)."""
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"


def gallery_summary(photos: int, individuals: int) -> str:
    """`12 photos of 6 turtles`, or `empty` for a gallery with no photos."""
    if photos == 0:
        return "empty"
    return f"{plural(photos, 'photo')} of {plural(individuals, 'turtle')}"


def short_score(score: float, score_kind: str) -> str:
    """`p 0.93` for a match probability, `similarity 0.81` for a cosine."""
    return f"p {score:.2f}" if score_kind == PROBABILITY else f"similarity {score:.2f}"


def region_text(region: Region | None, head_found: bool | None) -> str:
    """Which part of the query was matched (Identification.region and .head_found)."""
    if head_found is False:
        return (
            "No head found: the whole photo was matched. If the matches look wrong, draw a box "
            "round the head on the photo."
        )
    if region is None:
        return "The head fills the photo: the whole photo was matched." if head_found else ""
    where = "Head found" if head_found else "Region"
    return f"{where} at {_where(region)}: that part of the photo was matched."


def region_field(region: Region | None) -> str:
    """A region as the region box shows it, `x,y,w,h`; blank for the whole photo."""
    return "" if region is None else ",".join(str(v) for v in region)


def box_note(
    photo: str,
    region: Region | None,
    proposal: Region | None,
    head_found: bool | None,
    corner: tuple[int, int] | None = None,
) -> str:
    """Under the query photo: what its box is and how to change it (Markdown).

    Args:
        region: the box drawn; None = the whole photo is used.
        proposal: the head finder's region; None = the whole photo (no head, or no finder).
        head_found: the head finder's verdict on the photo; None = it was not asked.
        corner: the first corner of a box being drawn, pixels of the photo; None = none.
    """
    if corner is not None:
        return (
            f"{photo}: first corner at x {corner[0]}, y {corner[1]}: now click the opposite "
            "corner of the head."
        )
    redraw = "click two opposite corners of the head on the photo, or edit the region"
    if region is not None and head_found and region == proposal:
        return (
            f"{photo}: head found at {_where(region)}, boxed: that part is matched. "
            f"Not the head? {redraw[0].upper()}{redraw[1:]}."
        )
    if region is not None:
        back = "the head finder's box" if proposal else "the whole photo"
        return (
            f"{photo}: your box at {_where(region)} is matched. To redraw it, {redraw}; "
            f"clear the region to go back to {back}."
        )
    if head_found is False:
        return f"{photo}: No head found: the whole photo is used. To match the head only, {redraw}."
    if head_found:
        return f"{photo}: the head fills the photo: the whole photo is used."
    return f"{photo}: the whole photo is used. To match the head only, {redraw}."


def _where(region: Region) -> str:
    x, y, w, h = region
    return f"x {x}, y {y}, {w} × {h} px"


def thresholds_text(score_kind: str, threshold: float, review_threshold: float | None) -> str:
    """The decision rule in a few words, e.g. `match from p 0.72 · review from p 0.30`."""
    if score_kind != PROBABILITY:
        return f"match from similarity {threshold:.2f}"
    match = f"match from p {threshold:.2f}"
    if review_threshold is None or review_threshold >= threshold:
        return match
    return f"{match} · review from p {review_threshold:.2f}"


def match_headers(score_kind: str = SIMILARITY, keypoints: bool = True) -> list[str]:
    """Columns of the matches table: the score, the raw similarity beside a probability, and
    the inliers when the gallery verifies matches with keypoints."""
    headers = [
        "Rank",
        "Turtle ID",
        "Match probability" if score_kind == PROBABILITY else "Similarity",
    ]
    if score_kind == PROBABILITY:
        headers.append("Similarity")
    return headers + ["Inliers"] if keypoints else headers


def match_rows(
    matches: Sequence[Match], score_kind: str = SIMILARITY, keypoints: bool = True
) -> list[list]:
    """Rows under match_headers, best first; scores as text, so 1.00 is not shown as 1."""
    rows = []
    for rank, m in enumerate(matches, 1):
        row = [rank, m.turtle_id]
        if score_kind == PROBABILITY:
            row += [f"{m.score:.2f}", f"{m.similarity:.2f}"]
        else:
            row.append(f"{m.score:.3f}")
        rows.append(row + [m.inliers] if keypoints else row)
    return rows


def match_items(matches: Sequence[Match]) -> list[tuple[str, str]]:
    """(preview path, turtle ID) per match, best first, as gr.Gallery takes them; the scores
    go in the table beside it (a thumbnail's caption has room for little more than the ID)."""
    return [(str(m.preview), m.turtle_id) for m in matches]


def candidates(matches: Sequence[Match]) -> list[str]:
    """The matched turtles' IDs, best first: the choices for "Add to this turtle"."""
    return [m.turtle_id for m in matches]


def decision_text(
    result: Identification,
    threshold: float,
    gallery_photos: int,
    view: str | None = None,
    score_kind: str = SIMILARITY,
) -> str:
    """The identification in one sentence: match, review or new.

    Args:
        threshold: the score a match must reach (Gallery.threshold).
        gallery_photos: photos in the whole gallery, before the view filter.
        view: the view the gallery was filtered on; None = every view.
        score_kind: what Match.score is (Gallery.score_kind).
    """
    if gallery_photos == 0:
        return "The gallery is empty: register this photo as the first turtle."
    if not result.matches:
        return (
            f"No gallery photo has the view {view!r} or an unknown view: choose another view, "
            "or register this photo as a new turtle."
        )
    best = result.matches[0]
    if result.decision == MATCH:
        return f"This looks like {best.turtle_id} ({score_kind} {best.score:.2f})"
    if result.decision == REVIEW:
        return (
            f"Possibly {best.turtle_id} ({short_score(best.score, score_kind)}): "
            "check the side-by-side view before confirming"
        )
    if score_kind == PROBABILITY:
        return f"No gallery turtle is likely (best p {best.score:.2f}): probably a new turtle"
    return (
        f"No gallery turtle reaches the similarity threshold {threshold:.2f} "
        f"(best {best.score:.2f}): probably a new turtle"
    )


def close_call(
    result: Identification, threshold: float, score_kind: str = SIMILARITY
) -> str | None:
    """A warning when a match is a weak one (see CLOSE_CALL), or when a second turtle matches
    as well; None when it is clear, or when the decision is not a match (its own words say
    what to do then)."""
    if result.decision != MATCH or not result.matches:
        return None
    best = result.matches[0]
    if best.score - threshold < CLOSE_CALL[score_kind]:
        return (
            f"Weak match: {best.turtle_id} ({short_score(best.score, score_kind)}) is just above "
            f"the match threshold {threshold:.2f}: check the side-by-side view before adding to it"
        )
    if len(result.matches) < 2:
        return None
    second = result.matches[1]
    # Each probability is that of one candidate being the turtle, so two can both be high:
    # a second turtle over the match threshold is a conflict, however far below the first.
    if score_kind == PROBABILITY and second.score >= threshold:
        return (
            f"Two turtles match: {best.turtle_id} (p {best.score:.2f}) and {second.turtle_id} "
            f"(p {second.score:.2f}): compare both in the side-by-side view before adding"
        )
    if score_kind != PROBABILITY and best.score - second.score < CLOSE_CALL[score_kind]:
        return (
            f"Close call: {best.turtle_id} ({best.score:.3f}) and {second.turtle_id} "
            f"({second.score:.3f}) are almost as similar: compare the photos before adding"
        )
    return None


def why_text(match: Match, matches: int, inliers: int, score_kind: str = SIMILARITY) -> str:
    """Beside the side-by-side view: the turtle, its score and the keypoint counts (Markdown).

    Args:
        matches: keypoint pairs passing the ratio test.
        inliers: of those, the pairs consistent with one pose (drawn as lines).
    """
    score = f"{score_kind} {match.score:.2f}"
    if score_kind == PROBABILITY:
        score += f" · similarity {match.similarity:.2f}"
    counts = f"{plural(matches, 'keypoint match', 'keypoint matches')}, {plural(inliers, 'inlier')}"
    return (
        f"**{match.turtle_id}**, gallery photo {match.source_name}\n\n{score}\n\n{counts}: "
        "the lines join the inliers, pairs that agree on one position, scale and turn of the head"
    )


def duplicate_text(photo: str, match: Match, score_kind: str = SIMILARITY) -> str:
    """What to do when registering a "new" turtle that looks like a known one (Markdown)."""
    return (
        f"Not registered: {photo} looks like {match.turtle_id} "
        f"({short_score(match.score, score_kind)}). Compare them below; if it is a different "
        "turtle, press **Register anyway**, else add the photo to "
        f"{match.turtle_id}."
    )


def registered_text(photo: str, turtle_id: str, new: bool, photos_now: int) -> str:
    """What a registration did, e.g. `Added IMG_12.JPG to t003 (now 3 photos)`."""
    if new:
        return f"Registered {photo} as the new turtle {turtle_id}"
    return f"Added {photo} to {turtle_id} (now {plural(photos_now, 'photo')})"


def refused_text(message: str) -> str:
    """An action the package refused, kept on the page (a toast alone is gone in seconds)."""
    return f"**Not done:** {message}"


def preselected(result: Identification) -> str | None:
    """The turtle "Add to this turtle" starts with: the best match, unless the decision is a
    new turtle; then the ranger picks one on purpose, so one click cannot file a newcomer's
    photo under a stranger."""
    if not result.matches or result.decision == NEW:
        return None
    return result.matches[0].turtle_id


def rsm_individuals(
    chosen: Sequence[str] | None, every: Sequence[str], cap: int = RSM_MAX_INDIVIDUALS
) -> tuple[list[str] | None, str]:
    """The individuals to draw in the RSM and a note on what was left out.

    Args:
        chosen: IDs the ranger picked; empty or None = every individual.
        every: every individual's ID, in the order to take them.

    Returns:
        the IDs (None = the whole gallery) and "" or a sentence saying what is not shown.
    """
    if chosen:
        if len(chosen) <= cap:
            return list(chosen), ""
        return list(chosen[:cap]), f"Showing the first {cap} of the {len(chosen)} chosen turtles."
    if len(every) <= cap:
        return None, ""
    return list(every[:cap]), (
        f"Showing the first {cap} of {len(every)} turtles: choose turtles above to compare others."
    )


def scores_note(
    calibrated: bool,
    genuine: int,
    impostor: int,
    fitted_on: str,
    threshold: float,
    review_threshold: float | None,
) -> str:
    """What the score histograms show, or why there are none (Markdown).

    Args:
        calibrated: whether a calibrated fusion applies (Gallery.fusion is not None).
        genuine, impostor: how many scores of each the calibration kept.
    """
    if not calibrated:
        return (
            "No calibration fits this encoder and keypoint setting: scores are raw similarities "
            f"({thresholds_text(SIMILARITY, threshold, None)}), with no calibrated evidence to "
            "plot. Fit one with `python -m turtle_id calibrate DATA`."
        )
    if genuine + impostor == 0:
        return (
            f"The calibration fitted on {fitted_on} kept no scores: refit it with "
            "`python -m turtle_id calibrate DATA` to see them here."
        )
    return (
        f"Calibration fitted on {fitted_on}. Green: the true turtle's match probability, "
        f"{plural(genuine, 'query', 'queries')}; red: the best other turtle's, "
        f"{plural(impostor, 'query', 'queries')}. Black lines: the current thresholds "
        f"({thresholds_text(PROBABILITY, threshold, review_threshold)})."
    )


def individual_rows(individuals: Sequence[tuple[str, int, str]]) -> list[list]:
    """Rows under INDIVIDUAL_HEADERS from Gallery.individuals(): ID, photo count, the date
    (YYYY-MM-DD, UTC) the turtle was registered."""
    return [[turtle_id, count, created[:10]] for turtle_id, count, created in individuals]


def photo_caption(row: PhotoRow) -> str:
    """`IMG_12.JPG · left · 2021-06-24`: the file it came from, its view and date if known."""
    date = row.date_taken[:10] if row.date_taken else None
    return " · ".join(part for part in (row.source_name, row.view, date) if part)
