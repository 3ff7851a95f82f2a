"""From photo evidence to an answer: per-individual scores and the match / new decision."""

from collections.abc import Sequence
from dataclasses import dataclass

from turtle_id.fusion import Fusion

MATCH = "match"  # confident: this turtle
REVIEW = "review"  # a ranger should look: likely, not certain
NEW = "new"  # no gallery turtle is likely: a new turtle


@dataclass(frozen=True)
class Candidate:
    individual_id: str
    score: float  # what ranks: fused match probability, or the similarity when not fused
    photo_id: int  # the individual's best-matching gallery photo
    similarity: float = 0.0  # best cosine similarity among the individual's photos
    inliers: int = 0  # best keypoint inlier count among its verified photos


def best_per_individual(
    photo_ids: Sequence[int],
    similarities: Sequence[float],
    individual_of: dict[int, str],
    top: int,
    inliers: dict[int, int] | None = None,
    fusion: Fusion | None = None,
) -> list[Candidate]:
    """Rank individuals by the evidence of their photos, best first.

    Args:
        photo_ids: (n,) gallery photos, in any order.
        similarities: (n,) embedding similarity of each to the query.
        individual_of: photo id -> individual id.
        top: how many individuals to return at most.
        inliers: keypoint inliers of the photos that were verified; others count as 0.
        fusion: turns (best similarity, best inliers) into a probability; without it the
            best similarity ranks.
    """
    inliers = inliers or {}
    best_similarity: dict[str, tuple[float, int]] = {}
    best_inliers: dict[str, tuple[int, int]] = {}
    for photo_id, similarity in zip(photo_ids, similarities):
        photo_id, similarity = int(photo_id), float(similarity)
        individual = individual_of[photo_id]
        if individual not in best_similarity or similarity > best_similarity[individual][0]:
            best_similarity[individual] = (similarity, photo_id)
        count = inliers.get(photo_id, 0)
        if individual not in best_inliers or count > best_inliers[individual][0]:
            best_inliers[individual] = (count, photo_id)
    candidates = []
    for individual, (similarity, photo_id) in best_similarity.items():
        count, counted_photo = best_inliers[individual]
        if fusion is None:
            score = similarity
        else:
            score = fusion.probability(similarity, count)
            # Show the photo whose keypoints agree most: it is the one that explains the score.
            photo_id = counted_photo if count > 0 else photo_id
        candidates.append(Candidate(individual, score, photo_id, similarity, count))
    # Ties break on similarity, then on the ID, so the same gallery always gives one answer.
    candidates.sort(key=lambda c: (-c.score, -c.similarity, c.individual_id))
    return candidates[:top]


def decide(
    candidates: Sequence[Candidate], threshold: float, review_threshold: float | None = None
) -> str:
    """`match` when the best individual's score reaches `threshold`, `review` when it reaches
    `review_threshold` (None: no review band), else `new`."""
    best = candidates[0].score if candidates else float("-inf")
    if best >= threshold:
        return MATCH
    if review_threshold is not None and best >= review_threshold:
        return REVIEW
    return NEW
