from pathlib import Path

import pytest

from tests.synthetic import write_individuals
from turtle_id.datasets import PhotoRecord
from turtle_id.evaluation import (
    Evaluation,
    QueryResult,
    equal_error_threshold,
    evaluate,
    ranked,
    split_gallery_queries,
)


def _r(name, individual, date=None):
    return PhotoRecord(Path(name), individual, date=date)


def test_dated_split_puts_each_individuals_earliest_date_in_the_gallery():
    records = [
        _r("a1", "A", "2020-01-01"),
        _r("a2", "A", "2020-01-01"),
        _r("a3", "A", "2021-06-01"),
        _r("b1", "B", "2019-05-05"),  # one date only: a gallery distractor
        _r("c1", "C", "2022-02-02"),
        _r("c2", "C", "2018-02-02"),
    ]
    gallery, queries, split = split_gallery_queries(records)
    assert split == "date"
    assert sorted(str(r.path) for r in gallery) == ["a1", "a2", "b1", "c2"]
    assert sorted(str(r.path) for r in queries) == ["a3", "c1"]


def test_undated_split_is_seeded_and_keeps_one_photo_individuals_in_the_gallery():
    records = [_r(f"a{i}", "A") for i in range(4)] + [_r("b0", "B")]
    first = split_gallery_queries(records, seed=3)
    assert first == split_gallery_queries(records, seed=3)
    gallery, queries, split = first
    assert split == "seeded" and (len(gallery), len(queries)) == (3, 2)
    assert "b0" in {str(r.path) for r in gallery}


def test_equal_error_threshold_worked_by_hand():
    # At 0.6, genuine below: 1 of 4 (0.5); impostors at or above: 1 of 4 (0.7): equal.
    assert equal_error_threshold([0.5, 0.6, 0.8, 0.9], [0.1, 0.2, 0.55, 0.7]) == pytest.approx(0.6)
    assert equal_error_threshold([], [0.1]) is None


def test_evaluate_scores_distinct_synthetic_individuals_perfectly(tmp_path, encoder):
    photos = write_individuals(tmp_path, n_individuals=5, shots=3)
    records = [
        PhotoRecord(path, individual, date=f"2020-01-0{1 + (shot > 0)}")
        for individual, paths in photos.items()
        for shot, path in enumerate(paths)
    ]
    result = evaluate(records, encoder)
    assert (result.gallery_photos, len(result.queries), result.individuals) == (5, 10, 5)
    for method in ("embedding", "keypoints", "fused"):
        assert result.scores(method) == {"map5": 1.0, "top1": 1.0, "top5": 1.0}, method
    genuine, impostor = result.genuine_and_impostor("embedding")
    assert len(genuine) == 10 and len(impostor) == 10
    assert min(genuine) > max(impostor)
    similarity, inliers, same = result.pairs()
    assert len(same) == 10 * 5 and same.sum() == 10  # every query against every individual


def test_rankings_by_method_worked_by_hand():
    query = QueryResult("q.jpg", "b", [("a", 0.9, 2, 0.3), ("b", 0.7, 30, 0.9), ("c", 0.8, 1, 0.1)])
    assert ranked(query, "embedding") == ["a", "c", "b"]
    assert ranked(query, "keypoints") == ["b", "a", "c"]
    assert ranked(query, "fused") == ["b", "a", "c"]
    result = Evaluation("date", 3, 3, [query], fused_with="hand")
    assert result.scores("embedding") == {"map5": pytest.approx(1 / 3), "top1": 0.0, "top5": 1.0}
    assert result.scores("fused")["map5"] == 1.0
