"""Decoding photos: formats, bit depths, EXIF, JPEG draft mode, regions and bad files.

Every image is generated here into tmp_path; expected pixel values are worked out by hand.
"""

import io
import re

import numpy as np
import PIL.Image
import pytest
from PIL import Image, ImageDraw

from turtle_id.photo import Photo, PhotoError, crop, load_photo, parse_region

RED = (220, 20, 30)
BLUE = (20, 40, 210)


def _save(image: Image.Image, path, **params) -> str:
    image.save(path, **params)
    return str(path)


def _jpeg_bytes(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, **params)
    return buffer.getvalue()


def _pixel(photo: Photo, xy: tuple[int, int]) -> tuple[int, int, int]:
    return photo.image.getpixel(xy)


def _close(actual, expected, tolerance: int) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected))


# Formats and bit depths


@pytest.mark.parametrize(
    ("suffix", "params", "tolerance"),
    [
        (".jpg", {"quality": 95}, 6),
        (".png", {}, 0),
        (".webp", {"quality": 95}, 8),
        (".tif", {}, 0),
    ],
)
def test_common_formats_decode_to_8_bit_rgb_of_the_stored_size(tmp_path, suffix, params, tolerance):
    path = _save(Image.new("RGB", (64, 48), RED), tmp_path / f"turtle{suffix}", **params)

    photo = load_photo(path)

    assert photo.image.mode == "RGB"
    assert photo.image.size == (64, 48)
    assert photo.size == (64, 48)
    assert photo.scale == 1.0
    assert _close(_pixel(photo, (32, 24)), RED, tolerance)


def test_greyscale_photo_becomes_rgb_with_equal_channels(tmp_path):
    path = _save(Image.new("L", (40, 40), 77), tmp_path / "grey.png")

    photo = load_photo(path)

    assert photo.image.mode == "RGB"
    assert _pixel(photo, (20, 20)) == (77, 77, 77)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_greyscale_is_scaled_to_8_bits_not_clipped(tmp_path, suffix):
    # Four 10-pixel-wide columns. 65535 -> 255; 32768 * 255 / 65535 = 127.5019 -> 128;
    # 255 * 255 / 65535 = 0.99 -> 1 (clipping would give 255, 255, 0, 255).
    values = np.array([65535, 32768, 0, 255], dtype=np.uint16)
    array = np.repeat(values, 10)[None, :].repeat(40, axis=0)
    image = Image.fromarray(array)
    assert image.mode == "I;16"
    path = _save(image, tmp_path / f"grey16{suffix}")

    photo = load_photo(path)

    assert photo.image.mode == "RGB"
    assert photo.size == (40, 40)
    assert [_pixel(photo, (x, 20))[0] for x in (5, 15, 25, 35)] == [255, 128, 0, 1]


def test_cmyk_jpeg_keeps_its_colour_in_rgb(tmp_path):
    # CMYK (0, 255, 255, 0): no cyan, full magenta and yellow, no black = red.
    path = _save(Image.new("CMYK", (48, 48), (0, 255, 255, 0)), tmp_path / "cmyk.jpg", quality=95)

    photo = load_photo(path)

    assert photo.image.mode == "RGB"
    assert _close(_pixel(photo, (24, 24)), (255, 0, 0), 6)


def test_rgba_png_puts_transparent_pixels_on_mid_grey_and_keeps_opaque_ones(tmp_path):
    image = Image.new("RGBA", (60, 40), (0, 0, 255, 0))  # left third: blue, fully transparent
    image.paste((10, 200, 30, 255), (20, 0, 40, 40))  # middle third: opaque green
    image.paste((255, 0, 0, 128), (40, 0, 60, 40))  # right third: half-transparent red
    path = _save(image, tmp_path / "alpha.png")

    photo = load_photo(path)

    assert _pixel(photo, (10, 20)) == (128, 128, 128)
    assert _pixel(photo, (30, 20)) == (10, 200, 30)
    # Over grey 128 with alpha 128/255: 255 * 0.502 + 128 * 0.498 = 191.7, 128 * 0.498 = 63.7.
    assert _close(_pixel(photo, (50, 20)), (192, 64, 64), 1)


