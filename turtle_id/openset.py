"""Open-set scoring: some query turtles are not in the gallery, and `new_turtle` is an answer.

Pure functions over evaluated queries. Leaving an individual out of the gallery is simulated by
dropping it from each query's candidates: every other individual's evidence is unchanged, so
many random draws cost no re-enrolment.
"""

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from turtle_id.metrics import NEW_TURTLE, average_precision_at_5

# One query's candidates: (individual, similarity, inliers, ...), any order.
Candidates = Sequence[tuple]
Score = Callable[[tuple], float]  # candidate -> score (higher = more likely the same)


@dataclass(frozen=True)
class OpenQuery:
    truth: str  # the individual, or NEW_TURTLE when it was left out of the gallery
    individual: str  # the real individual, also when left out
    candidates: Candidates  # the gallery individuals left in


def draws(
    queries: Sequence[tuple[str, Candidates]], share: float, n_draws: int, seed: int = 0
) -> list[list[OpenQuery]]:
    """`n_draws` simulated galleries, each leaving out `share` of the queried individuals.

    Args:
        queries: (true individual, candidates) per query.
    """
    individuals = sorted({truth for truth, _ in queries})
    n_out = max(1, round(share * len(individuals))) if share > 0 else 0
    rng = random.Random(seed)
    result = []
    for _ in range(n_draws):
        left_out = set(rng.sample(individuals, n_out))
        result.append(
            [
                OpenQuery(
                    NEW_TURTLE if truth in left_out else truth,
                    truth,
                    [c for c in candidates if c[0] not in left_out],
                )
                for truth, candidates in queries
            ]
        )
    return result


def answers(query: OpenQuery, score: Score, new_threshold: float) -> list[str]:
    """The ranked answers, with `new_turtle` placed after every candidate that reaches the
    threshold (the Turtle Recall / Kaggle convention)."""
    ranked = sorted(query.candidates, key=lambda c: (-score(c), c[0]))
    above = [c[0] for c in ranked if score(c) >= new_threshold]
    below = [c[0] for c in ranked if score(c) < new_threshold]
    return above + [NEW_TURTLE] + below


@dataclass(frozen=True)
class OpenSetScores:
    map5: float  # MAP@5 with new_turtle as an answer
    baks: float  # balanced accuracy over known individuals: top answer right
    baus: float  # balanced accuracy over unknown individuals: top answer new_turtle
    queries: int


def open_set_scores(
    draws_: Sequence[Sequence[OpenQuery]], score: Score, new_threshold: float
) -> OpenSetScores:
    """MAP@5, BAKS and BAUS averaged over simulated draws."""
    map5, baks, baus, count = [], [], [], 0
    for queries in draws_:
        known: dict[str, list[bool]] = defaultdict(list)
        unknown: dict[str, list[bool]] = defaultdict(list)
        precisions = []
        for query in queries:
            ranked = answers(query, score, new_threshold)
            precisions.append(average_precision_at_5(query.truth, ranked))
            (unknown if query.truth == NEW_TURTLE else known)[query.individual].append(
                ranked[0] == query.truth
            )
        count += len(queries)
        map5.append(sum(precisions) / max(len(precisions), 1))
        if known:
            baks.append(sum(sum(v) / len(v) for v in known.values()) / len(known))
        if unknown:
            baus.append(sum(sum(v) / len(v) for v in unknown.values()) / len(unknown))
    mean = lambda values: sum(values) / len(values) if values else float("nan")  # noqa: E731
    return OpenSetScores(mean(map5), mean(baks), mean(baus), count)


def top_answers(draws_: Sequence[Sequence[OpenQuery]], score: Score) -> list[tuple[tuple, bool]]:
    """Each simulated query's best candidate and whether it is the right answer (for an
    unknown individual it never is)."""
    pairs = []
    for queries in draws_:
        for query in queries:
            if query.candidates:
                best = max(query.candidates, key=lambda c: (score(c), c[0]))
                pairs.append((best, best[0] == query.truth))
    return pairs
