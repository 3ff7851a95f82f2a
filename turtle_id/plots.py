"""Figures for evaluation and the Insights tab. Each helper returns a matplotlib figure and
writes nothing: callers save or show it."""

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display: figures are saved to PNG or handed to Gradio

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from turtle_id.evaluation import RANKINGS, Evaluation  # noqa: E402


def similarity_matrix(embeddings: np.ndarray) -> np.ndarray:
    """Cosine similarity of every photo with every other, (n, n), from embeddings (n, dim)."""
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True).clip(1e-12)
    return unit @ unit.T


def grouped_order(labels: Sequence[str]) -> np.ndarray:
    """Photo order that puts each individual's photos together, individuals by name."""
    return np.array(sorted(range(len(labels)), key=lambda i: (labels[i], i)), dtype=int)


def rsm_figure(embeddings: np.ndarray, labels: Sequence[str], title: str = "") -> Figure:
    """The representational similarity matrix (the seed post's RSM): photos grouped by
    individual, so bright blocks on the diagonal are individuals told apart, and bright
    squares off it are individuals that get confused."""
    order = grouped_order(labels)
    matrix = similarity_matrix(np.asarray(embeddings)[order])
    ordered = [labels[i] for i in order]
    figure, axes = plt.subplots(figsize=(7, 6))
    image = axes.imshow(matrix, cmap="viridis", vmin=float(np.percentile(matrix, 2)), vmax=1.0)
    # One tick per individual, at the middle of its block; lines at block edges.
    edges = (
        [0] + [i for i in range(1, len(ordered)) if ordered[i] != ordered[i - 1]] + [len(ordered)]
    )
    middles = [(a + b - 1) / 2 for a, b in zip(edges, edges[1:])]
    names = [ordered[a] for a in edges[:-1]]
    for edge in edges[1:-1]:
        axes.axhline(edge - 0.5, color="white", linewidth=0.4)
        axes.axvline(edge - 0.5, color="white", linewidth=0.4)
    if len(names) <= 40:
        axes.set_xticks(middles, names, rotation=90, fontsize=7)
        axes.set_yticks(middles, names, fontsize=7)
    else:
        axes.set_xticks([])
        axes.set_yticks([])
    figure.colorbar(image, ax=axes, label="cosine similarity")
    axes.set_title(title or f"RSM: {len(ordered)} photos of {len(names)} individuals")
    figure.tight_layout()
    return figure


def score_histograms(
    genuine: Sequence[float],
    impostor: Sequence[float],
    thresholds: dict[str, float] | None = None,
    xlabel: str = "score",
) -> Figure:
    """Genuine (the true individual's score) against impostor (the best other individual's
    score) histograms, with the decision thresholds marked."""
    figure, axes = plt.subplots(figsize=(7, 4))
    values = np.r_[genuine, impostor] if len(genuine) + len(impostor) else np.zeros(1)
    bins = np.linspace(float(values.min()), float(values.max()) + 1e-9, 30)
    axes.hist(
        impostor, bins=bins, alpha=0.6, label=f"best impostor ({len(impostor)})", color="tab:red"
    )
    axes.hist(
        genuine, bins=bins, alpha=0.6, label=f"true individual ({len(genuine)})", color="tab:green"
    )
    for (name, value), style in zip((thresholds or {}).items(), ("--", ":", "-.")):
        axes.axvline(value, color="black", linestyle=style, label=f"{name} threshold {value:.2f}")
    axes.set_xlabel(xlabel)
    axes.set_ylabel("queries")
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


def cumulative_match_curve(result: Evaluation, max_rank: int = 20) -> Figure:
    """Top-k accuracy for k = 1..max_rank, one line per ranking method."""
    figure, axes = plt.subplots(figsize=(6, 4))
    ranks = np.arange(1, max_rank + 1)
    for method, key in RANKINGS.items():
        if method == "fused" and result.fusion is None:
            continue
        positions = []
        for query in result.queries:
            order = [c[0] for c in sorted(query.candidates, key=key)]
            positions.append(order.index(query.truth) + 1 if query.truth in order else np.inf)
        positions = np.array(positions)
        axes.plot(ranks, [(positions <= k).mean() for k in ranks], marker=".", label=method)
    axes.set_xlabel("rank k")
    axes.set_ylabel("share of queries with the true individual in the top k")
    axes.set_ylim(0, 1.02)
    axes.set_xticks(ranks[::2] if max_rank > 10 else ranks)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return figure


def evaluation_figures(
    result: Evaluation, thresholds: dict[str, float] | None = None
) -> dict[str, Figure]:
    """The three evaluation plots: RSM of gallery and query photos, score histograms, CMC."""
    names = sorted(result.embeddings)
    figures = {}
    if names:
        figures["rsm"] = rsm_figure(
            np.stack([result.embeddings[n] for n in names]),
            [result.individual_of[n] for n in names],
        )
    method = "fused" if result.fusion else "embedding"
    genuine, impostor = result.genuine_and_impostor(method)
    xlabel = "match probability (fused)" if result.fusion else "cosine similarity"
    figures["scores"] = score_histograms(
        genuine, impostor, thresholds if result.fusion else None, xlabel
    )
    figures["cmc"] = cumulative_match_curve(result)
    return figures
