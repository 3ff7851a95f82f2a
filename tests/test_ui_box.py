from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from turtle_id import ui_box
from turtle_id.ui_box import QueryPhoto

SIZE = (2048, 1366)  # a photo shown at half size: 1024 x 683


def grey_photo(path: Path, size: tuple[int, int] = SIZE, orientation: int = 1) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.new("RGB", size, (128, 128, 128)).save(path, quality=95, exif=exif)
    return path


def test_display_scale_shows_every_photo_1024_pixels_long():
    assert ui_box.display_scale(SIZE) == 0.5
    assert ui_box.display_scale((1000, 3072)) == 1 / 3
    assert ui_box.display_scale((512, 400)) == 2.0  # small photos enlarged


def test_a_click_on_the_picture_shown_maps_to_pixels_of_the_photo_kept_inside_it():
    assert ui_box.to_photo((100, 50), 0.5, SIZE) == (200, 100)
    assert ui_box.to_photo((1030, -3), 0.5, SIZE) == (2047, 0)


def test_two_opposite_corners_make_a_region_in_either_order_unless_it_is_a_slip():
    assert ui_box.corners_region((300, 200), (100, 500)) == (100, 200, 200, 300)
    assert ui_box.corners_region((100, 500), (300, 200)) == (100, 200, 200, 300)
    assert ui_box.corners_region((10, 10), (41, 200)) is None  # 31 px wide: under MIN_SIDE 32
    assert ui_box.corners_region((10, 10), (42, 42)) == (10, 10, 32, 32)


def test_inside_cuts_a_region_at_the_photos_edges_and_refuses_one_outside_it():
    assert ui_box.inside((100, 200, 5000, 50), SIZE) == (100, 200, 1948, 50)
    assert ui_box.inside((0, 0, 10, 10), SIZE) == (0, 0, 10, 10)
    with pytest.raises(ValueError, match="lies outside the 2048x1366 photo"):
        ui_box.inside((2048, 0, 10, 10), SIZE)


def test_the_first_click_marks_a_corner_and_the_second_draws_the_box():
    photo = QueryPhoto(Path("q.jpg"), "q.jpg", SIZE, proposed=(0, 0, 99, 99), region=(0, 0, 99, 99))
    first = ui_box.clicked(photo, (50, 60))  # pixels of the half-size picture shown
    assert first.corner == (100, 120) and first.region == (0, 0, 99, 99)
    second = ui_box.clicked(first, (150, 260))
    assert second.region == (100, 120, 200, 400) and second.corner is None
    assert second.proposed == (0, 0, 99, 99)  # the finder's box, to go back to
    # A second click too close to the first starts the box again from there.
    slip = ui_box.clicked(first, (52, 61))
    assert slip.corner == (104, 122) and slip.region == (0, 0, 99, 99)


def test_found_for_knows_the_finders_own_box_only():
    photo = QueryPhoto(Path("q.jpg"), "q.jpg", SIZE, proposed=(5, 5, 50, 50), head_found=True)
    assert photo.found_for((5, 5, 50, 50)) is True
    assert photo.found_for((5, 5, 60, 50)) is None
    assert QueryPhoto(Path("q.jpg"), "q.jpg", SIZE, head_found=False).found_for(None) is None


def test_proposed_boxes_the_region_the_gallery_locates():
    def locate(source, name, region=None):
        assert (source, name, region) == (Path("q.jpg"), "q.jpg", None)
        return SimpleNamespace(size=SIZE), (40, 50, 300, 200), True

    photo = ui_box.proposed(SimpleNamespace(locate=locate), QueryPhoto(Path("q.jpg"), "q.jpg"))
    assert photo == QueryPhoto(
        Path("q.jpg"), "q.jpg", SIZE, (40, 50, 300, 200), True, (40, 50, 300, 200)
    )


def test_shown_draws_the_box_at_display_scale(tmp_path):
    path = grey_photo(tmp_path / "g.jpg")
    photo = QueryPhoto(path, "g.jpg", SIZE, region=(200, 100, 400, 300), corner=(1600, 1000))
    picture = ui_box.shown(photo)
    assert picture.size == (1024, 683)
    pixels = np.asarray(picture).astype(int)
    # The box is (100, 50, 200, 150) at half size; line width round(1024 / 128) = 8: black
    # x 100-115 on its left edge, yellow x 104-111 in it.
    assert tuple(pixels[120, 100]) == (0, 0, 0) and tuple(pixels[120, 115]) == (0, 0, 0)
    assert tuple(pixels[120, 104]) == (255, 255, 0) and tuple(pixels[120, 111]) == (255, 255, 0)
    assert np.abs(pixels[120, 150] - 128).max() < 8  # inside: the grey photo
    assert tuple(pixels[500, 800 + 40]) == (255, 255, 0)  # the corner's cross, at (800, 500)


def test_shown_is_upright_as_the_photo_is_read(tmp_path):
    # EXIF orientation 6: stored 300 x 200, upright 200 x 300, shown 683 x 1024.
    path = grey_photo(tmp_path / "turned.jpg", (300, 200), orientation=6)
    assert ui_box.shown(QueryPhoto(path, "turned.jpg", (200, 300))).size == (683, 1024)


def test_matched_part_is_the_region_at_most_240_pixels_long(tmp_path):
    path = grey_photo(tmp_path / "g.jpg")
    photo = QueryPhoto(path, "g.jpg", SIZE)
    assert ui_box.matched_part(photo, (200, 100, 400, 300)).size == (240, 180)
    assert ui_box.matched_part(photo, None).size == (240, 160)  # the whole photo
