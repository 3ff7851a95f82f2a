import math

import pytest

from turtle_id.matching import MATCH, NEW, REVIEW, Candidate, decide
from turtle_id.metrics import NEW_TURTLE
from turtle_id.openset import OpenQuery, answers, draws, open_set_scores, top_answers

# Candidates are (individual, score); the score function reads index 1.
score = lambda c: c[1]  # noqa: E731
Q1 = ("A", [("A", 0.9), ("B", 0.5)])
Q2 = ("B", [("A", 0.6), ("B", 0.4)])


def test_new_turtle_is_placed_after_every_candidate_that_reaches_the_threshold():
    assert answers(OpenQuery("A", "A", Q1[1]), score, 0.7) == ["A", NEW_TURTLE, "B"]
    assert answers(OpenQuery("B", "B", Q2[1]), score, 0.7) == [NEW_TURTLE, "A", "B"]
    assert answers(OpenQuery("B", "B", Q2[1]), score, 0.1) == ["A", "B", NEW_TURTLE]


def test_open_set_scores_worked_by_hand_with_everyone_known():
    (known,) = draws([Q1, Q2], share=0.0, n_draws=1)
    result = open_set_scores([known], score, 0.7)
    # q1: [A, new, B] -> AP 1; q2: [new, A, B] -> AP 1/3. BAKS: A right, B wrong -> 0.5.
    assert result.map5 == pytest.approx((1 + 1 / 3) / 2)
    assert result.baks == pytest.approx(0.5)
    assert math.isnan(result.baus)


def test_a_left_out_individual_is_right_only_when_answered_new():
    queries = [OpenQuery("A", "A", Q1[1]), OpenQuery(NEW_TURTLE, "B", [("A", 0.6)])]
    at_07 = open_set_scores([queries], score, 0.7)
    assert (at_07.map5, at_07.baks, at_07.baus) == (1.0, 1.0, 1.0)
    at_05 = open_set_scores([queries], score, 0.5)  # B's query now answers A first: [A, new]
    assert at_05.map5 == pytest.approx((1 + 0.5) / 2) and at_05.baus == 0.0


def test_draws_leave_out_the_share_of_individuals_and_drop_them_from_candidates():
    queries = [(i, [(j, 0.1) for j in "ABCD"]) for i in "ABCD"]
    for draw in draws(queries, share=0.5, n_draws=5, seed=1):
        unknown = {q.individual for q in draw if q.truth == NEW_TURTLE}
        assert len(unknown) == 2
        for q in draw:
            assert {c[0] for c in q.candidates} == set("ABCD") - unknown


def test_top_answers_pair_each_best_candidate_with_its_correctness():
    queries = [OpenQuery("A", "A", Q1[1]), OpenQuery(NEW_TURTLE, "B", [("A", 0.6)])]
    assert top_answers([queries], score) == [(("A", 0.9), True), (("A", 0.6), False)]


def test_three_way_decision():
    best = [Candidate("A", 0.6, 1)]
    assert decide(best, threshold=0.5, review_threshold=0.3) == MATCH
    assert decide(best, threshold=0.7, review_threshold=0.3) == REVIEW
    assert decide(best, threshold=0.9, review_threshold=0.7) == NEW
    assert decide(best, threshold=0.7) == NEW  # no review band