def test_la_png_puts_transparent_pixels_on_mid_grey_and_keeps_opaque_ones(tmp_path):
    image = Image.new("LA", (40, 40), (200, 0))
    image.paste((200, 255), (20, 0, 40, 40))
    path = _save(image, tmp_path / "grey_alpha.png")

    photo = load_photo(path)

    assert _pixel(photo, (10, 20)) == (128, 128, 128)
    assert _pixel(photo, (30, 20)) == (200, 200, 200)


def test_palette_png_with_transparent_index_puts_it_on_mid_grey(tmp_path):
    image = Image.new("P", (40, 40), 0)
    image.putpalette([0, 0, 0, 10, 200, 30])  # index 0 black (made transparent), 1 green
    image.paste(1, (20, 0, 40, 40))
    path = _save(image, tmp_path / "palette.png", transparency=0)

    photo = load_photo(path)

    assert _pixel(photo, (10, 20)) == (128, 128, 128)
    assert _pixel(photo, (30, 20)) == (10, 200, 30)


def test_multi_picture_jpeg_from_a_camera_loads_as_a_still_photo(tmp_path):
    # Many cameras and phones write MPO: a JPEG followed by a second picture (a preview or a
    # depth map). Pillow opens it as a 2-frame "MPO"; it is a still photo, not an animation.
    path = tmp_path / "camera.jpg"
    Image.new("RGB", (64, 48), RED).save(
        path, "MPO", save_all=True, append_images=[Image.new("RGB", (64, 48), BLUE)]
    )
    assert Image.open(path).format == "MPO"

    photo = load_photo(path)

    assert photo.size == (64, 48)
    assert _close(_pixel(photo, (32, 24)), RED, 6)


# EXIF


