"""Photos the tests make themselves: each synthetic individual is a random pattern of coloured
shapes, and its photos are that pattern with a small shift, brightness change and noise."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def pattern(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", size, tuple(int(c) for c in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(14):
        x, y = rng.integers(0, size[0]), rng.integers(0, size[1])
        r = int(rng.integers(10, 60))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        if rng.random() < 0.5:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        else:
            draw.polygon([(x, y), (x + r, y + r // 2), (x - r // 2, y + r)], fill=colour)
    return image


def photo_of(seed: int, shot: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """Shot `shot` of individual `seed`: the pattern shifted a few pixels, with noise."""
    rng = np.random.default_rng(1000 * seed + shot + 1)
    base = np.asarray(pattern(seed, size), dtype=np.float32)
    dx, dy = rng.integers(-6, 7, 2)
    shifted = np.roll(base, (int(dy), int(dx)), axis=(0, 1))
    noisy = shifted * rng.uniform(0.9, 1.1) + rng.normal(0, 6, shifted.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def write_individuals(folder: Path, n_individuals: int, shots: int, first_seed: int = 0) -> dict:
    """Write `shots` JPEGs for each of `n_individuals` as folder/<id>/<shot>.jpg.

    Returns:
        individual id -> list of photo paths.
    """
    written = {}
    for i in range(n_individuals):
        individual = f"ind{first_seed + i:02d}"
        (folder / individual).mkdir(parents=True, exist_ok=True)
        paths = []
        for shot in range(shots):
            path = folder / individual / f"{shot}.jpg"
            photo_of(first_seed + i, shot).save(path, quality=92)
            paths.append(path)
        written[individual] = paths
    return written
