"""The query photo in the web app and the box on it: the part of the photo that is matched.

The app shows its own decoding of the dropped photo (EXIF orientation applied, `DISPLAY_SIDE`
pixels on the longer side) with the box drawn on it. A click on that picture (Gradio's select
event, in pixels of the picture shown) maps back to pixels of the photo by one scale factor, so
two clicks on opposite corners of the head make a region. No Gradio here: `app.py` wires these
to the page's events.
"""

from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

from turtle_id.drawing import draw_box
from turtle_id.gallery import Gallery
from turtle_id.photo import MIN_SIDE, Region, crop, load_photo

# Pixels, longer side of the photo as shown. Gradio maps a click to pixels of the picture only
# while the page shows it at most at its own size (it assumes a picture is never enlarged), so
# small photos are enlarged to this, more than the ~360 x 520 px box on the page.
DISPLAY_SIDE = 1024
PART_SIDE = 240  # pixels, longer side of the "matched part" picture beside the matches
Point = tuple[int, int]  # x, y


@dataclass(frozen=True)
class QueryPhoto:
    """The photo dropped on the page and its box, as one browser session holds them."""

    path: Path  # the uploaded file (Gradio's copy); the package decodes it
    name: str  # the file's own name, for messages and the gallery's record
    size: tuple[int, int] | None = None  # (width, height) upright at full size; None = unread
    proposed: Region | None = None  # the head finder's region; None = whole photo
    head_found: bool | None = None  # the finder's verdict; None = not asked (no finder)
    region: Region | None = None  # the box drawn now; None = whole photo
    corner: Point | None = None  # first click of a box being drawn, pixels of the photo

    @property
    def scale(self) -> float:
        """Pixels of the picture shown per pixel of the photo."""
        assert self.size is not None, "the photo has not been decoded yet"
        return display_scale(self.size)

    def found_for(self, region: Region | None) -> bool | None:
        """Whether `region` is the head the finder found (True), or not known to be (None)."""
        return True if self.head_found and region == self.proposed else None


def display_scale(size: tuple[int, int]) -> float:
    """Pixels of the picture shown per pixel of a photo of `size` (width, height)."""
    return DISPLAY_SIDE / max(size)


def to_photo(point: Point, scale: float, size: tuple[int, int]) -> Point:
    """A point clicked on the picture shown to pixels of the photo, kept inside it."""
    width, height = size
    x, y = point
    return min(max(0, round(x / scale)), width - 1), min(max(0, round(y / scale)), height - 1)


def corners_region(first: Point, second: Point, smallest: int = MIN_SIDE) -> Region | None:
    """The region between two opposite corners (pixels of the photo), in either order; None
    when it is narrower or lower than `smallest` pixels (a slip, or a double click)."""
    x, y = min(first[0], second[0]), min(first[1], second[1])
    w, h = abs(first[0] - second[0]), abs(first[1] - second[1])
    if w < smallest or h < smallest:
        return None
    return x, y, w, h


def inside(region: Region, size: tuple[int, int]) -> Region:
    """The region cut to the photo's edges; ValueError when it lies outside the photo."""
    x, y, w, h = region
    width, height = size
    if x >= width or y >= height:
        raise ValueError(
            f"region {x},{y},{w},{h} lies outside the {width}x{height} photo: "
            f"give x,y,w,h with x below {width} and y below {height}"
        )
    return x, y, min(w, width - x), min(h, height - y)


def proposed(gallery: Gallery, photo: QueryPhoto) -> QueryPhoto:
    """The photo read, with the head finder's region as its box (none without a finder)."""
    decoded, region, found = gallery.locate(photo.path, photo.name)
    return replace(
        photo, size=decoded.size, proposed=region, head_found=found, region=region, corner=None
    )


def clicked(photo: QueryPhoto, point: Point) -> QueryPhoto:
    """The photo after a click on the picture shown at `point`: the first click marks a
    corner, the second draws the box between them (a box too small starts again from it)."""
    at = to_photo(point, photo.scale, photo.size)
    if photo.corner is None:
        return replace(photo, corner=at)
    region = corners_region(photo.corner, at)
    if region is None:
        return replace(photo, corner=at)
    return replace(photo, region=region, corner=None)


def shown(photo: QueryPhoto) -> Image.Image:
    """The picture to show: the photo at display size with its box and corner mark drawn."""
    width, height = photo.size
    scale = photo.scale
    # target: pixels on the smaller side, so that JPEG draft decoding keeps the display size.
    decoded = load_photo(photo.path, photo.name, target=round(min(width, height) * scale))
    # Exactly size x scale, so that the click mapping and the box agree with what is shown.
    picture = decoded.image.resize((max(1, round(width * scale)), max(1, round(height * scale))))
    box = None if photo.region is None else tuple(v * scale for v in photo.region)
    mark = None if photo.corner is None else tuple(v * scale for v in photo.corner)
    return draw_box(picture, box, mark)


def matched_part(photo: QueryPhoto, region: Region | None) -> Image.Image:
    """The part of the photo identify matched, at most PART_SIDE pixels on its longer side."""
    decoded = load_photo(photo.path, photo.name, target=PART_SIDE, region=region)
    part = crop(decoded, region, photo.name)
    part.thumbnail((PART_SIDE, PART_SIDE))
    return part