def test_exif_orientation_6_turns_the_photo_upright(tmp_path):
    # Stored 300x200 with a red block in the top-left corner. Orientation 6 means "rotate 90
    # degrees clockwise to view": the stored top-left corner ends up top-right, 200x300.
    image = Image.new("RGB", (300, 200), BLUE)
    image.paste(RED, (0, 0, 50, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _save(image, tmp_path / "rotated.jpg", exif=exif, quality=95)

    photo = load_photo(path)

    assert photo.image.size == (200, 300)
    assert photo.size == (200, 300)
    # The red block (50 wide, 30 high stored) now spans x 170..199, y 0..49.
    assert _close(_pixel(photo, (185, 25)), RED, 10)
    assert _close(_pixel(photo, (15, 25)), BLUE, 10)
    assert _close(_pixel(photo, (185, 280)), BLUE, 10)


def test_exif_date_time_original_becomes_taken(tmp_path):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2023:07:14 09:30:05"
    path = _save(Image.new("RGB", (64, 64), RED), tmp_path / "dated.jpg", exif=exif)

    assert load_photo(path).taken == "2023-07-14 09:30:05"


def test_taken_is_none_without_exif_date(tmp_path):
    path = _save(Image.new("RGB", (64, 64), RED), tmp_path / "undated.jpg")

    assert load_photo(path).taken is None


# JPEG draft mode


@pytest.fixture(scope="module")
def large_jpeg() -> bytes:
    # 4000x3000 blue with a red block filling the left half of the region (800, 600, 1600, 1200).
    image = Image.new("RGB", (4000, 3000), BLUE)
    image.paste(RED, (800, 600, 1600, 1800))
    return _jpeg_bytes(image)


def test_draft_decodes_a_large_jpeg_reduced_but_keeps_the_target(large_jpeg):
    photo = load_photo(large_jpeg, "large.jpg", target=224)

    assert photo.size == (4000, 3000)
    assert photo.scale < 1
    assert min(photo.image.size) >= 224


@pytest.mark.parametrize(
    ("target", "expected_size"),
    [
        (224, (500, 375)),  # 3000 / 8 = 375 >= 224
        (100, (500, 375)),  # 1/8 is the smallest reduction JPEG offers
        (400, (1000, 750)),  # 3000 / 8 = 375 < 400, 3000 / 4 = 750 >= 400
        (1600, (4000, 3000)),  # 3000 / 2 = 1500 < 1600: full size
    ],
)
def test_draft_picks_the_smallest_reduction_that_keeps_the_target(
    large_jpeg, target, expected_size
):
    photo = load_photo(large_jpeg, "large.jpg", target=target)

    assert photo.image.size == expected_size
    assert photo.scale == expected_size[0] / 4000


def test_target_0_decodes_a_jpeg_at_full_size(large_jpeg):
    photo = load_photo(large_jpeg, "large.jpg")

    assert photo.image.size == (4000, 3000)
    assert photo.scale == 1.0


def test_draft_keeps_the_target_on_a_small_region(large_jpeg):
    # A 400x300 region needs 224 pixels on 300: 300 / 2 = 150 is too few, so full size.
    region = (1000, 1000, 400, 300)

    photo = load_photo(large_jpeg, "large.jpg", target=224, region=region)
    part = crop(photo, region, "large.jpg")

    assert min(part.size) >= 224
    assert part.size == (400, 300)


def test_draft_reduction_follows_the_region_not_the_whole_photo(large_jpeg):
    # Region 1600x1200: 1200 / 8 = 150 < 224, 1200 / 4 = 300 >= 224, so 1/4.
    region = (800, 600, 1600, 1200)

    photo = load_photo(large_jpeg, "large.jpg", target=224, region=region)
    part = crop(photo, region, "large.jpg")

    assert photo.scale == 0.25
    assert part.size == (400, 300)


@pytest.mark.parametrize(
    ("stored", "region", "target", "scale"),
    [
        # 449 // 4 = 112 >= 112 but 449 // 8 = 56: 1/4 (1003 rounds up to 251 pixels).
        ((1003, 755), (13, 7, 449, 451), 112, 251 / 1003),
        # 3001 // 8 = 375 >= 375: 1/8 of an odd width rounds up to 501 pixels.
        ((4001, 3001), None, 375, 501 / 4001),
        # 3001 // 8 = 375 < 376: 1/4.
        ((4001, 3001), None, 376, 1001 / 4001),
    ],
)
def test_draft_keeps_the_target_at_the_edge_of_a_reduction(stored, region, target, scale):
    photo = load_photo(_jpeg_bytes(Image.new("RGB", stored, RED)), target=target, region=region)
    part = crop(photo, region)

    assert photo.scale == scale
    assert min(part.size) >= target


def test_draft_applies_to_multi_picture_jpegs(tmp_path):
    path = tmp_path / "camera.jpg"
    Image.new("RGB", (1600, 1200), RED).save(
        path, "MPO", save_all=True, append_images=[Image.new("RGB", (160, 120), BLUE)]
    )

    photo = load_photo(path, target=150)  # 1200 / 8 = 150

    assert photo.image.size == (200, 150)
    assert _close(_pixel(photo, (100, 75)), RED, 6)


def test_crop_shows_the_same_content_with_and_without_draft(large_jpeg):
    # The region is half red, half blue; a misplaced crop box would change the mix.
    region = (800, 600, 1600, 1200)
    full = load_photo(large_jpeg, "large.jpg", region=region)
    reduced = load_photo(large_jpeg, "large.jpg", target=224, region=region)
    assert reduced.scale < 1

    full_mean = np.asarray(crop(full, region), dtype=np.float64).mean(axis=(0, 1))
    reduced_mean = np.asarray(crop(reduced, region), dtype=np.float64).mean(axis=(0, 1))

    expected = (np.array(RED) + np.array(BLUE)) / 2
    assert np.allclose(full_mean, expected, atol=3)
    assert np.allclose(reduced_mean, full_mean, atol=3)


# crop


@pytest.fixture
def marked_photo(tmp_path) -> Photo:
    # 100x80 white PNG with a red 20x10 rectangle at x 40..59, y 30..39.
    image = Image.new("RGB", (100, 80), (255, 255, 255))
    ImageDraw.Draw(image).rectangle((40, 30, 59, 39), fill=RED)
    return load_photo(_save(image, tmp_path / "marked.png"))


def test_crop_region_maps_to_the_right_pixels(marked_photo):
    part = crop(marked_photo, (40, 30, 20, 10), "marked.png")

    assert part.size == (20, 10)
    assert part.getcolors() == [(200, RED)]


def test_crop_without_region_is_the_whole_photo(marked_photo):
    assert crop(marked_photo, None).size == (100, 80)


def test_crop_clips_a_region_partly_outside_the_photo(marked_photo):
    part = crop(marked_photo, (80, 60, 50, 50), "marked.png")

    assert part.size == (20, 20)  # x 80..99, y 60..79


@pytest.mark.parametrize("region", [(100, 0, 10, 10), (0, 80, 10, 10), (500, 500, 5, 5)])
def test_crop_of_a_region_outside_the_photo_names_the_file(marked_photo, region):
    with pytest.raises(PhotoError, match="marked.png") as error:
        crop(marked_photo, region, "marked.png")
    assert "100x80" in str(error.value)


# parse_region


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10,20,30,40", (10, 20, 30, 40)),
        (" 10, 20 ,30 , 40 ", (10, 20, 30, 40)),
        ("0,0,1,1", (0, 0, 1, 1)),
        (None, None),
        ("", None),
    ],
)
def test_parse_region_reads_x_y_w_h(text, expected):
    assert parse_region(text) == expected


