"""Train the head finder on the head boxes of turtle-profiles-dev, validating on held-back turtles.

    nice -n 10 python -m export.train_head_finder            # validate on 5 held-back turtles
    nice -n 10 python -m export.train_head_finder --ship     # then retrain on all 20 to ship
    python -m export.export_head_finder                      # checkpoint -> assets/head_finder.onnx

The trunk is frozen, so every augmented view goes through it once: its features are cached and
only the small grid head trains, for many epochs, in minutes on a CPU. Validation photos are
whole photos of individuals the head never saw, as the app sees them. The confidence threshold
is chosen on them against crops of the same photos that miss the head, and blank frames.
"""

import argparse
import json
import math
import time
import zlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from export.head_finder import GridHead, HeadFinderSettings, box_loss, focal_heatmap_loss
from export.head_finder_data import AugmentSettings, blank, render, targets, whole
from export.head_finder_eval import choose_threshold, end_to_end, validate
from export.head_finder_features import TrunkRunner, Views, featurise, predict
from turtle_id.datasets import read_collection
from turtle_id.photo import load_photo

WORK = Path("/tmp/turtle_id_head_finder")  # trunk ONNX and checkpoints: never committed


@dataclass(frozen=True)
class TrainSettings:
    data: Path = Path("../shared/data/turtle-profiles-dev")
    out: Path = WORK / "head_finder.pt"
    val_individuals: int = 5  # held back, drawn with `seed`; 0 trains on all
    views_per_photo: int = 32  # augmented views per training photo, plus the whole photo
    val_negatives_per_photo: int = 8  # head-free crops of each validation photo
    val_blanks: int = 16  # synthetic blank frames among the validation negatives
    decode_side: int = 1024  # pixels on the longer side photos are held at for cropping
    epochs: int = 15
    batch_size: int = 32
    lr: float = 2e-3  # AdamW, cosine decay to 0 over `epochs`
    weight_decay: float = 1e-3
    box_weight: float = 1.0  # box L1 against the heatmap focal loss
    threads: int = 0  # CPU threads for torch and onnxruntime; 0 = all
    seed: int = 0
    # One photo shows two turtles and only one head is labelled: its crops would teach that a
    # head is not a head. It still counts in validation when drawn there.
    skip_training: tuple[str, ...] = ("images/leftIMG_9895itsthebottomone.jpg",)
    model: HeadFinderSettings = field(default_factory=HeadFinderSettings)
    augment: AugmentSettings = field(default_factory=AugmentSettings)


# Data


