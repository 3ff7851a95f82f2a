"""Cross-validation of one training configuration over several seeded draws of validation
individuals: with 8 + 4 held-out turtles, one draw moves by a tenth when two queries change.

    python -m export.crossval --name supcon-d100 --folds 5 -- --embedding-size 100
    python -m export.crossval --table supcon-d100 arcface-d100      # Markdown, from summaries

Every fold trains from scratch with `--split-seed` = first seed .. first seed + folds - 1
(the training photos' cached views are shared); a fold that already finished is read back,
not trained again. The summary pools each held-out collection's queries over the folds,
for the trained encoder and for the ImageNet encoder on the same queries.
"""

import argparse
import json
from dataclasses import replace

from export.train import RUNS, parse, train

METRICS = ("map5", "top1", "top5")


def pooled(folds: list[dict]) -> dict:
    """Query-weighted means over folds: collection -> metric -> value, plus queries."""
    out: dict[str, dict] = {}
    for scores in folds:
        for name, s in scores.items():
            if name == "mean_map5":
                continue
            total = out.setdefault(name, dict.fromkeys(METRICS, 0.0) | {"queries": 0})
            for metric in METRICS:
                total[metric] += s[metric] * s["queries"]
            total["queries"] += s["queries"]
    for total in out.values():
        for metric in METRICS:
            total[metric] /= max(1, total["queries"])
    return out


def table(names: list[str], collections: tuple[str, ...]) -> str:
    """A Markdown table of finished cross-validations: the ImageNet encoder's row (from the
    first), then one row per run; MAP@5 / top-1 / top-5 per collection, minutes per fold."""
    summaries = {n: json.loads((RUNS / "crossval" / n / "summary.json").read_text()) for n in names}
    head = "| encoder | " + " | ".join(f"{c} MAP@5 / top-1 / top-5" for c in collections)
    lines = [head + " | minutes per fold |", "|---" * (len(collections) + 2) + "|"]

    def row(label: str, scores: dict, minutes: str) -> str:
        cells = [
            " / ".join(f"{scores[c][m]:.3f}" for m in METRICS) if c in scores else "-"
            for c in collections
        ]
        return f"| {label} | " + " | ".join(cells) + f" | {minutes} |"

    lines.append(row("ImageNet (shipped)", summaries[names[0]]["imagenet"], "-"))
    for name, summary in summaries.items():
        minutes = sorted(summary["minutes"])
        lines.append(row(name, summary["trained"], f"{minutes[len(minutes) // 2]:.1f}"))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", help="folder under the runs folder")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="split seed of the first fold: fresh draws test a recipe chosen on earlier ones",
    )
    parser.add_argument("--table", nargs="+", metavar="NAME", help="print finished runs")
    parser.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then export.train flags")
    args = parser.parse_args()
    if args.table:
        print(table(args.table, ("turtle-profiles-dev", "seaturtleid-dev")))
        return
    if not args.name:
        parser.error("--name is required to run a cross-validation")
    settings, data = parse([a for a in args.train_args if a != "--"])
    root = RUNS / "crossval" / args.name
    trained, imagenet, minutes = [], [], []
    for fold in range(args.first_seed, args.first_seed + args.folds):
        out = root / f"split-{fold}"
        if (out / "history.json").is_file():
            result = json.loads((out / "history.json").read_text())
        else:
            result = train(replace(settings, out=out), replace(data, split_seed=fold))
        trained.append(result["history"][-1]["validation"])
        imagenet.append(result["imagenet"])
        minutes.append(result["minutes"])
    summary = {"trained": pooled(trained), "imagenet": pooled(imagenet), "minutes": minutes}
    (root / "summary.json").write_text(json.dumps(summary, indent=1))
    for encoder in ("imagenet", "trained"):
        for name, s in summary[encoder].items():
            figures = "  ".join(f"{m} {s[m]:.3f}" for m in METRICS)
            print(f"{args.name}  {encoder:8s}  {name:20s}  {figures}  queries {s['queries']}")
    print(f"{args.name}  minutes per fold {', '.join(f'{m:.1f}' for m in minutes)}")


if __name__ == "__main__":
    main()
