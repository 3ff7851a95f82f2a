"""Training and validation photos: collections read with `turtle_id.datasets`, validation
individuals held out by a seeded draw, and photos decoded the way the app decodes them.

Validation individuals never reach training. In a dated collection only individuals
photographed on two or more dates can be held out, since validation splits by date (gallery =
earliest date); an undated one (nyala-dev) is split per individual by a seeded draw instead.
"""

import json
import random
import tempfile
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from turtle_id.datasets import PhotoRecord, read_collection
from turtle_id.encoder import Encoder
from turtle_id.gallery import Gallery
from turtle_id.head_finder import HeadFinder
from turtle_id.photo import crop, load_photo
from turtle_id.settings import default_encoder_path, default_head_finder_path

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
DEFAULT_DATA = tuple(
    SHARED_DATA / name
    for name in ("turtle-profiles-dev", "seaturtleid-dev", "nyala-dev", "turtle-heads-mini")
)
# 8 of 20 profile turtles and 4 of the 8 SeaTurtleID turtles seen on several dates: enough
# queries to measure, while most turtles stay in training.
DEFAULT_HOLDOUT = ("turtle-profiles-dev=8", "seaturtleid-dev=4")
# Terms a model inherits from its training photos (../shared/README.md and each LICENSE file).
LICENCES = {
    "seaturtleid-dev": "SeaTurtleID2022 (Papafitsoros et al.): research use only, no commercial "
    "use (also of algorithms trained on it), no redistribution of the photos",
    "turtle-heads-mini": "MIT",
}


@dataclass(frozen=True)
class DataSettings:
    data: tuple[Path, ...] = DEFAULT_DATA  # collections, any layout `read_collection` reads
    holdout: tuple[str, ...] = DEFAULT_HOLDOUT  # "collection=n": n validation individuals
    split_seed: int = 0  # the draw of validation individuals
    positives: str = "view"  # "view": same individual and view; "individual": any view
    use_regions: bool = True  # crop to head regions where labels.csv gives them
    # collections that never train (a licence, say); their held-out individuals still validate
    validation_only: tuple[str, ...] = ()
    # collections whose photos without a region are cropped, as the app crops them, to the
    # head that assets/head_finder.onnx finds (whole photos squeezed to 224 px lose the scutes)
    find_heads: tuple[str, ...] = ()
    regions_cache: Path = Path("/tmp/turtle-id-train/cache/found-heads.json")


@dataclass(frozen=True)
class TrainPhoto:
    record: PhotoRecord
    collection: str  # folder name: batches draw individuals of one collection at a time
    label: str  # "collection/individual[/view]": photos with one label are positives


@dataclass
class Split:
    train: list[TrainPhoto]
    validation: dict[str, list[PhotoRecord]]  # collection -> records of held-out individuals
    held_out: dict[str, list[str]]  # collection -> held-out individual IDs

    def trained_on(self) -> list[str]:
        """The collections that training photos come from, in order."""
        return list(dict.fromkeys(p.collection for p in self.train))

    def describe(self) -> str:
        lines = [
            f"train {len(self.train)} photos, {len({p.label for p in self.train})} labels, "
            f"{len({p.collection for p in self.train})} collections"
        ]
        for name, ids in self.held_out.items():
            n = len(self.validation[name])
            lines.append(f"validation {name}: {n} photos of {len(ids)} individuals {ids}")
        return "\n".join(lines)


def split(settings: DataSettings) -> Split:
    """Read every collection, hold out the validation individuals, label the rest."""
    holdout = _parse_holdout(settings.holdout)
    train, validation, held_out = [], {}, {}
    for root in settings.data:
        collection = read_collection(root, use_regions=settings.use_regions)
        name = Path(root).name
        if collection.problems:
            print(f"{name}: skipped {len(collection.problems)} rows: {collection.problems[0]}")
        records = collection.records
        if name in settings.find_heads:
            records = found_heads(records, settings.regions_cache)
        chosen = hold_out(records, holdout.pop(name, 0), settings.split_seed)
        if chosen:
            held_out[name] = chosen
            validation[name] = [r for r in records if r.individual_id in chosen]
        if name in settings.validation_only:
            continue
        for record in records:
            if record.individual_id not in chosen:
                train.append(TrainPhoto(record, name, _label(name, record, settings.positives)))
    if holdout:
        raise ValueError(
            f"--holdout names {sorted(holdout)}, which no --data folder is called: "
            f"use one of {[Path(r).name for r in settings.data]}"
        )
    return Split(train, validation, held_out)


