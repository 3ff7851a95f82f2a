"""Frozen-trunk features of the head finder's views, computed once and cached in memory.

The trunk never trains, so each augmented view goes through it once; the grid head then trains
for many epochs on the cached features alone, which is what makes CPU training take minutes.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from export.head_finder import HeadFinderSettings, Trunk, decode


@dataclass
class Views:
    c4: np.ndarray  # (N, 112, G, G) float16, frozen trunk features
    c5: np.ndarray  # (N, 320, G/2, G/2) float16
    boxes: list  # N boxes (cx, cy, w, h) normalised to the input, or None: no head in the view


class TrunkRunner:
    """The frozen trunk on batches of inputs: torch on CUDA, else onnxruntime, which runs it
    about five times faster than torch on this CPU."""

    def __init__(self, size: int, threads: int, work: Path):
        self.trunk = Trunk(size)
        self.cuda = torch.cuda.is_available()
        if self.cuda:
            self.trunk = self.trunk.cuda()
            return
        work.mkdir(parents=True, exist_ok=True)
        path = work / f"trunk_{size}.onnx"
        torch.onnx.export(
            self.trunk,
            (torch.zeros(1, 3, size, size),),
            str(path),
            input_names=["photos"],
            output_names=["c4", "c5"],
            dynamic_axes={"photos": {0: "batch"}, "c4": {0: "batch"}, "c5": {0: "batch"}},
            opset_version=18,
            dynamo=False,
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 0 = all cores
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.cuda:
            with torch.no_grad():
                c4, c5 = self.trunk(torch.from_numpy(inputs).cuda())
            return c4.cpu().numpy(), c5.cpu().numpy()
        return tuple(self.session.run(None, {"photos": inputs}))


def featurise(trunk: TrunkRunner, make_views, count: int, batch: int = 32) -> Views:
    """Run `count` views from the generator `make_views` through the trunk, in batches."""
    c4s, c5s, boxes, pending = [], [], [], []

    def flush():
        c4, c5 = trunk(np.stack([x for x, _ in pending]))
        c4s.append(c4.astype(np.float16))
        c5s.append(c5.astype(np.float16))
        boxes.extend(b for _, b in pending)
        pending.clear()

    for view in make_views:
        pending.append(view)
        if len(pending) == batch:
            flush()
    if pending:
        flush()
    assert len(boxes) == count, (len(boxes), count)
    return Views(np.concatenate(c4s), np.concatenate(c5s), boxes)


def predict(head, views: Views, settings: HeadFinderSettings, batch: int = 256):
    """Decoded boxes (N, 4) and confidence (N,) of the head over cached features."""
    head.eval()
    boxes, confidence = [], []
    with torch.no_grad():
        for start in range(0, len(views.boxes), batch):
            c4 = torch.from_numpy(views.c4[start : start + batch])
            c5 = torch.from_numpy(views.c5[start : start + batch])
            b, c = decode(head(c4, c5), settings.anchor)
            boxes.append(b.numpy())
            confidence.append(c.numpy())
    return np.concatenate(boxes), np.concatenate(confidence)
