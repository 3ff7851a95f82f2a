import pytest

from turtle_id.metrics import average_precision_at_5, map_at_5, top_k_accuracy


def test_average_precision_is_one_over_the_rank_of_the_true_individual():
    assert average_precision_at_5("a", ["a", "b", "c"]) == 1.0
    assert average_precision_at_5("c", ["a", "b", "c"]) == pytest.approx(1 / 3)
    assert average_precision_at_5("e", ["a", "b", "c", "d", "e"]) == pytest.approx(1 / 5)


def test_average_precision_is_zero_beyond_five_answers_or_when_absent():
    assert average_precision_at_5("f", ["a", "b", "c", "d", "e", "f"]) == 0.0
    assert average_precision_at_5("z", ["a", "b"]) == 0.0
    assert average_precision_at_5("a", []) == 0.0


def test_repeated_answers_do_not_push_the_true_individual_down():
    assert average_precision_at_5("b", ["a", "a", "b"]) == 0.5


def test_map_at_5_on_a_tiny_ranking_worked_by_hand():
    truths = ["a", "b", "c", "new_turtle"]
    rankings = [
        ["a", "b", "c", "d", "e"],  # rank 1 -> 1
        ["a", "b", "c", "d", "e"],  # rank 2 -> 1/2
        ["x", "y", "z", "w", "v"],  # absent -> 0
        ["new_turtle", "a"],  # rank 1 -> 1
    ]
    assert map_at_5(truths, rankings) == pytest.approx((1 + 0.5 + 0 + 1) / 4)


def test_map_at_5_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="2 truths but 1 rankings"):
        map_at_5(["a", "b"], [["a"]])


def test_top_k_accuracy_counts_truths_within_the_first_k():
    truths = ["a", "b", "c"]
    rankings = [["a", "b"], ["a", "b"], ["a", "b"]]
    assert top_k_accuracy(truths, rankings, 1) == pytest.approx(1 / 3)
    assert top_k_accuracy(truths, rankings, 2) == pytest.approx(2 / 3)
    assert top_k_accuracy([], [], 5) == 0.0
