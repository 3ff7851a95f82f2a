import numpy as np
from PIL import Image

from turtle_id.drawing import HEIGHT, draw_box, side_by_side


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


def test_draw_box_draws_yellow_inside_black_round_the_box_and_a_cross_at_the_mark():
    grey = Image.new("RGB", (200, 100), (128, 128, 128))
    # Line width max(2, round(200 / 128)) = 2: black 4 px inward from each edge, yellow in
    # its middle two; the cross arms reach 12 px from the mark.
    drawn = np.asarray(draw_box(grey, (20, 10, 100, 50), mark=(150, 80)))
    assert tuple(drawn[30, 20]) == (0, 0, 0)
    assert tuple(drawn[30, 21]) == (255, 255, 0) and tuple(drawn[30, 22]) == (255, 255, 0)
    assert tuple(drawn[30, 23]) == (0, 0, 0)
    assert tuple(drawn[30, 24]) == (128, 128, 128)  # inside the box, the photo is untouched
    assert tuple(drawn[80, 160]) == (255, 255, 0) and tuple(drawn[70, 150]) == (255, 255, 0)
    assert tuple(drawn[70, 160]) == (128, 128, 128)  # between the arms
    assert tuple(np.asarray(grey)[30, 20]) == (128, 128, 128)  # drawn on a copy


def test_draw_box_with_neither_box_nor_mark_is_the_picture():
    grey = Image.new("L", (50, 40), 77)
    drawn = draw_box(grey, None)
    assert drawn.mode == "RGB" and drawn.size == (50, 40)
    assert np.all(np.asarray(drawn) == 77)
