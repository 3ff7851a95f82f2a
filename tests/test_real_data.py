"""Identification on the real dev photos in ../shared/data, split by date.

The floors sit just under what the shipped encoder measured (README, "Measured"): a drop below
one means a change made identification worse on real turtles.
"""

import pytest

from turtle_id.datasets import read_collection
from turtle_id.evaluation import evaluate

# data set -> (MAP@5 floor, measured MAP@5 with assets/encoder.onnx)
FLOORS = {
    "turtle-profiles-dev": (0.30, 0.322),  # head regions, same side only
    "seaturtleid-dev": (0.35, 0.376),  # whole photos
}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_map_at_5_on_real_photos_stays_above_its_floor(shared_data, encoder, name):
    collection = read_collection(shared_data / name)
    assert collection.problems == []
    result = evaluate(collection.records, encoder)
    assert result.split == "date"
    assert result.problems == []
    floor, _ = FLOORS[name]
    assert result.map5 >= floor, f"{name}: MAP@5 {result.map5:.3f} fell below {floor}"
    # Far above chance: a random ranking of n individuals has MAP@5 about (1 + ... + 1/5) / n.
    chance = sum(1 / r for r in range(1, 6)) / result.individuals
    assert result.map5 > 1.5 * chance
