"""Fitting the decision: fusion weights, calibrated probabilities and the two thresholds.

    python -m turtle_id calibrate ../shared/data/turtle-profiles-dev ../shared/data/seaturtleid-dev

Unknown turtles are simulated by leaving random individuals out of the gallery, many times
(`openset.draws`), so the "new turtle" threshold is chosen on queries that really have no match.
"""

from dataclasses import dataclass, replace

import numpy as np

from turtle_id.evaluation import Evaluation
from turtle_id.fusion import Fusion, fit_fusion
from turtle_id.openset import OpenSetScores, draws, open_set_scores, top_answers


@dataclass(frozen=True)
class CalibrationSettings:
    left_out: float = 0.3  # share of queried individuals left out of the gallery per draw
    draws: int = 50  # simulated galleries per collection
    match_precision: float = 0.95  # "match" only where top answers are right this often
    seed: int = 0


def simulated(evaluation: Evaluation, settings: CalibrationSettings, seed_offset: int = 0):
    queries = [(q.truth, q.candidates) for q in evaluation.queries]
    return draws(queries, settings.left_out, settings.draws, settings.seed + seed_offset)


def fit_calibration(
    evaluations: dict[str, Evaluation],
    model_version: str,
    keypoints: str,
    settings: CalibrationSettings = CalibrationSettings(),
) -> Fusion:
    """Fusion weights on every (query, candidate), Platt scaling on simulated top answers,
    then the review ("new" below it) and match thresholds on the calibrated probability."""
    from sklearn.linear_model import LogisticRegression

    parts = [e.pairs() for e in evaluations.values()]
    similarity, inliers, same = (np.concatenate(column) for column in zip(*parts))
    names = ", ".join(f"{name} ({len(e.queries)} queries)" for name, e in evaluations.items())
    fusion = fit_fusion(similarity, inliers, same, model_version, keypoints, fitted_on=names)

    simulations = [simulated(e, settings, i) for i, e in enumerate(evaluations.values())]
    rank = lambda c: fusion.ranking_score(c[1], c[2])  # noqa: E731
    tops = [pair for draws_ in simulations for pair in top_answers(draws_, rank)]
    z = np.array([[rank(best)] for best, _ in tops])
    right = np.array([ok for _, ok in tops])
    # Unweighted: the probability should reflect how often a top answer really is right.
    platt = LogisticRegression(C=100.0).fit(z, right)
    fusion = replace(
        fusion, platt_scale=float(platt.coef_[0][0]), platt_bias=float(platt.intercept_[0])
    )
    probability = lambda c: fusion.probability(c[1], c[2])  # noqa: E731
    p_top = np.array([fusion.probability(best[1], best[2]) for best, _ in tops])

    # Review threshold: the best balance of known turtles answered right and unknown ones
    # answered "new", averaged over collections so a large one does not drown a small one.
    grid = np.unique(np.round(np.r_[p_top, 0.0, 1.0], 3))

    def balance(threshold: float) -> float:
        scores = [open_set_scores(d, probability, threshold) for d in simulations]
        return float(np.mean([(s.baks + s.baus) / 2 for s in scores]))

    review = float(max(grid, key=lambda t: (balance(t), -t)))
    # Match threshold: the lowest probability above which top answers are right often enough.
    match = 1.0
    for threshold in grid[grid >= review]:
        chosen = p_top >= threshold
        if chosen.any() and right[chosen].mean() >= settings.match_precision:
            match = float(threshold)
            break
    genuine, impostor = [], []
    for evaluation in evaluations.values():
        for query in evaluation.queries:
            scores = {c[0]: fusion.probability(c[1], c[2]) for c in query.candidates}
            if query.truth in scores:
                genuine.append(round(scores.pop(query.truth), 4))
            if scores:
                impostor.append(round(max(scores.values()), 4))
    return replace(
        fusion,
        match_threshold=match,
        review_threshold=review,
        genuine=tuple(genuine),
        impostor=tuple(impostor),
    )


def open_set_report(
    evaluation: Evaluation, fusion: Fusion, settings: CalibrationSettings = CalibrationSettings()
) -> OpenSetScores:
    """MAP@5 with new_turtle, BAKS and BAUS of `fusion`'s probability and new threshold."""
    probability = lambda c: fusion.probability(c[1], c[2])  # noqa: E731
    return open_set_scores(simulated(evaluation, settings), probability, fusion.new_threshold)
