"""The ONNX head finder: a picture in, the box around the turtle's head (or None) out.

Runs with onnxruntime only. Input size, mean/std, colour order, letterbox convention and the
confidence threshold are read from the ONNX file's metadata, written by
`export/export_head_finder.py`.

Letterbox convention (shared with training, which imports `Letterbox` and `to_input` from here):
the picture is resized, aspect kept, so that its longer side is `input_size`, and centred in the
square input; the padding is 0 after normalisation, i.e. the mean colour. The model answers one
box as (cx, cy, w, h) normalised to the square input.
"""

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from turtle_id.photo import Region
from turtle_id.runtime import announce, open_model


@dataclass(frozen=True)
class HeadBox:
    region: Region  # x, y, w, h in pixels of the picture given to `find`
    confidence: float  # 0..1, the model's belief that a head is in the box


@dataclass(frozen=True)
class HeadFinderInfo:
    model_version: str
    input_size: int  # pixels, square
    mean: tuple[float, float, float]  # RGB, on 0..1
    std: tuple[float, float, float]
    threshold: float  # confidence below which `find` answers None, chosen on validation
    training_data: str


@dataclass(frozen=True)
class Letterbox:
    """Where a width x height picture sits inside the size x size model input."""

    width: int
    height: int
    size: int
    inner_w: int  # pixels of the input the resized picture covers
    inner_h: int
    pad_x: int  # input pixels left of (above) the picture
    pad_y: int

    @classmethod
    def fit(cls, width: int, height: int, size: int) -> "Letterbox":
        if width < 1 or height < 1:
            raise ValueError(f"picture is {width}x{height} pixels: it needs at least 1x1")
        ratio = size / max(width, height)
        inner_w = min(size, max(1, round(width * ratio)))
        inner_h = min(size, max(1, round(height * ratio)))
        return cls(
            width, height, size, inner_w, inner_h, (size - inner_w) // 2, (size - inner_h) // 2
        )

    def to_input(self, region: Region) -> tuple[float, float, float, float]:
        """A region in picture pixels to (cx, cy, w, h) normalised to the square input."""
        x, y, w, h = region
        sx, sy = self.inner_w / self.width, self.inner_h / self.height
        return (
            (self.pad_x + (x + w / 2) * sx) / self.size,
            (self.pad_y + (y + h / 2) * sy) / self.size,
            w * sx / self.size,
            h * sy / self.size,
        )

    def to_picture(self, box: tuple[float, float, float, float]) -> Region:
        """(cx, cy, w, h) normalised to the input to a region in picture pixels, clipped to it."""
        cx, cy, w, h = (float(v) * self.size for v in box)
        sx, sy = self.inner_w / self.width, self.inner_h / self.height
        x0 = _clip(round((cx - w / 2 - self.pad_x) / sx), 0, self.width - 1)
        y0 = _clip(round((cy - h / 2 - self.pad_y) / sy), 0, self.height - 1)
        x1 = _clip(round((cx + w / 2 - self.pad_x) / sx), x0 + 1, self.width)
        y1 = _clip(round((cy + h / 2 - self.pad_y) / sy), y0 + 1, self.height)
        return x0, y0, x1 - x0, y1 - y0


def to_input(
    image: Image.Image, size: int, mean: np.ndarray, std: np.ndarray
) -> tuple[np.ndarray, Letterbox]:
    """A picture letterboxed into the model input, (3, size, size) float32, and where it sits.

    `mean` and `std` are RGB on 0..1, shaped (1, 1, 3).
    """
    fit = Letterbox.fit(image.width, image.height, size)
    resized = image.convert("RGB").resize(
        (fit.inner_w, fit.inner_h), Image.BILINEAR, reducing_gap=3.0
    )
    pixels = (np.asarray(resized, dtype=np.float32) / 255.0 - mean) / std  # (h, w, 3)
    out = np.zeros((3, size, size), dtype=np.float32)
    out[:, fit.pad_y : fit.pad_y + fit.inner_h, fit.pad_x : fit.pad_x + fit.inner_w] = (
        pixels.transpose(2, 0, 1)
    )
    return out, fit


