"""From photo similarities to an answer: per-individual scores and the match / new decision."""

from collections.abc import Sequence
from dataclasses import dataclass

MATCH = "match"
NEW = "new"


@dataclass(frozen=True)
class Candidate:
    individual_id: str
    score: float  # cosine similarity of the individual's best-matching gallery photo
    photo_id: int  # that photo


def best_per_individual(
    photo_ids: Sequence[int], similarities: Sequence[float], individual_of: dict[int, str], top: int
) -> list[Candidate]:
    """Rank individuals by their best photo, highest similarity first.

    Args:
        photo_ids: (n,) gallery photos, in any order.
        similarities: (n,) similarity of each to the query.
        individual_of: photo id -> individual id.
        top: how many individuals to return at most.
    """
    best: dict[str, Candidate] = {}
    for photo_id, similarity in zip(photo_ids, similarities):
        individual = individual_of[int(photo_id)]
        held = best.get(individual)
        if held is None or similarity > held.score:
            best[individual] = Candidate(individual, float(similarity), int(photo_id))
    # Ties break on the ID so that the same gallery always gives the same answer.
    return sorted(best.values(), key=lambda c: (-c.score, c.individual_id))[:top]


def decide(candidates: Sequence[Candidate], threshold: float) -> str:
    """`match` when the best individual reaches the threshold, else `new` (a new turtle)."""
    return MATCH if candidates and candidates[0].score >= threshold else NEW
