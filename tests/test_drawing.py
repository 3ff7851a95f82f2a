import numpy as np
from PIL import Image

from turtle_id.drawing import HEIGHT, side_by_side


def test_side_by_side_scales_both_to_one_height_and_draws_each_pair_across():
    query = Image.new("RGB", (200, 100), "black")  # scaled x3.6
    gallery = Image.new("RGB", (100, 200), "black")  # scaled x1.8
    pairs = np.array([[[50, 50], [50, 100]]], dtype=np.float32)
    canvas = side_by_side(query, gallery, pairs)
    assert canvas.size == (720 + 180, HEIGHT)
    pixels = np.asarray(canvas)
    # The line runs from (180, 180) on the left to (720 + 90, 180) on the right: its middle
    # row is lit, and a row far from it is still black.
    assert pixels[180, 400].sum() > 0
    assert pixels[20, 400].sum() == 0


def test_side_by_side_without_pairs_is_just_the_two_pictures():
    canvas = side_by_side(
        Image.new("RGB", (10, 10), "red"), Image.new("RGB", (10, 10), "blue"), np.zeros((0, 2, 2))
    )
    pixels = np.asarray(canvas)
    assert tuple(pixels[5, 5]) == (255, 0, 0) and tuple(pixels[5, HEIGHT + 5]) == (0, 0, 255)