def hold_out(records: list[PhotoRecord], n: int, seed: int) -> list[str]:
    """`n` individuals drawn (seeded) among those photographed on two or more dates, sorted;
    in an undated collection (validated by a seeded split), among those with two photos."""
    dated = any(r.date for r in records)
    seen: dict[str, set[str]] = defaultdict(set)
    for record in records:
        seen[record.individual_id].add(record.date if dated else str(record.path))
    candidates = sorted(i for i, s in seen.items() if len(s - {None}) >= 2)
    if n > len(candidates):
        what = "photos from two or more dates" if dated else "two or more photos"
        raise ValueError(
            f"cannot hold out {n} individuals: only {len(candidates)} have {what}: lower the "
            "number after '=' in --holdout"
        )
    return sorted(random.Random(seed).sample(candidates, n))


def found_heads(records: list[PhotoRecord], cache: Path) -> list[PhotoRecord]:
    """Records without a region get the region the app would use: the head finder's box with
    the gallery's margin (`Gallery.locate`), or none when it finds no head. Regions found
    before are read from `cache` (a JSON file: path -> region or null)."""
    known = json.loads(cache.read_text()) if cache.is_file() else {}
    todo = [r for r in records if r.region is None and str(r.path) not in known]
    if todo:
        with tempfile.TemporaryDirectory(prefix="turtle-id-heads-") as root:
            gallery = Gallery(
                root,
                Encoder(default_encoder_path()),
                head_finder=HeadFinder(default_head_finder_path()),
            )
            for record in todo:
                _, region, _ = gallery.locate(record.path, str(record.path), None)
                known[str(record.path)] = list(region) if region else None
            gallery.close()
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known, indent=0))
    return [
        r
        if r.region is not None or not known.get(str(r.path))
        else replace(r, region=tuple(known[str(r.path)]))
        for r in records
    ]


def source_picture(
    record: PhotoRecord, size: int, margin: float
) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """The record's region with `margin` of context, and the region's box inside it.

    The picture is reduced so that the region's smaller side is about 1.5 * `size`: enough for
    a crop at `size`, and small enough to keep every training photo in memory.
    """
    photo = load_photo(record.path, target=size, region=record.region)
    width, height = photo.size
    x, y, w, h = record.region or (0, 0, width, height)
    mx, my = round(w * margin), round(h * margin)
    box = (max(0, x - mx), max(0, y - my), min(width, x + w + mx), min(height, y + h + my))
    picture = crop(photo, (box[0], box[1], box[2] - box[0], box[3] - box[1]), str(record.path))
    s = picture.width / (box[2] - box[0])  # pixels of `picture` per pixel of the full photo
    reduce = min(1.0, 1.5 * size / (min(w, h) * s))
    if reduce < 1.0:
        picture = picture.resize(
            (max(1, round(picture.width * reduce)), max(1, round(picture.height * reduce))),
            Image.BILINEAR,
            reducing_gap=3.0,
        )
        s *= reduce
    region = (round((x - box[0]) * s), round((y - box[1]) * s), round(w * s), round(h * s))
    return picture, region


def product_picture(record: PhotoRecord, size: int) -> Image.Image:
    """The (size, size) picture the app embeds for this record: as `turtle_id.gallery` decodes
    and crops it and `turtle_id.encoder.Encoder.preprocess` resizes it."""
    photo = load_photo(record.path, target=size, region=record.region)
    picture = crop(photo, record.region, str(record.path))
    return picture.convert("RGB").resize((size, size), Image.BILINEAR, reducing_gap=3.0)


def to_tensor(
    pictures: list[Image.Image], mean: tuple[float, ...], std: tuple[float, ...]
) -> torch.Tensor:
    """RGB pictures to the encoder's input (B, 3, H, W), scaled to 0..1 then (x - mean) / std."""
    pixels = np.stack([np.asarray(p.convert("RGB"), dtype=np.float32) for p in pictures]) / 255.0
    pixels = (pixels - np.array(mean, np.float32)) / np.array(std, np.float32)
    return torch.from_numpy(pixels.transpose(0, 3, 1, 2).copy())


def _label(collection: str, record: PhotoRecord, positives: str) -> str:
    # The app matches a query only against gallery photos of its own view, and a turtle's left
    # and right profiles are different patterns: by default they are different labels.
    if positives == "view" and record.view:
        return f"{collection}/{record.individual_id}/{record.view}"
    if positives in ("view", "individual"):
        return f"{collection}/{record.individual_id}"
    raise ValueError(f"positives {positives!r} is not 'view' or 'individual'")


def _parse_holdout(items: tuple[str, ...]) -> dict[str, int]:
    out = {}
    for item in items:
        name, _, n = item.partition("=")
        if not n.isdigit():
            raise ValueError(f"--holdout {item!r} is not collection=n, e.g. seaturtleid-dev=4")
        out[name] = int(n)
    return out
