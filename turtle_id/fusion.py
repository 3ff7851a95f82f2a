"""One score from two kinds of evidence: embedding similarity and keypoint inliers.

A logistic model, fitted on labelled dev data, turns an individual's best similarity and its
best inlier count into a ranking score; Platt scaling of that score, fitted on simulated
open-set queries (some turtles left out of the gallery), makes it the probability that the
answer is right. Two thresholds on that probability give the decision: match, review or new.
The fit belongs to one encoder and one keypoint extraction: it is ignored for any other.
"""

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Fusion:
    model_version: str  # encoder the similarities came from
    keypoints: str  # KeypointSettings.key the inliers came from
    weight_similarity: float
    weight_inliers: float  # on log(1 + inliers): the tenth inlier matters less than the first
    bias: float
    match_threshold: float  # probability at or above which the answer is "match"
    fitted_on: str  # what data, for the record

    review_threshold: float | None = None  # below it "new"; None = same as match_threshold
    platt_scale: float = 1.0  # probability = sigmoid(platt_scale * ranking score + platt_bias)
    platt_bias: float = 0.0
    # Calibration evidence, for the score histograms: probabilities of the true individual and
    # of the best impostor per dev query (simulated galleries included).
    genuine: tuple[float, ...] = ()
    impostor: tuple[float, ...] = ()

    def ranking_score(self, similarity: float, inliers: float) -> float:
        w_sim, w_inl = self.weight_similarity, self.weight_inliers
        return self.bias + w_sim * similarity + w_inl * math.log1p(inliers)

    def probability(self, similarity: float, inliers: float) -> float:
        """Calibrated probability that this candidate is the query's individual."""
        z = self.platt_scale * self.ranking_score(similarity, inliers) + self.platt_bias
        return 1.0 / (1.0 + math.exp(-max(min(z, 500.0), -500.0)))

    @property
    def new_threshold(self) -> float:
        """Probability below which the answer is "new turtle"."""
        return self.match_threshold if self.review_threshold is None else self.review_threshold

    def fits(self, model_version: str, keypoints: str) -> bool:
        return self.model_version == model_version and self.keypoints == keypoints

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> "Fusion":
        try:
            values = json.loads(Path(path).read_text())
            values["genuine"] = tuple(values.get("genuine", ()))
            values["impostor"] = tuple(values.get("impostor", ()))
            return cls(**values)
        except (OSError, ValueError, TypeError) as error:
            raise ValueError(
                f"fusion file {path} is unreadable ({error}): refit it with "
                "`python -m turtle_id calibrate DATA`"
            ) from None


def features(similarity: np.ndarray, inliers: np.ndarray) -> np.ndarray:
    """(n, 2) model inputs from (n,) similarities and (n,) inlier counts."""
    return np.column_stack([similarity, np.log1p(inliers)])


def fit_fusion(
    similarity: np.ndarray,
    inliers: np.ndarray,
    same: np.ndarray,
    model_version: str,
    keypoints: str,
    fitted_on: str,
) -> Fusion:
    """Fit the logistic model on (query, candidate individual) pairs.

    Args:
        similarity: (n,) best embedding similarity of the candidate's photos.
        inliers: (n,) best keypoint inlier count of the candidate's photos.
        same: (n,) True where the candidate is the query's individual.
    """
    from sklearn.linear_model import LogisticRegression

    same = np.asarray(same, dtype=bool)
    if same.all() or not same.any():
        raise ValueError(
            f"fusion needs both true and false candidates, got {int(same.sum())} of {len(same)} "
            "true: calibrate on a collection with several individuals seen on several dates"
        )
    x = features(np.asarray(similarity, float), np.asarray(inliers, float))
    # class_weight="balanced": there are many more impostors than true candidates per query,
    # and the decision should weigh a missed turtle and a false match alike.
    model = LogisticRegression(class_weight="balanced", C=10.0).fit(x, same)
    (w_sim, w_inl), bias = model.coef_[0], model.intercept_[0]
    if w_sim < 0:
        # A higher similarity can never be evidence against a match; a negative weight only
        # means the embedding adds nothing here, so rank by the inliers alone.
        model = LogisticRegression(class_weight="balanced", C=10.0).fit(x[:, 1:], same)
        (w_sim, w_inl), bias = (0.0, model.coef_[0][0]), model.intercept_[0]
    return Fusion(
        model_version=model_version,
        keypoints=keypoints,
        weight_similarity=float(w_sim),
        weight_inliers=float(w_inl),
        bias=float(bias),
        match_threshold=0.5,
        fitted_on=fitted_on,
    )
