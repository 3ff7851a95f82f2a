"""The frozen front of the encoder, run once: features at the input of the first trained block
for a fixed number of augmented views of every training photo, and for each validation photo
as the app would see it.

Two CPU cores cannot run EfficientNet-Lite0 forward and backward over thousands of views in
half an hour; with the front cached, an epoch runs only the last blocks and the head. The cost
is a fixed set of augmentations (`views` per photo) instead of fresh ones each epoch.

A cache file holds features per photo, so runs with other held-out individuals or other
collections reuse every photo already cached. Features at a later block are derived from a
cache at an earlier one by running the frozen blocks between them, without decoding again.
"""

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from export.augment import AugmentSettings, augment
from export.data import product_picture, source_picture, to_tensor
from export.encoder import Encoder
from turtle_id.datasets import PhotoRecord

BATCH = 32  # views per forward pass of the frozen front


@dataclass
class Features:
    values: torch.Tensor  # (n, C, h, w) float16, the input of block `block`
    flipped: torch.Tensor  # (n,) bool: the view was mirrored


def training_features(
    encoder: Encoder,
    records: list[PhotoRecord],
    block: int,
    views: int,
    flip: bool,
    augment_settings: AugmentSettings,
    seed: int,
    cache_dir: Path,
    device: str,
) -> Features:
    """`views` augmented views per photo, item `photo * views + v`."""
    size = encoder.settings.image_size

    def views_of(record: PhotoRecord):
        # Seeded by the photo, not its position, so adding a collection changes no other view.
        rng = random.Random(f"{seed}/{record.path}/{record.region}")
        picture, region = source_picture(record, size, augment_settings.margin)
        return [augment(picture, region, size, rng, augment_settings, flip) for _ in range(views)]

    settings = (size, "train", views, flip, asdict(augment_settings), seed)
    return _cached(encoder, records, views_of, block, settings, cache_dir, device)


def validation_features(
    encoder: Encoder, records: list[PhotoRecord], block: int, cache_dir: Path, device: str
) -> Features:
    """One view per photo, decoded, cropped and resized as the app does it."""
    size = encoder.settings.image_size

    def views_of(record: PhotoRecord):
        return [_Plain(product_picture(record, size))]

    settings = (size, "validation")
    return _cached(encoder, records, views_of, block, settings, cache_dir, device)


@dataclass(frozen=True)
class _Plain:
    picture: object
    flipped: bool = False


def _cached(
    encoder: Encoder,
    records: list[PhotoRecord],
    views_of: Callable,
    block: int,
    settings: tuple,
    cache_dir: Path,
    device: str,
) -> Features:
    path = _path(cache_dir, settings, block)
    store = torch.load(path) if path.is_file() else {}
    missing = [r for r in records if _photo(r) not in store]
    encoder.eval()
    # Derive from the latest earlier block that has the photos, else decode and run the front.
    for earlier in range(block - 1, -1, -1):
        source_path = _path(cache_dir, settings, earlier)
        if not missing or not source_path.is_file():
            continue
        source = torch.load(source_path)
        found = [r for r in missing if _photo(r) in source]
        if not found:
            continue
        for record in tqdm(found, desc=f"block {block} from block {earlier}", mininterval=5):
            values, flipped = source[_photo(record)]  # (views, C, h, w): one batch
            with torch.no_grad():
                x = values.to(device).float()
                for index in range(earlier, block):
                    x = encoder.backbone._blocks[index](x)
            store[_photo(record)] = (x.half().cpu(), flipped)
        missing = [r for r in missing if _photo(r) not in store]
    pending: list = []
    owners: list[str] = []

    def run():
        batch = to_tensor([v.picture for v in pending], encoder.settings.mean, encoder.settings.std)
        with torch.no_grad():
            values = encoder.features_until(batch.to(device), block).half().cpu()
        for key in dict.fromkeys(owners):
            mine = [i for i, owner in enumerate(owners) if owner == key]
            flipped = torch.tensor([pending[i].flipped for i in mine], dtype=torch.bool)
            store[key] = (values[mine], flipped)

    for record in tqdm(missing, desc=f"caching {settings[1]} photos", mininterval=5):
        views = views_of(record)
        pending += views
        owners += [_photo(record)] * len(views)
        if len(pending) >= BATCH:
            run()
            pending, owners = [], []
    if pending:
        run()
    if missing or not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        torch.save(store, tmp)
        tmp.replace(path)  # a run killed while saving leaves no half-written cache behind
    values = torch.cat([store[_photo(r)][0] for r in records])
    flipped = torch.cat([store[_photo(r)][1] for r in records])
    return Features(values, flipped)


def _photo(record: PhotoRecord) -> str:
    return f"{record.path}|{record.region}"


def _path(cache_dir: Path, settings: tuple, block: int) -> Path:
    # The frozen front is always ImageNet EfficientNet-Lite0: its weights need no key.
    key = hashlib.sha256(json.dumps([settings, block], default=str).encode()).hexdigest()[:16]
    return Path(cache_dir) / f"{settings[1]}-block{block}-{key}.pt"
