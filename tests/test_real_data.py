"""Identification on the real dev photos in ../shared/data, split by date.

The floors sit just under what the shipped encoder and keypoint fusion measured (README,
"Measured"): a drop below one means a change made identification worse on real turtles.
"""

import pytest

from turtle_id.datasets import read_collection
from turtle_id.evaluation import evaluate

# data set -> {method: (MAP@5 floor, measured MAP@5)}
FLOORS = {
    "turtle-profiles-dev": {"embedding": (0.30, 0.322), "fused": (0.55, 0.603)},  # head regions
    "seaturtleid-dev": {"embedding": (0.35, 0.376), "fused": (0.42, 0.457)},  # whole photos
}


@pytest.fixture(scope="module")
def evaluations(shared_data, encoder):
    results = {}
    for name in FLOORS:
        collection = read_collection(shared_data / name)
        assert collection.problems == []
        results[name] = evaluate(collection.records, encoder)
    return results


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_map_at_5_on_real_photos_stays_above_its_floor(evaluations, name):
    result = evaluations[name]
    assert result.split == "date" and result.problems == []
    for method, (floor, _) in FLOORS[name].items():
        map5 = result.scores(method)["map5"]
        assert map5 >= floor, f"{name} {method}: MAP@5 {map5:.3f} fell below {floor}"
    # Far above chance: a random ranking of n individuals has MAP@5 about (1 + ... + 1/5) / n.
    chance = sum(1 / r for r in range(1, 6)) / result.individuals
    assert result.scores("fused")["map5"] > 1.8 * chance


def test_keypoint_verification_beats_the_embedding_alone_on_head_profiles(evaluations):
    result = evaluations["turtle-profiles-dev"]
    assert result.fused_with is not None, "the shipped fusion does not fit the shipped encoder"
    assert result.scores("fused")["top1"] > result.scores("embedding")["top1"] + 0.2
