"""The ONNX encoder: photos in, L2-normalised embeddings out, with onnxruntime only.

Everything inference needs (input size, colour order, mean/std, embedding size, model version)
is read from the ONNX file's own metadata, written by `export/export_onnx.py`.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from turtle_id.runtime import announce, open_model


@dataclass(frozen=True)
class EncoderInfo:
    model_version: str
    input_size: int  # pixels, square
    mean: tuple[float, float, float]  # RGB, on 0..1
    std: tuple[float, float, float]
    embedding_size: int
    training_data: str
    match_threshold: float  # the model's own "match" similarity, measured at export


class Encoder:
    """Embeds photos with the shipped ONNX model: CUDA when onnxruntime has it, else CPU."""

    def __init__(self, path: Path, threads: int = 0):
        restore = (
            "restore assets/encoder.onnx from the repository "
            "or re-export it with `python -m export.export_onnx`"
        )
        self.session = open_model(path, "encoder", restore, threads)
        self.provider = self.session.get_providers()[0]
        self.info = _read_info(self.session, Path(path))
        self.input_name = self.session.get_inputs()[0].name
        announce("encoder", path, self.info.model_version, self.provider)
        self._mean = np.array(self.info.mean, dtype=np.float32).reshape(1, 1, 3)
        self._std = np.array(self.info.std, dtype=np.float32).reshape(1, 1, 3)

    @property
    def model_version(self) -> str:
        return self.info.model_version

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """An RGB picture to the model's input, (3, size, size) float32."""
        size = self.info.input_size
        # The whole picture is squeezed to a square, not centre-cropped: a head region is
        # rarely square and cropping could cut off the scutes at its edges.
        resized = image.convert("RGB").resize((size, size), Image.BILINEAR, reducing_gap=3.0)
        pixels = np.asarray(resized, dtype=np.float32) / 255.0
        return ((pixels - self._mean) / self._std).transpose(2, 0, 1)

    def embed(self, images: list[Image.Image], batch_size: int = 16) -> np.ndarray:
        """Embeddings of RGB pictures, (n, embedding_size) float32 of unit length."""
        if not images:
            return np.zeros((0, self.info.embedding_size), dtype=np.float32)
        out = []
        for start in range(0, len(images), batch_size):
            batch = np.stack([self.preprocess(im) for im in images[start : start + batch_size]])
            out.append(self.session.run(None, {self.input_name: batch})[0])
        embeddings = np.concatenate(out).astype(np.float32)
        # The model already normalises; renormalising guards against a model exported without it.
        return embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True).clip(1e-12)


def _read_info(session: ort.InferenceSession, path: Path) -> EncoderInfo:
    meta = session.get_modelmeta().custom_metadata_map
    try:
        return EncoderInfo(
            model_version=meta["model_version"],
            input_size=int(meta["input_size"]),
            mean=tuple(json.loads(meta["mean"])),
            std=tuple(json.loads(meta["std"])),
            embedding_size=int(meta["embedding_size"]),
            training_data=meta.get("training_data", "unknown"),
            match_threshold=float(meta.get("match_threshold", 0.7)),
        )
    except (KeyError, ValueError) as error:
        raise ValueError(
            f"encoder {path} lacks the metadata Turtle ID needs ({error}): export it with "
            "`python -m export.export_onnx`, which writes input size, mean/std and version"
        ) from None