class HeadFinder:
    """Finds one turtle head per picture with the shipped ONNX model: CUDA if present, else CPU.

    Boxes are in pixels of the picture passed in. For a `Photo` from `load_photo`, which may be
    decoded at a reduced size, divide the region by `photo.scale` to get pixels of the full
    upright photo: `x, y, w, h = (round(v / photo.scale) for v in box.region)`. The model looks
    at `input_size` pixels on the longer side, so `load_photo(path, target=input_size)` is
    enough to decode for it.
    """

    def __init__(self, path: Path, threads: int = 0):
        restore = (
            "restore assets/head_finder.onnx from the "
            "repository or re-export it with `python -m export.export_head_finder`"
        )
        self.session = open_model(path, "head finder", restore, threads)
        self.provider = self.session.get_providers()[0]
        self.info = _read_info(self.session, Path(path))
        self.input_name = self.session.get_inputs()[0].name
        announce("head finder", path, self.info.model_version, self.provider)
        self._mean = np.array(self.info.mean, dtype=np.float32).reshape(1, 1, 3)
        self._std = np.array(self.info.std, dtype=np.float32).reshape(1, 1, 3)

    @property
    def threshold(self) -> float:
        return self.info.threshold

    def find(self, image: Image.Image, threshold: float | None = None) -> HeadBox | None:
        """The head in a picture, or None when the model's confidence is below `threshold`
        (default: the model's own, chosen on validation; pass 0 to always get its best box)."""
        return self.find_many([image], threshold=threshold)[0]

    def find_many(
        self, images: list[Image.Image], batch_size: int = 8, threshold: float | None = None
    ) -> list[HeadBox | None]:
        """`find` for several pictures, run in batches; one answer per picture, in order."""
        threshold = self.info.threshold if threshold is None else threshold
        answers: list[HeadBox | None] = []
        for start in range(0, len(images), batch_size):
            inputs, fits = zip(
                *(
                    to_input(im, self.info.input_size, self._mean, self._std)
                    for im in images[start : start + batch_size]
                )
            )
            boxes, confidence = self.session.run(None, {self.input_name: np.stack(inputs)})
            for box, score, fit in zip(boxes, confidence, fits):
                if score < threshold:
                    answers.append(None)
                else:
                    answers.append(HeadBox(fit.to_picture(tuple(box)), float(score)))
        return answers


def _clip(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _read_info(session: ort.InferenceSession, path: Path) -> HeadFinderInfo:
    meta = session.get_modelmeta().custom_metadata_map
    try:
        info = HeadFinderInfo(
            model_version=meta["model_version"],
            input_size=int(meta["input_size"]),
            mean=tuple(json.loads(meta["mean"])),
            std=tuple(json.loads(meta["std"])),
            threshold=float(meta["confidence_threshold"]),
            training_data=meta.get("training_data", "unknown"),
        )
    except (KeyError, ValueError) as error:
        raise ValueError(
            f"head finder {path} lacks the metadata Turtle ID needs ({error}): export it with "
            "`python -m export.export_head_finder`, which writes input size, mean/std and the "
            "confidence threshold"
        ) from None
    if meta.get("letterbox", "centred") != "centred" or not math.isfinite(info.threshold):
        raise ValueError(
            f"head finder {path}: letterbox {meta.get('letterbox')!r} / threshold "
            f"{info.threshold} not understood: re-export it with "
            "`python -m export.export_head_finder`"
        )
    return info


def region_iou(a: Region, b: Region) -> float:
    """Intersection over union of two (x, y, w, h) regions; 0 when they do not touch."""
    overlap_w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    overlap_h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if overlap_w <= 0 or overlap_h <= 0:
        return 0.0
    overlap = overlap_w * overlap_h
    return overlap / (a[2] * a[3] + b[2] * b[3] - overlap)
