"""Training views for the head finder: augmented crops of labelled photos, and their targets.

63 labelled photos are far too few to learn from as they are, so every photo yields many views:
random crops at many scales that either hold the whole head (a positive) or none of it (a
negative: body, fins, sand, water), flipped, with brightness, contrast, gamma, blur, noise and
random tints (the labelled photos are grey; field photos are mostly colour). A few synthetic
blanks teach that an empty frame has no head.
"""

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from turtle_id.head_finder import Letterbox, to_input
from turtle_id.photo import Region

Box = tuple[float, float, float, float]  # cx, cy, w, h normalised to the square input


@dataclass(frozen=True)
class AugmentSettings:
    positive_share: float = 0.7  # views holding the whole head; the rest hold none of it
    blank_share: float = 0.1  # of the no-head views: synthetic blanks instead of photo crops
    zoom: tuple[float, float] = (0.3, 1.6)  # crop width / photo width; >1 zooms out
    negative_zoom: tuple[float, float] = (0.15, 0.6)  # smaller: a crop must miss the head
    aspect: tuple[float, float] = (0.5, 1.6)  # crop height / width
    flip: float = 0.5  # chance of a left-right flip (a flipped head is still a head)
    brightness: float = 0.35  # +- fraction
    contrast: float = 0.35  # +- fraction
    gamma: tuple[float, float] = (0.7, 1.5)
    blur: float = 0.3  # chance of a Gaussian blur of up to `blur_radius` pixels
    blur_radius: float = 1.5  # pixels of the model input
    noise: float = 0.2  # chance of additive noise of up to `noise_sigma` (0..255 scale)
    noise_sigma: float = 10.0
    tint: float = 0.5  # chance of mapping grey onto a random dark-to-light colour ramp


def render(
    image: Image.Image,
    head: Region | None,
    rng: np.random.Generator,
    augment: AugmentSettings,
    size: int,
    mean: np.ndarray,
    std: np.ndarray,
    positive: bool,
) -> tuple[np.ndarray, Box | None]:
    """One view of a photo: the model input (3, size, size) and the head box in it, None when
    the view shows no head. `head` is in pixels of `image`; mean/std are RGB, (1, 1, 3)."""
    crop = _positive_crop(image, head, rng, augment) if positive else None
    if crop is None:
        positive = False
        crop = _negative_crop(image, head, rng, augment)
    if crop is None:
        return blank(rng, size, mean, std), None
    x0, y0, cw, ch = crop
    # The crop is letterboxed like a whole photo; the part of it beyond the photo (a zoom-out)
    # is left at the mean colour, like the letterbox padding. Resizing before the photometric
    # steps keeps them cheap: they then work on at most size x size pixels.
    fit = Letterbox.fit(cw, ch, size)
    scale = fit.inner_w / cw
    inside = (max(0, x0), max(0, y0), min(image.width, x0 + cw), min(image.height, y0 + ch))
    left = fit.pad_x + round((inside[0] - x0) * scale)
    top = fit.pad_y + round((inside[1] - y0) * scale)
    part_w = min(size - left, max(1, round((inside[2] - inside[0]) * scale)))
    part_h = min(size - top, max(1, round((inside[3] - inside[1]) * scale)))
    part = image.resize((part_w, part_h), Image.BILINEAR, box=inside, reducing_gap=3.0)
    part = photometric(part, rng, augment)
    pixels = np.zeros((3, size, size), dtype=np.float32)
    normalised = (np.asarray(part, dtype=np.float32) / 255.0 - mean) / std
    pixels[:, top : top + part_h, left : left + part_w] = normalised.transpose(2, 0, 1)
    box = fit.to_input((head[0] - x0, head[1] - y0, head[2], head[3])) if positive else None
    if rng.random() < augment.flip:
        pixels = pixels[:, :, ::-1].copy()
        box = None if box is None else (1.0 - box[0], *box[1:])
    return pixels, box


def whole(image: Image.Image, head: Region | None, size: int, mean, std):
    """The photo as the app sees it: whole, no augmentation."""
    pixels, fit = to_input(image, size, mean, std)
    return pixels, None if head is None else fit.to_input(head)


