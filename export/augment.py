"""Training augmentation: a random resized crop around the photo's region, colour, grey and blur
jitter, and an optional horizontal flip, all on PIL pictures.

The input picture is the region plus a margin (`export.data`), so a crop can move a little
outside the labelled head box, as a ranger's hand-drawn box would.
"""

import random
from dataclasses import dataclass

from PIL import Image, ImageEnhance, ImageFilter


@dataclass(frozen=True)
class AugmentSettings:
    margin: float = 0.15  # context kept around a region on each side, share of its width/height
    scale: tuple[float, float] = (0.55, 1.0)  # crop area, share of the region's area
    ratio: tuple[float, float] = (0.8, 1.25)  # crop aspect, relative to the region's aspect
    brightness: float = 0.35  # factor drawn from 1 +- this
    contrast: float = 0.35
    saturation: float = 0.4
    grey: float = 0.25  # probability of a grey copy: turtle-profiles-dev is all greyscale
    blur: float = 0.3  # probability of a Gaussian blur
    blur_radius: tuple[float, float] = (0.3, 1.6)  # pixels of the output picture
    flip: float = 0.5  # probability of a horizontal flip, when the training run flips at all


@dataclass(frozen=True)
class View:
    picture: Image.Image  # (size, size) RGB
    flipped: bool


def augment(
    picture: Image.Image,
    region: tuple[int, int, int, int],
    size: int,
    rng: random.Random,
    settings: AugmentSettings = AugmentSettings(),
    flip: bool = False,
) -> View:
    """One augmented view of `region` of `picture`, squeezed to (size, size) like the app does.

    Args:
        picture: the region with its margin, RGB.
        region: x, y, w, h of the region in `picture`'s pixels.
        size: output side in pixels.
        flip: whether this run flips at all; each view then flips with `settings.flip`.
    """
    x, y, w, h = region
    area = w * h * rng.uniform(*settings.scale)
    aspect = (w / h) * rng.uniform(*settings.ratio)
    cw = min(picture.width, max(8, round((area * aspect) ** 0.5)))
    ch = min(picture.height, max(8, round((area / aspect) ** 0.5)))
    # The crop centre stays inside the region, so the head is never cut away entirely.
    cx = rng.uniform(x + min(cw, w) / 2, x + w - min(cw, w) / 2)
    cy = rng.uniform(y + min(ch, h) / 2, y + h - min(ch, h) / 2)
    left = min(max(0, round(cx - cw / 2)), picture.width - cw)
    top = min(max(0, round(cy - ch / 2)), picture.height - ch)
    out = picture.crop((left, top, left + cw, top + ch)).resize(
        (size, size), Image.BILINEAR, reducing_gap=3.0
    )
    s = settings
    for enhance, amount in (
        (ImageEnhance.Brightness, s.brightness),
        (ImageEnhance.Contrast, s.contrast),
        (ImageEnhance.Color, s.saturation),
    ):
        out = enhance(out).enhance(rng.uniform(1 - amount, 1 + amount))
    if rng.random() < s.grey:
        out = out.convert("L").convert("RGB")
    if rng.random() < s.blur:
        out = out.filter(ImageFilter.GaussianBlur(rng.uniform(*s.blur_radius)))
    flipped = flip and rng.random() < s.flip
    if flipped:
        out = out.transpose(Image.FLIP_LEFT_RIGHT)
    return View(out, flipped)
