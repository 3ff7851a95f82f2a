"""Validation of the head finder: IoU against the labelled boxes, the confidence threshold,
and an end-to-end check of the exported ONNX model through `turtle_id.head_finder`.
"""

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from export.export_head_finder import ExportSettings, export
from export.head_finder import HeadFinder, HeadFinderSettings
from export.head_finder_features import Views, predict
from turtle_id.head_finder import HeadFinder as OnnxHeadFinder
from turtle_id.head_finder import region_iou
from turtle_id.photo import load_photo


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes (N, 4) given as (cx, cy, w, h)."""
    a0, a1 = a[:, :2] - a[:, 2:] / 2, a[:, :2] + a[:, 2:] / 2
    b0, b1 = b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2
    overlap = (np.minimum(a1, b1) - np.maximum(a0, b0)).clip(min=0).prod(axis=1)
    return overlap / (a[:, 2:].prod(axis=1) + b[:, 2:].prod(axis=1) - overlap)


def choose_threshold(positive: np.ndarray, negative: np.ndarray) -> float:
    """The confidence that best separates heads from no-heads (largest TPR - FPR), taken
    halfway between the neighbouring scores so it does not sit on one photo's value."""
    scores = np.unique(np.concatenate([positive, negative]))
    cuts = np.concatenate([[scores[0] / 2], (scores[1:] + scores[:-1]) / 2])
    gain = [(positive >= c).mean() - (negative >= c).mean() for c in cuts]
    return float(cuts[int(np.argmax(gain))])


def validate(head, val: Views, n_photos: int, settings: HeadFinderSettings, threshold=None):
    """Figures on whole validation photos (the first `n_photos` views) and on no-head views."""
    boxes, confidence = predict(head, val, settings)
    truth = np.array(val.boxes[:n_photos], dtype=np.float64)
    overlap = iou(boxes[:n_photos].astype(np.float64), truth)
    positive, negative = confidence[:n_photos], confidence[n_photos:]
    # AUC: chance a whole photo scores above a no-head view.
    auc = float((positive[:, None] > negative[None, :]).mean())
    figures = {
        "mean_iou": float(overlap.mean()),
        "iou_above_0.5": float((overlap > 0.5).mean()),
        "auc": auc,
    }
    if threshold is not None:
        figures["threshold"] = threshold
        figures["found"] = float(((overlap > 0.5) & (positive >= threshold)).mean())
        figures["no_head_rejected"] = float((negative < threshold).mean())
    return figures


def end_to_end(
    head,
    photos: list[dict],
    settings: HeadFinderSettings,
    threshold: float,
    threads: int,
    work: Path,
) -> dict:
    """The exported model through `turtle_id.head_finder` on the photo files: IoU in pixels of
    the full photo, and milliseconds per photo on the CPU (decoding not counted)."""
    model = HeadFinder(settings)
    model.head.load_state_dict(head.state_dict())
    path = export(model, replace(ExportSettings(), out=work / "validation.onnx"), threshold)
    finder = OnnxHeadFinder(path, threads=threads)
    decoded = [load_photo(p["path"], target=settings.image_size) for p in photos]
    finder.find_many([d.image for d in decoded[:2]])  # warm-up: first runs allocate
    started = time.perf_counter()
    found = [finder.find(d.image, threshold=0.0) for d in decoded]
    ms = (time.perf_counter() - started) / len(decoded) * 1000
    overlaps = []
    for d, p, box in zip(decoded, photos, found):
        region = tuple(round(v / d.scale) for v in box.region)
        overlaps.append(region_iou(region, p["region"]))
    overlaps = np.array(overlaps)
    return {
        "photos": len(photos),
        "mean_iou": float(overlaps.mean()),
        "iou_above_0.5": float((overlaps > 0.5).mean()),
        "found": float(
            np.mean([o > 0.5 and b.confidence >= threshold for o, b in zip(overlaps, found)])
        ),
        "ms_per_photo_cpu": ms,
        "provider": finder.provider,
    }
