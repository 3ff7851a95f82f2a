import numpy as np
import pytest
from PIL import Image

from tests.synthetic import pattern
from turtle_id.keypoints import KeypointMatcher, Keypoints


def _texture(seed: int, size=(400, 300)) -> Image.Image:
    """Fine random texture: many distinctive corners, like a scute pattern."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 255, (size[1] // 8, size[0] // 8), dtype=np.uint8)
    image = Image.fromarray(coarse).resize(size, Image.BICUBIC)
    return Image.blend(image.convert("RGB"), pattern(seed, size), 0.4)


def test_a_shifted_copy_matches_with_many_inliers_and_the_shift_is_recovered():
    matcher = KeypointMatcher()
    original = _texture(1)
    shifted = Image.new("RGB", original.size)
    shifted.paste(original.crop((20, 10, 400, 300)), (0, 0))  # content moves 20 left, 10 up
    match = matcher.match(matcher.extract(shifted), matcher.extract(original))
    assert match.inliers >= 30
    assert match.inliers <= match.matches
    # Pairs are (query x, y), (gallery x, y) in picture pixels: gallery = query + (20, 10).
    offsets = match.pairs[:, 1] - match.pairs[:, 0]
    np.testing.assert_allclose(np.median(offsets, axis=0), [20, 10], atol=1.5)


def test_a_different_pattern_has_far_fewer_inliers_than_the_same_one():
    matcher = KeypointMatcher()
    query = matcher.extract(_texture(1).rotate(8, resample=Image.BILINEAR))
    same = matcher.match(query, matcher.extract(_texture(1))).inliers
    other = matcher.match(query, matcher.extract(_texture(2))).inliers
    assert same >= 20 and other < same / 3


def test_keypoints_survive_storage_with_their_scale():
    matcher = KeypointMatcher()
    found = matcher.extract(_texture(3, size=(1024, 768)))  # extracted at 512: scale 2
    assert found.scale == pytest.approx(2.0)
    back = Keypoints.from_bytes(found.to_bytes())
    np.testing.assert_array_equal(back.points, found.points)
    np.testing.assert_allclose(back.descriptors, found.descriptors, atol=0.5 / 255 + 1e-6)
    assert back.scale == pytest.approx(2.0)


def test_a_blank_picture_has_no_keypoints_and_matches_nothing():
    matcher = KeypointMatcher()
    blank = matcher.extract(Image.new("RGB", (300, 200), (90, 90, 90)))
    assert len(blank) == 0
    match = matcher.match(blank, matcher.extract(_texture(1)))
    assert (match.matches, match.inliers, match.pairs.shape) == (0, 0, (0, 2, 2))
