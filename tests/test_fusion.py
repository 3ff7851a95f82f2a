import math

import numpy as np
import pytest

from turtle_id.fusion import Fusion, fit_fusion
from turtle_id.matching import best_per_individual


def _fusion(**overrides):
    values = dict(
        model_version="m1",
        keypoints="k1",
        weight_similarity=2.0,
        weight_inliers=1.0,
        bias=-3.0,
        match_threshold=0.5,
        fitted_on="hand",
    )
    return Fusion(**(values | overrides))


def test_probability_worked_by_hand():
    # z = -3 + 2 * 0.5 + 1 * ln(1 + e - 1) = -3 + 1 + 1 = -1
    assert _fusion().probability(0.5, math.e - 1) == pytest.approx(1 / (1 + math.e))
    assert _fusion().probability(1.0, 0) == pytest.approx(1 / (1 + math.exp(1.0)))


def test_fusion_applies_only_to_its_own_encoder_and_keypoints():
    assert _fusion().fits("m1", "k1")
    assert not _fusion().fits("m2", "k1") and not _fusion().fits("m1", "k2")


def test_save_and_load_round_trip(tmp_path):
    _fusion().save(tmp_path / "f.json")
    assert Fusion.load(tmp_path / "f.json") == _fusion()
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="calibrate"):
        Fusion.load(tmp_path / "bad.json")


def test_fit_learns_that_inliers_and_similarity_both_raise_the_probability():
    rng = np.random.default_rng(0)
    same = np.r_[np.ones(200, bool), np.zeros(800, bool)]
    similarity = np.where(same, rng.normal(0.8, 0.05, 1000), rng.normal(0.7, 0.05, 1000))
    inliers = np.where(same, rng.poisson(25, 1000), rng.poisson(3, 1000))
    fusion = fit_fusion(similarity, inliers, same, "m1", "k1", "synthetic")
    assert fusion.weight_similarity > 0 and fusion.weight_inliers > 0
    assert fusion.probability(0.8, 25) > 0.9 > 0.1 > fusion.probability(0.7, 3)


def test_fit_refuses_data_with_only_one_kind_of_candidate():
    with pytest.raises(ValueError, match="both true and false"):
        fit_fusion(np.ones(3), np.ones(3), np.ones(3, bool), "m1", "k1", "x")


def test_fused_ranking_lets_keypoint_evidence_overtake_a_higher_similarity():
    individual_of = {1: "a", 2: "b", 3: "b"}
    fusion = _fusion()
    ranked = best_per_individual(
        [1, 2, 3], [0.9, 0.8, 0.6], individual_of, top=2, inliers={1: 0, 2: 1, 3: 40}, fusion=fusion
    )
    assert [c.individual_id for c in ranked] == ["b", "a"]
    b = ranked[0]
    # b: best similarity 0.8 (photo 2), best inliers 40 (photo 3), shown photo = photo 3.
    assert (b.similarity, b.inliers, b.photo_id) == (pytest.approx(0.8), 40, 3)
    assert b.score == pytest.approx(fusion.probability(0.8, 40))


def test_a_similarity_that_carries_no_evidence_gets_weight_zero_not_a_negative_one():
    rng = np.random.default_rng(1)
    same = np.r_[np.ones(200, bool), np.zeros(800, bool)]
    # Impostors slightly MORE similar than true individuals; inliers tell them apart.
    similarity = np.where(same, rng.normal(0.70, 0.05, 1000), rng.normal(0.72, 0.05, 1000))
    inliers = np.where(same, rng.poisson(25, 1000), rng.poisson(3, 1000))
    fusion = fit_fusion(similarity, inliers, same, "m1", "k1", "synthetic")
    assert fusion.weight_similarity == 0.0 and fusion.weight_inliers > 0