def load_photos(settings: TrainSettings) -> list[dict]:
    """Every labelled photo, held at `decode_side`, with its head box in those pixels."""
    collection = read_collection(settings.data)
    if collection.problems:
        raise ValueError(f"{settings.data}: unreadable rows: {collection.problems}")
    photos = []
    for record in collection.records:
        if record.region is None:
            continue
        photo = load_photo(record.path, target=settings.decode_side // 2)
        image = photo.image
        image.thumbnail((settings.decode_side, settings.decode_side), Image.BILINEAR)
        scale = image.width / photo.size[0]
        photos.append(
            {
                "file": record.path.relative_to(settings.data.resolve()).as_posix(),
                "individual": record.individual_id,
                "image": image,
                "head": tuple(v * scale for v in record.region),
                "region": record.region,  # pixels of the full photo, for the end-to-end check
                "path": record.path,
            }
        )
    if not photos:
        raise ValueError(f"{settings.data}: no photo has a head box (head_x, head_y, head_w, ...)")
    return photos


def split(photos: list[dict], settings: TrainSettings) -> tuple[list[dict], list[dict]]:
    individuals = sorted({p["individual"] for p in photos})
    if not 0 <= settings.val_individuals < len(individuals):
        raise ValueError(
            f"val_individuals={settings.val_individuals} but the data has {len(individuals)} "
            "individuals: hold back fewer"
        )
    rng = np.random.default_rng(settings.seed)
    held = set(rng.permutation(individuals)[: settings.val_individuals].tolist())
    return [p for p in photos if p["individual"] not in held], [
        p for p in photos if p["individual"] in held
    ]


def training_views(photos, settings: TrainSettings, rng):
    """Per photo: the whole photo, flipped and not, then `views_per_photo` augmented views."""
    s, a = settings.model, settings.augment
    mean, std = _mean_std(s)
    for p in photos:
        pixels, box = whole(p["image"], p["head"], s.image_size, mean, std)
        yield pixels, box
        yield pixels[:, :, ::-1].copy(), (1.0 - box[0], *box[1:])
        for _ in range(settings.views_per_photo):
            positive = rng.random() < a.positive_share
            yield render(p["image"], p["head"], rng, a, s.image_size, mean, std, positive)


def validation_views(photos, settings: TrainSettings, rng):
    """Whole photos (each with its head), then head-free crops of them, then blank frames."""
    s, a = settings.model, settings.augment
    mean, std = _mean_std(s)
    for p in photos:
        yield whole(p["image"], p["head"], s.image_size, mean, std)
    no_blanks = replace(a, blank_share=0.0)
    for p in photos:
        for _ in range(settings.val_negatives_per_photo):
            yield render(p["image"], p["head"], rng, no_blanks, s.image_size, mean, std, False)
    for _ in range(settings.val_blanks):
        yield blank(rng, s.image_size, mean, std), None


# Training


def batch_targets(boxes, settings: HeadFinderSettings):
    heat, regression, mask = zip(*(targets(b, settings.grid, settings.anchor) for b in boxes))
    return (torch.from_numpy(np.stack(x)) for x in (heat, regression, mask))


def train(head, views: Views, settings: TrainSettings, val: Views | None, n_val_photos: int):
    """Fit the head on cached views; one line per epoch."""
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    optimiser = torch.optim.AdamW(
        head.parameters(), settings.lr, weight_decay=settings.weight_decay
    )
    steps_per_epoch = math.ceil(len(views.boxes) / settings.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda step: 0.5 * (1 + math.cos(math.pi * step / (settings.epochs * steps_per_epoch))),
    )
    for epoch in range(1, settings.epochs + 1):
        head.train()
        started, heat_sum, box_sum = time.time(), 0.0, 0.0
        order = rng.permutation(len(views.boxes))
        for start in range(0, len(order), settings.batch_size):
            index = np.sort(order[start : start + settings.batch_size])
            heat, regression, mask = batch_targets([views.boxes[i] for i in index], settings.model)
            maps = head(torch.from_numpy(views.c4[index]), torch.from_numpy(views.c5[index]))
            heat_loss = focal_heatmap_loss(maps[:, 0], heat)
            reg_loss = box_loss(maps, regression, mask)
            loss = heat_loss + settings.box_weight * reg_loss
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            heat_sum += heat_loss.item() * len(index)
            box_sum += reg_loss.item() * len(index)
        n = len(views.boxes)
        line = f"epoch {epoch:2d}  heat {heat_sum / n:.3f}  box {box_sum / n:.3f}"
        if val is not None:
            figures = validate(head, val, n_val_photos, settings.model)
            line += (
                f"  val_iou {figures['mean_iou']:.3f}  val_iou>0.5 {figures['iou_above_0.5']:.3f}"
                f"  val_auc {figures['auc']:.3f}"
            )
        print(f"{line}  {time.time() - started:.1f}s", flush=True)


# Main


def run(settings: TrainSettings, photos: list[dict], trunk: TrunkRunner, cache: dict) -> dict:
    train_photos, val_photos = split(photos, settings)
    train_photos = [p for p in train_photos if p["file"] not in settings.skip_training]
    print(
        f"train {len(train_photos)} photos of {len({p['individual'] for p in train_photos})} "
        f"individuals  val {len(val_photos)} photos of "
        f"{len({p['individual'] for p in val_photos})}: "
        f"{sorted({p['individual'] for p in val_photos})}",
        flush=True,
    )
    views = _views_of(train_photos, cache, settings, trunk)
    val = None
    if val_photos:
        rng = np.random.default_rng(settings.seed + 1)
        count = len(val_photos) * (1 + settings.val_negatives_per_photo) + settings.val_blanks
        val = featurise(trunk, validation_views(val_photos, settings, rng), count)
    torch.manual_seed(settings.seed)
    head = GridHead(settings.model)
    train(head, views, settings, val, len(val_photos))
    result = {"head": head, "val_photos": val_photos, "trained_on": train_photos}
    if val is not None:
        boxes, confidence = predict(head, val, settings.model)
        threshold = choose_threshold(confidence[: len(val_photos)], confidence[len(val_photos) :])
        result["figures"] = validate(head, val, len(val_photos), settings.model, threshold)
        result["end_to_end"] = end_to_end(
            head, val_photos, settings.model, threshold, settings.threads, WORK
        )
        result["threshold"] = threshold
    return result


def _views_of(photos, cache: dict, settings: TrainSettings, trunk) -> Views:
    """Training views per photo, featurised once and shared by the validation and ship runs."""
    missing = [p for p in photos if p["file"] not in cache]
    if missing:
        started = time.time()
        per_photo = settings.views_per_photo + 2
        for p in missing:
            # Seeded per photo, so a photo's views do not depend on which run asked first.
            rng = np.random.default_rng([settings.seed, zlib.crc32(p["file"].encode())])
            cache[p["file"]] = featurise(trunk, training_views([p], settings, rng), per_photo)
        print(
            f"featurised {len(missing) * per_photo} views of {len(missing)} photos  "
            f"{time.time() - started:.0f}s",
            flush=True,
        )
    parts = [cache[p["file"]] for p in photos]
    return Views(
        np.concatenate([v.c4 for v in parts]),
        np.concatenate([v.c5 for v in parts]),
        [b for v in parts for b in v.boxes],
    )


def _mean_std(settings: HeadFinderSettings) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.array(settings.mean, dtype=np.float32).reshape(1, 1, 3),
        np.array(settings.std, dtype=np.float32).reshape(1, 1, 3),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = TrainSettings()
    parser.add_argument("--data", type=Path, default=defaults.data)
    parser.add_argument("--out", type=Path, default=defaults.out)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--views-per-photo", type=int, default=defaults.views_per_photo)
    parser.add_argument("--val-individuals", type=int, default=defaults.val_individuals)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument(
        "--ship", action="store_true", help="after validating, retrain on every individual"
    )
    args = parser.parse_args()
    settings = replace(
        defaults,
        data=args.data,
        out=args.out,
        epochs=args.epochs,
        views_per_photo=args.views_per_photo,
        val_individuals=args.val_individuals,
        seed=args.seed,
        threads=args.threads,
    )
    print("settings", json.dumps({**asdict(settings), "ship": args.ship}, default=str), flush=True)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    np.random.seed(settings.seed)
    started = time.time()
    photos = load_photos(settings)
    trunk = TrunkRunner(settings.model.image_size, settings.threads, WORK)
    cache: dict = {}
    result = run(settings, photos, trunk, cache)
    validation = {k: result[k] for k in ("figures", "end_to_end", "threshold") if k in result}
    if "figures" in result:
        print("validation", json.dumps(validation), flush=True)
    held_back = sorted({p["individual"] for p in result["val_photos"]})
    if args.ship:
        if "threshold" not in result:
            raise ValueError(
                "--ship needs a validation run to choose the threshold: "
                "keep --val-individuals above 0"
            )
        result = run(replace(settings, val_individuals=0), photos, trunk, cache)
    checkpoint = {
        "head": result["head"].state_dict(),
        "model": asdict(settings.model),
        "threshold": validation.get("threshold", 0.5),
        "validation": validation,
        "held_back": held_back,
        "trained_on": sorted({p["individual"] for p in result["trained_on"]}),
        "settings": json.loads(json.dumps(asdict(settings), default=str)),
    }
    settings.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, settings.out)
    print(
        f"saved {settings.out}  trained on {len(checkpoint['trained_on'])} individuals  "
        f"{time.time() - started:.0f}s",
        flush=True,
    )


if __name__ == "__main__":
    main()
