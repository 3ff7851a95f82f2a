"""Pictures for the ranger: a query and a gallery photo side by side, with the keypoint pairs
that agree drawn as lines between them."""

import numpy as np
from PIL import Image, ImageDraw

HEIGHT = 360  # pixels, height of each half of the side-by-side view


def side_by_side(query: Image.Image, gallery: Image.Image, pairs: np.ndarray) -> Image.Image:
    """Query on the left, gallery photo on the right, both scaled to one height, and a line
    for each inlier pair (pairs: (n, 2, 2), query x, y then gallery x, y, each in its own
    picture's pixels)."""
    scale_q = HEIGHT / query.height
    scale_g = HEIGHT / gallery.height
    left = query.convert("RGB").resize((max(1, round(query.width * scale_q)), HEIGHT))
    right = gallery.convert("RGB").resize((max(1, round(gallery.width * scale_g)), HEIGHT))
    canvas = Image.new("RGB", (left.width + right.width, HEIGHT), "white")
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width, 0))
    draw = ImageDraw.Draw(canvas)
    rng = np.random.default_rng(0)  # fixed colours: the same pair looks the same every time
    for (qx, qy), (gx, gy) in np.asarray(pairs, dtype=float).reshape(-1, 2, 2):
        colour = tuple(int(c) for c in rng.integers(60, 256, 3))
        a = (qx * scale_q, qy * scale_q)
        b = (left.width + gx * scale_g, gy * scale_g)
        draw.line([a, b], fill=colour, width=1)
        for x, y in (a, b):
            draw.ellipse((x - 2.5, y - 2.5, x + 2.5, y + 2.5), outline=colour, width=1)
    return canvas


def draw_box(
    image: Image.Image,
    box: tuple[float, float, float, float] | None,
    mark: tuple[float, float] | None = None,
) -> Image.Image:
    """A copy of the picture with a box (x, y, w, h in its pixels) drawn round the part that is
    matched, and a cross at `mark` (the first corner of a box being drawn); None draws neither.

    Yellow inside black, so the line shows on sand, water and shell alike."""
    picture = image.convert("RGB")  # a copy, also of an RGB picture
    draw = ImageDraw.Draw(picture)
    width = max(2, round(max(picture.size) / 128))  # 8 px on a 1024 px picture, shown ~400 wide
    if box is not None:
        x, y, w, h = box
        draw.rectangle((x, y, x + w, y + h), outline="black", width=width * 2)
        inset = width // 2
        draw.rectangle(
            (x + inset, y + inset, x + w - inset, y + h - inset), outline="yellow", width=width
        )
    if mark is not None:
        mx, my = mark
        arm = width * 6
        for colour, line in (("black", width * 2), ("yellow", width)):
            draw.line((mx - arm, my, mx + arm, my), fill=colour, width=line)
            draw.line((mx, my - arm, mx, my + arm), fill=colour, width=line)
    return picture
