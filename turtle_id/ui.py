"""Words and table rows for the web app, made from the package's results.

Pure functions of their arguments (no Gradio, no files), so `tests/test_ui.py` checks them
without a browser; `app.py` only places what they return on the page.
"""

from collections.abc import Sequence

from turtle_id.catalogue import PhotoRow
from turtle_id.gallery import Identification, Match
from turtle_id.matching import MATCH
from turtle_id.settings import VIEWS

ANY_VIEW = "any"  # the view choice that matches gallery photos of every view
VIEW_CHOICES = (ANY_VIEW, *VIEWS)
INDIVIDUAL_HEADERS = ["Turtle ID", "Photos", "Registered"]
# Similarity gap (cosine) under which a match is a close call: the best turtle is this close to
# the threshold, or to the runner-up, so a person should compare the photos before adding to it.
CLOSE_CALL = 0.03


def view_of(choice: str | None) -> str | None:
    """The view to filter the gallery on: None for "any" or no choice."""
    return None if choice in (None, "", ANY_VIEW) else choice


def plural(count: int, noun: str) -> str:
    """`1 photo`, `2 photos`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def gallery_summary(photos: int, individuals: int) -> str:
    """`12 photos of 6 turtles`, or `empty` for a gallery with no photos."""
    if photos == 0:
        return "empty"
    return f"{plural(photos, 'photo')} of {plural(individuals, 'turtle')}"


def caption(match: Match) -> str:
    """`t003 · 0.912`: the turtle and the similarity of its best gallery photo."""
    return f"{match.turtle_id} · {match.score:.3f}"


def match_items(matches: Sequence[Match]) -> list[tuple[str, str]]:
    """(preview path, caption) per match, best first, as gr.Gallery takes them."""
    return [(str(m.preview), caption(m)) for m in matches]


def candidates(matches: Sequence[Match]) -> list[str]:
    """The matched turtles' IDs, best first: the choices for "Add to this turtle"."""
    return [m.turtle_id for m in matches]


def decision_text(
    result: Identification,
    threshold: float,
    gallery_photos: int,
    view: str | None = None,
    score_name: str = "similarity",
) -> str:
    """The identification in one sentence.

    Args:
        threshold: the score a match must reach (Gallery.threshold).
        gallery_photos: photos in the whole gallery, before the view filter.
        view: the view the gallery was filtered on; None = every view.
        score_name: what Match.score is, in words ("similarity", "match probability").
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
        return f"This looks like {best.turtle_id} ({score_name} {best.score:.2f})"
    return f"No gallery turtle reaches the threshold {threshold:.2f}: probably a new turtle"


def close_call(result: Identification, threshold: float) -> str | None:
    """A warning when the match is a close call (see CLOSE_CALL); None when it is clear or
    when the decision is a new turtle."""
    if result.decision != MATCH or not result.matches:
        return None
    best = result.matches[0]
    if best.score - threshold < CLOSE_CALL:
        return (
            f"Weak match: {best.turtle_id} scores {best.score:.3f}, just above the threshold "
            f"{threshold:.2f}: compare the photos before adding to it"
        )
    if len(result.matches) > 1 and best.score - result.matches[1].score < CLOSE_CALL:
        second = result.matches[1]
        return (
            f"Close call: {best.turtle_id} ({best.score:.3f}) and {second.turtle_id} "
            f"({second.score:.3f}) are almost as similar: compare the photos before adding"
        )
    return None


def registered_text(photo: str, turtle_id: str, new: bool, photos_now: int) -> str:
    """What a registration did, e.g. `Added IMG_12.JPG to t003 (now 3 photos)`."""
    if new:
        return f"Registered {photo} as the new turtle {turtle_id}"
    return f"Added {photo} to {turtle_id} (now {plural(photos_now, 'photo')})"


def individual_rows(individuals: Sequence[tuple[str, int, str]]) -> list[list]:
    """Rows under INDIVIDUAL_HEADERS from Gallery.individuals(): ID, photo count, the date
    (YYYY-MM-DD, UTC) the turtle was registered."""
    return [[turtle_id, count, created[:10]] for turtle_id, count, created in individuals]


def photo_caption(row: PhotoRow) -> str:
    """`IMG_12.JPG · left · 2021-06-24`: the file it came from, its view and date if known."""
    date = row.date_taken[:10] if row.date_taken else None
    return " · ".join(part for part in (row.source_name, row.view, date) if part)