def blank(rng: np.random.Generator, size: int, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """A synthetic frame with no head: a flat colour, a vertical gradient (open water), or noise."""
    kind = rng.integers(3)
    top, bottom = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    if kind == 0:
        bottom = top
    ramp = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
    pixels = np.broadcast_to(top + (bottom - top) * ramp, (size, size, 3)).astype(np.float32)
    if kind == 2:
        pixels = pixels + rng.normal(0, rng.uniform(0.02, 0.15), pixels.shape)
    pixels = np.clip(pixels, 0, 1)
    # Quantised to 8 bits like a decoded photo.
    pixels = np.round(pixels * 255) / 255
    return ((pixels - mean) / std).transpose(2, 0, 1).astype(np.float32)


def photometric(view: Image.Image, rng: np.random.Generator, a: AugmentSettings) -> Image.Image:
    if rng.random() < a.blur:
        view = view.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, a.blur_radius)))
    x = np.asarray(view, dtype=np.float32) / 255.0  # (h, w, 3)
    if rng.random() < a.tint:
        # A dark-to-light colour ramp, partly mixed back with grey: water greens and blues,
        # sand, and odd white balance alike.
        grey = x.mean(axis=2, keepdims=True)
        dark, light = rng.uniform(0.0, 0.3, 3), 1.0 - rng.uniform(0.0, 0.45, 3)
        x = grey + rng.uniform(0.3, 1.0) * (dark + (light - dark) * grey - grey)
    x = (x - x.mean()) * (1 + rng.uniform(-a.contrast, a.contrast)) + x.mean()
    x = np.clip(x * (1 + rng.uniform(-a.brightness, a.brightness)), 0, 1)
    x = x ** rng.uniform(*a.gamma)
    if rng.random() < a.noise:
        x = x + rng.normal(0, rng.uniform(1, a.noise_sigma) / 255.0, x.shape)
    return Image.fromarray(np.round(np.clip(x, 0, 1) * 255).astype(np.uint8))


def targets(box: Box | None, grid: int, anchor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training targets on the grid: heat (G, G), regression (4, G, G), regression mask (G, G).

    heat is 1 at the centre's cell and a Gaussian of the box's size around it (all 0 without a
    head); offsets and log-sizes are taught on the 3x3 cells around the centre, since the
    heatmap's peak can land one cell off.
    """
    heat = np.zeros((grid, grid), np.float32)
    regression = np.zeros((4, grid, grid), np.float32)
    mask = np.zeros((grid, grid), np.float32)
    if box is None:
        return heat, regression, mask
    cx, cy, w, h = (float(v) for v in box)
    col = min(grid - 1, max(0, int(cx * grid)))
    row = min(grid - 1, max(0, int(cy * grid)))
    # A sixth of the box in cells, as in CenterNet's radius rule of thumb, never under half a cell.
    sx, sy = max(0.5, w * grid / 6), max(0.5, h * grid / 6)
    cols, rows = np.arange(grid), np.arange(grid)
    heat[:] = np.exp(
        -((cols[None] - col) ** 2) / (2 * sx**2) - (rows[:, None] - row) ** 2 / (2 * sy**2)
    )
    for r in range(max(0, row - 1), min(grid, row + 2)):
        for c in range(max(0, col - 1), min(grid, col + 2)):
            regression[:, r, c] = (
                cx * grid - (c + 0.5),
                cy * grid - (r + 0.5),
                math.log(w / anchor),
                math.log(h / anchor),
            )
            mask[r, c] = 1.0
    return heat, regression, mask


def _positive_crop(image, head, rng, a: AugmentSettings) -> Region | None:
    """A crop (x, y, w, h) holding the whole head, possibly reaching beyond the photo."""
    if head is None:
        return None
    width, height = image.size
    hx, hy, hw, hh = head
    cw = width * _log_uniform(rng, a.zoom)
    ch = cw * _log_uniform(rng, a.aspect)
    cw, ch = max(cw, hw * 1.2), max(ch, hh * 1.2)
    x0 = _place(rng, hx + hw - cw, hx, width - cw)
    y0 = _place(rng, hy + hh - ch, hy, height - ch)
    return round(x0), round(y0), max(1, round(cw)), max(1, round(ch))


def _negative_crop(image, head, rng, a: AugmentSettings) -> Region | None:
    """A crop inside the photo that misses the head and a margin around it; None after 30 tries."""
    if rng.random() < a.blank_share:
        return None
    width, height = image.size
    for _ in range(30):
        cw = width * _log_uniform(rng, a.negative_zoom)
        ch = min(height, cw * _log_uniform(rng, a.aspect))
        x0, y0 = rng.uniform(0, width - cw), rng.uniform(0, height - ch)
        if head is None or not _overlaps((x0, y0, cw, ch), head, margin=0.1):
            return round(x0), round(y0), max(1, round(cw)), max(1, round(ch))
    return None


def _place(rng, low: float, high: float, slack: float) -> float:
    """A crop origin in [low, high] (head inside), kept within the photo when the two allow."""
    inside_low, inside_high = min(0.0, slack), max(0.0, slack)
    a, b = max(low, inside_low), min(high, inside_high)
    return rng.uniform(a, b) if a <= b else rng.uniform(low, high)


def _overlaps(crop, head, margin: float) -> bool:
    x, y, w, h = crop
    hx, hy, hw, hh = head
    mx, my = hw * margin, hh * margin
    return x < hx + hw + mx and hx - mx < x + w and y < hy + hh + my and hy - my < y + h


def _log_uniform(rng, bounds: tuple[float, float]) -> float:
    return math.exp(rng.uniform(math.log(bounds[0]), math.log(bounds[1])))
