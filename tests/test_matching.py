import pytest

from turtle_id.matching import MATCH, NEW, Candidate, best_per_individual, decide


def test_each_individual_is_scored_by_its_best_photo():
    individual_of = {1: "a", 2: "a", 3: "b", 4: "c", 5: "b"}
    ranked = best_per_individual([1, 2, 3, 4, 5], [0.5, 0.9, 0.7, 0.8, 0.2], individual_of, top=5)
    assert [(c.individual_id, c.score, c.photo_id) for c in ranked] == [
        ("a", pytest.approx(0.9), 2),
        ("c", pytest.approx(0.8), 4),
        ("b", pytest.approx(0.7), 3),
    ]


def test_only_the_top_individuals_are_returned_and_ties_break_on_the_id():
    individual_of = {1: "b", 2: "a", 3: "c"}
    ranked = best_per_individual([1, 2, 3], [0.5, 0.5, 0.1], individual_of, top=2)
    assert [c.individual_id for c in ranked] == ["a", "b"]


def test_decision_is_match_only_at_or_above_the_threshold():
    assert decide([Candidate("a", 0.8, 1)], threshold=0.8) == MATCH
    assert decide([Candidate("a", 0.79, 1)], threshold=0.8) == NEW
    assert decide([], threshold=0.0) == NEW
