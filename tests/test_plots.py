import numpy as np
import pytest

from turtle_id.evaluation import Evaluation, QueryResult
from turtle_id.plots import (
    cumulative_match_curve,
    evaluation_figures,
    grouped_order,
    rsm_figure,
    similarity_matrix,
)


def test_similarity_matrix_is_cosine_worked_by_hand():
    embeddings = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    expected = np.array(
        [[1, 0, 1 / np.sqrt(2)], [0, 1, 1 / np.sqrt(2)], [1 / np.sqrt(2), 1 / np.sqrt(2), 1]]
    )
    np.testing.assert_allclose(similarity_matrix(embeddings), expected, atol=1e-12)


def test_grouped_order_puts_each_individuals_photos_together():
    assert grouped_order(["b", "a", "b", "a", "c"]).tolist() == [1, 3, 0, 2, 4]


def test_rsm_figure_shows_the_grouped_matrix():
    labels = ["b", "a", "b"]
    embeddings = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1]])
    figure = rsm_figure(embeddings, labels)
    shown = figure.axes[0].images[0].get_array()
    # Order a, b, b: the two b photos are similar to each other, not to a.
    np.testing.assert_allclose(shown, similarity_matrix(embeddings[[1, 0, 2]]))
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["a", "b"]


def test_cumulative_match_curve_worked_by_hand():
    queries = [
        QueryResult("q1", "a", [("a", 0.9, 0, 0.9), ("b", 0.5, 0, 0.5)]),  # rank 1
        QueryResult("q2", "b", [("a", 0.9, 0, 0.9), ("b", 0.5, 0, 0.5)]),  # rank 2
    ]
    result = Evaluation("date", 2, 2, queries, fused_with=None)
    figure = cumulative_match_curve(result, max_rank=3)
    (line,) = [ln for ln in figure.axes[0].lines if ln.get_label() == "embedding"]
    assert line.get_ydata().tolist() == [0.5, 1.0, 1.0]


def test_evaluation_figures_are_the_rsm_the_score_histograms_and_the_cmc():
    queries = [QueryResult("q1", "a", [("a", 0.9, 3, 0.9), ("b", 0.5, 0, 0.2)])]
    result = Evaluation(
        "date",
        2,
        2,
        queries,
        fused_with=None,
        embeddings={"q1": np.array([1.0, 0.0]), "gallery:a.jpg": np.array([0.9, 0.1])},
        individual_of={"q1": "a", "gallery:a.jpg": "a"},
    )
    figures = evaluation_figures(result)
    assert set(figures) == {"rsm", "scores", "cmc"}
    bars = figures["scores"].axes[0].patches
    assert sum(b.get_height() for b in bars) == pytest.approx(2)  # one genuine, one impostor
