"""Ranking metrics, as pure functions: MAP@5 as Turtle Recall scores it, and top-k accuracy."""

from collections.abc import Sequence

NEW_TURTLE = "new_turtle"  # the answer for an individual not in the gallery (Turtle Recall)


def average_precision_at_5(truth: str, ranked: Sequence[str]) -> float:
    """Turtle Recall's per-query score: 1/rank of the true individual in the first five answers,
    0 if it is not among them. Repeats of an earlier answer do not count as a new rank."""
    seen: list[str] = []
    for answer in ranked:
        if answer in seen:
            continue
        seen.append(answer)
        if len(seen) > 5:
            break
        if answer == truth:
            return 1.0 / len(seen)
    return 0.0


def map_at_5(truths: Sequence[str], rankings: Sequence[Sequence[str]]) -> float:
    """Mean of `average_precision_at_5` over queries; 0.0 for no queries."""
    if len(truths) != len(rankings):
        raise ValueError(f"{len(truths)} truths but {len(rankings)} rankings: give one per query")
    if not truths:
        return 0.0
    return sum(average_precision_at_5(t, r) for t, r in zip(truths, rankings)) / len(truths)


def top_k_accuracy(truths: Sequence[str], rankings: Sequence[Sequence[str]], k: int) -> float:
    """Share of queries whose true individual is among the first k answers."""
    if not truths:
        return 0.0
    return sum(t in list(r)[:k] for t, r in zip(truths, rankings)) / len(truths)
