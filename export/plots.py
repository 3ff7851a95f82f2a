"""Figures of a training run: the loss and validation MAP@5 per epoch, and representational
similarity matrices (RSM, as in the seed post) of the validation photos before and after.

    python -m export.plots /tmp/turtle-id-train/supcon-d100 --out docs

The plot helpers return figures; only `main` writes files.
"""

import argparse
import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure


def training_curves(histories: dict[str, list[dict]]) -> Figure:
    """Training loss and mean validation MAP@5 per epoch, one line per run.

    Args:
        histories: run name -> `history` of its history.json (epoch 0 = before training).
    """
    figure = Figure(figsize=(10, 4), layout="constrained")
    loss_ax, map_ax = figure.subplots(1, 2)
    for name, history in histories.items():
        epochs = [h["epoch"] for h in history]
        loss_ax.plot(epochs[1:], [h["loss"] for h in history[1:]], label=name)
        map_ax.plot(epochs, [h["validation"]["mean_map5"] for h in history], label=name)
    loss_ax.set(xlabel="epoch", ylabel="training loss", title="loss")
    map_ax.set(
        xlabel="epoch (0 = before training)",
        ylabel="MAP@5",
        title="validation MAP@5, mean of the held-out collections",
    )
    for ax in (loss_ax, map_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return figure


def rsm(ax, embeddings: np.ndarray, individuals: np.ndarray, title: str):
    """Draw the cosine similarity matrix of (n, d) unit embeddings on `ax`, grouped by
    individual; returns the image, for a colour bar."""
    order = np.argsort(individuals, kind="stable")
    e, ids = embeddings[order], individuals[order]
    image = ax.imshow(e @ e.T, vmin=-0.2, vmax=1.0, cmap="viridis", interpolation="nearest")
    edges = np.flatnonzero(ids[1:] != ids[:-1]) + 0.5  # boundaries between individuals
    for edge in edges:
        ax.axhline(edge, color="white", lw=0.5)
        ax.axvline(edge, color="white", lw=0.5)
    bounds = np.concatenate([[-0.5], edges, [len(ids) - 0.5]])
    ax.set_yticks((bounds[1:] + bounds[:-1]) / 2, ids[(bounds[:-1] + 0.5).astype(int)], fontsize=6)
    ax.set_xticks([])
    ax.set_title(title, fontsize=9)
    return image


def rsm_before_after(
    before: np.ndarray, after: np.ndarray, individuals: np.ndarray, collections: np.ndarray
) -> Figure:
    """One row per collection: RSM of the ImageNet embeddings, then of the trained ones.

    Args:
        before, after: (n, d_before) and (n, d_after) unit embeddings of the same photos.
        individuals, collections: (n,) labels of those photos.
    """
    names = list(dict.fromkeys(collections.tolist()))
    figure = Figure(figsize=(10, 4.6 * len(names)), layout="constrained")
    axes = np.atleast_2d(figure.subplots(len(names), 2))
    for row, name in zip(axes, names):
        mask = collections == name
        n_individuals = len(set(individuals[mask]))
        where = f"{name}: {mask.sum()} photos, {n_individuals} held-out individuals"
        rsm(row[0], before[mask], individuals[mask], f"ImageNet encoder\n{where}")
        image = rsm(row[1], after[mask], individuals[mask], f"trained encoder\n{where}")
    figure.colorbar(image, ax=axes, shrink=0.6, label="cosine similarity")
    return figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the run folder (--out of export.train)")
    parser.add_argument("--compare", type=Path, action="append", default=[], help="other runs")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    histories = {
        # crossval folds are all called split-N: name them by their run as well
        "/".join(run.parts[-2:]): json.loads((run / "history.json").read_text())["history"]
        for run in [args.run, *args.compare]
    }
    curves = args.out / "training-curves.png"
    training_curves(histories).savefig(curves, dpi=120)
    saved = np.load(args.run / "validation-embeddings.npz")
    figure = rsm_before_after(
        saved["before"], saved["after"], saved["individual"], saved["collection"]
    )
    matrices = args.out / "validation-rsm.png"
    figure.savefig(matrices, dpi=120)
    print(f"wrote {curves} and {matrices}")


if __name__ == "__main__":
    main()
