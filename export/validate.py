"""Validation on held-out individuals: a quick score from embeddings during training, and the
full measurement of an ONNX encoder through the app's own enrol / identify path.

    python -m export.validate --encoder assets/encoder.onnx
    python -m export.validate --encoder out/encoder.onnx --set-threshold

Both split each held-out collection by date (gallery = each individual's earliest date) and
match a query only against gallery photos of its own view, or of unknown view, as the app does.
`--set-threshold` writes the equal-error threshold of the pooled validation scores into the
ONNX metadata as `match_threshold`.
"""

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from export.data import DataSettings, split
from turtle_id.datasets import PhotoRecord
from turtle_id.encoder import Encoder
from turtle_id.evaluation import (
    EvaluationSettings,
    equal_error_threshold,
    evaluate,
    split_gallery_queries,
)
from turtle_id.matching import best_per_individual
from turtle_id.metrics import map_at_5, top_k_accuracy


@dataclass(frozen=True)
class Scores:
    map5: float
    top1: float
    top5: float
    queries: int


def closed_set(embeddings: np.ndarray, records: list[PhotoRecord]) -> Scores:
    """MAP@5 / top-1 / top-5 of the date split of `records`, exact search.

    Args:
        embeddings: (n, d) unit length, one per record, in the same order.
        records: labelled, dated photos.
    """
    position = {id(r): i for i, r in enumerate(records)}
    gallery, queries, _ = split_gallery_queries(records)
    g = np.array([position[id(r)] for r in gallery])
    individual_of = {int(i): records[i].individual_id for i in g}
    truths, rankings = [], []
    for query in queries:
        allowed = np.array([records[i].view in (None, query.view) or query.view is None for i in g])
        similarities = embeddings[g[allowed]] @ embeddings[position[id(query)]]
        ranked = best_per_individual(g[allowed], similarities, individual_of, top=10_000)
        truths.append(query.individual_id)
        rankings.append([c.individual_id for c in ranked])
    return Scores(
        map_at_5(truths, rankings),
        top_k_accuracy(truths, rankings, 1),
        top_k_accuracy(truths, rankings, 5),
        len(truths),
    )


def measure(encoder_path: Path, validation: dict[str, list[PhotoRecord]]) -> dict:
    """Per held-out collection, the app's evaluation; plus the pooled equal-error threshold."""
    encoder = Encoder(encoder_path)
    out, genuine, impostor = {}, [], []
    for name, records in validation.items():
        # The encoder alone: keypoint verification and fusion are measured elsewhere.
        result = evaluate(records, encoder, EvaluationSettings(keypoints=False))
        if result.problems:
            raise ValueError(f"{name}: {len(result.problems)} problems: {result.problems[0]}")
        print(f"validation {name:22s} {result.line('embedding')}")
        out[name] = result.scores("embedding") | {"queries": len(result.queries)}
        g, i = result.genuine_and_impostor("embedding")
        genuine += g
        impostor += i
    threshold = equal_error_threshold(genuine, impostor)
    out["pooled_equal_error_threshold"] = threshold
    out["model_version"] = encoder.model_version
    return out


def set_threshold(path: Path, threshold: float) -> None:
    """Rewrite the ONNX file's `match_threshold` metadata, keeping everything else."""
    model = onnx.load(str(path))
    for prop in model.metadata_props:
        if prop.key == "match_threshold":
            prop.value = f"{threshold:.4f}"
            break
    else:
        model.metadata_props.add(key="match_threshold", value=f"{threshold:.4f}")
    onnx.save(model, str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", type=Path, required=True)
    parser.add_argument("--data", type=Path, action="append", help="default: the shared dev sets")
    parser.add_argument("--holdout", action="append", help="collection=n (default: train's)")
    parser.add_argument("--split-seed", type=int, default=DataSettings.split_seed)
    parser.add_argument(
        "--find-heads", action="append", default=[], help="crop this collection to found heads"
    )
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--set-threshold", action="store_true")
    args = parser.parse_args()
    data = DataSettings(
        data=tuple(args.data or DataSettings.data),
        holdout=tuple(args.holdout or DataSettings.holdout),
        split_seed=args.split_seed,
        find_heads=tuple(args.find_heads),
    )
    held = split(data)
    print(held.describe())
    figures = measure(args.encoder, held.validation)
    threshold = figures["pooled_equal_error_threshold"]
    print(f"pooled equal-error threshold {threshold:.4f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if args.set_threshold:
        set_threshold(args.encoder, threshold)
        print(f"wrote match_threshold {threshold:.4f} into {args.encoder}")


if __name__ == "__main__":
    main()