@pytest.mark.parametrize("text", ["1,2,3", "1,2,3,4,5", "a,b,c,d", "10,20,-30,40", "10,20,30,0"])
def test_parse_region_rejects_bad_text_and_quotes_it(text):
    with pytest.raises(ValueError) as error:
        parse_region(text)
    assert repr(text) in str(error.value)


def test_parse_region_rejects_infinite_values_as_value_error():
    # float("inf") parses, but int() of it raises OverflowError, not ValueError.
    with pytest.raises(ValueError, match="inf"):
        parse_region("0,0,inf,10")


# Bad input


def test_empty_file_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")

    with pytest.raises(PhotoError, match=r"empty\.jpg.*0 bytes.*upload"):
        load_photo(path)


def test_truncated_jpeg_names_the_file_and_the_fix(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    data = _jpeg_bytes(Image.fromarray(noise))
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])

    with pytest.raises(PhotoError, match=r"cut\.jpg.*truncated.*again"):
        load_photo(path)


def test_text_file_named_jpg_names_the_file_and_the_formats(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("turtle 17, left side, seen at the reef\n")

    with pytest.raises(PhotoError, match=r"notes\.jpg.*not a photo.*upload a JPEG"):
        load_photo(path)


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_animation_names_the_file_and_asks_for_a_still(tmp_path, suffix):
    frames = [Image.new("RGB", (64, 64), colour) for colour in (RED, BLUE, (0, 200, 0))]
    path = tmp_path / f"clip{suffix}"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)

    with pytest.raises(PhotoError, match=rf"clip\{suffix}.*3 frames.*still photo"):
        load_photo(path)


def test_tiny_image_names_the_file_its_size_and_the_minimum(tmp_path):
    path = _save(Image.new("RGB", (10, 10), RED), tmp_path / "tiny.png")

    with pytest.raises(PhotoError, match=r"tiny\.png.*10x10.*at least 32"):
        load_photo(path)


@pytest.mark.parametrize(
    "side",
    [
        100,  # 10,000 pixels: over twice the limit, Pillow raises DecompressionBombError
        40,  # 1,600 pixels: between 1x and 2x the limit, Pillow only warns
    ],
)
def test_decompression_bomb_names_the_file_and_the_limit(tmp_path, monkeypatch, side):
    path = _save(Image.new("RGB", (side, side), RED), tmp_path / "bomb.png")
    # Pillow reads the limit at open time; a small one stands in for a huge photo.
    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 1000)

    with pytest.raises(PhotoError, match=r"bomb\.png.*1,000 pixels.*decompression-bomb.*resize"):
        load_photo(path)


def test_missing_path_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "nowhere" / "turtle.jpg"

    with pytest.raises(PhotoError, match=r"turtle\.jpg.*no such file.*check the path"):
        load_photo(path)


# Bytes input and names


def test_bytes_input_decodes_like_a_file():
    photo = load_photo(_jpeg_bytes(Image.new("RGB", (64, 48), RED)))

    assert photo.size == (64, 48)
    assert _close(_pixel(photo, (32, 24)), RED, 6)


def test_bytes_input_is_called_uploaded_photo_unless_named():
    with pytest.raises(PhotoError, match="uploaded photo"):
        load_photo(b"")
    with pytest.raises(PhotoError, match="turtle_07.jpg"):
        load_photo(b"GIF89a not really", "turtle_07.jpg")


def test_path_input_is_called_by_its_path_unless_named(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")

    with pytest.raises(PhotoError, match=re.escape(str(path))):
        load_photo(path)
    with pytest.raises(PhotoError, match="^turtle_07: "):
        load_photo(path, "turtle_07")
