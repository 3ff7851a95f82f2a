"""Closed-set evaluation on a labelled collection, through the product's own enrol/identify.

Gallery and queries are split by date where dates exist: same-day photos share light and
background and make any method look good, so each individual's earliest date goes to the
gallery and its later dates are the queries.

Every query is compared with every gallery individual by embedding, and with the best
`MatchSettings.verify` photos by keypoints, exactly as identify does; one run scores the
embedding alone, the keypoints alone (on that shortlist) and their fusion.
"""

import random
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from turtle_id.datasets import PhotoRecord
from turtle_id.encoder import Encoder
from turtle_id.fusion import Fusion
from turtle_id.gallery import Gallery, Progress
from turtle_id.head_finder import HeadFinder
from turtle_id.metrics import map_at_5, top_k_accuracy
from turtle_id.photo import PhotoError
from turtle_id.settings import MatchSettings

EVERYTHING = 1_000_000  # "all of them", for top / shortlist / verify

# How each method orders one query's candidates: (individual, similarity, inliers, fused).
RANKINGS: dict[str, Callable[[tuple], tuple]] = {
    "embedding": lambda c: (-c[1], c[0]),
    "keypoints": lambda c: (-c[2], -c[1], c[0]),
    "fused": lambda c: (-c[3], -c[1], c[0]),
}


@dataclass(frozen=True)
class EvaluationSettings:
    seed: int = 0  # for the split of undated collections
    use_views: bool = True  # match only gallery photos of the query's view, when known
    gallery_share: float = (
        0.5  # undated collections: share of each individual's photos in the gallery
    )
    keypoints: bool = True  # also verify the shortlist with keypoints, as identify does


@dataclass
class QueryResult:
    photo: str
    truth: str
    candidates: list[tuple[str, float, int, float]]  # (individual, similarity, inliers, fused)


@dataclass
class Evaluation:
    split: str  # "date" or "seeded"
    gallery_photos: int
    individuals: int
    queries: list[QueryResult]
    fused_with: str | None  # what the "fused" ranking used; None = no fusion fitted
    problems: list[str] = field(default_factory=list)
    fusion: Fusion | None = None  # the fusion that made the "fused" scores
    # For the RSM: "gallery:<file>" and query paths -> embedding (dim,), and their individuals.
    embeddings: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    individual_of: dict[str, str] = field(default_factory=dict, repr=False)

    def scores(self, method: str = "fused") -> dict[str, float]:
        """MAP@5, top-1 and top-5 of one ranking method (see RANKINGS)."""
        if method == "fused" and self.fused_with is None:
            method = "embedding"
        truths = [q.truth for q in self.queries]
        rankings = [ranked(q, method) for q in self.queries]
        return {
            "map5": map_at_5(truths, rankings),
            "top1": top_k_accuracy(truths, rankings, 1),
            "top5": top_k_accuracy(truths, rankings, 5),
        }

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (query, candidate individual): similarity (n,), inliers (n,), same (n,)."""
        rows = [(c[1], c[2], c[0] == q.truth) for q in self.queries for c in q.candidates]
        if not rows:
            return np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool)
        similarity, inliers, same = (np.array(column) for column in zip(*rows))
        return similarity, inliers, same.astype(bool)

    def genuine_and_impostor(self, method: str = "embedding") -> tuple[list[float], list[float]]:
        """Per query: the true individual's score, and the best other individual's score."""
        column = {"embedding": 1, "keypoints": 2, "fused": 3}[method]
        genuine, impostor = [], []
        for q in self.queries:
            scores = {c[0]: c[column] for c in q.candidates}
            if q.truth in scores:
                genuine.append(float(scores[q.truth]))
            others = [v for k, v in scores.items() if k != q.truth]
            if others:
                impostor.append(float(max(others)))
        return genuine, impostor

    def line(self, method: str = "fused") -> str:
        s = self.scores(method)
        return (
            f"{method:<9}  map@5 {s['map5']:.3f}  top-1 {s['top1']:.3f}  top-5 {s['top5']:.3f}  "
            f"queries {len(self.queries)}  gallery {self.gallery_photos} photos of "
            f"{self.individuals} individuals  split {self.split}"
        )

    def summary(self) -> dict:
        methods = ["embedding"] + (["keypoints"] if self.has_keypoints else [])
        methods += ["fused"] if self.fused_with else []
        genuine, impostor = self.genuine_and_impostor("embedding")
        return {
            "split": self.split,
            "gallery_photos": self.gallery_photos,
            "individuals": self.individuals,
            "queries": len(self.queries),
            "fused_with": self.fused_with,
            "methods": {m: self.scores(m) for m in methods},
            "embedding_equal_error_threshold": equal_error_threshold(genuine, impostor),
        }

    @property
    def has_keypoints(self) -> bool:
        return any(c[2] for q in self.queries for c in q.candidates)


def ranked(query: QueryResult, method: str) -> list[str]:
    return [c[0] for c in sorted(query.candidates, key=RANKINGS[method])]


def split_gallery_queries(
    records: list[PhotoRecord], seed: int = 0, gallery_share: float = 0.5
) -> tuple[list[PhotoRecord], list[PhotoRecord], str]:
    """Gallery and query records: by date when every photo has one, else a seeded split.

    Individuals seen on one date only (or with one photo) stay in the gallery as distractors.
    """
    by_individual: dict[str, list[PhotoRecord]] = defaultdict(list)
    for record in records:
        by_individual[record.individual_id].append(record)
    dated = all(r.date for r in records)
    rng = random.Random(seed)
    gallery, queries = [], []
    for individual in sorted(by_individual):
        photos = by_individual[individual]
        if dated:
            first = min(r.date for r in photos)
            gallery += [r for r in photos if r.date == first]
            queries += [r for r in photos if r.date != first]
        else:
            photos = sorted(photos, key=lambda r: str(r.path))
            rng.shuffle(photos)
            n_gallery = max(1, round(len(photos) * gallery_share)) if len(photos) > 1 else 1
            gallery += photos[:n_gallery]
            queries += photos[n_gallery:]
    return gallery, queries, "date" if dated else "seeded"


def evaluate(
    records: list[PhotoRecord],
    encoder: Encoder,
    settings: EvaluationSettings = EvaluationSettings(),
    progress: Progress | None = None,
    fusion: Fusion | None = None,
    head_finder: HeadFinder | None = None,
) -> Evaluation:
    """Enrol the gallery split into a throwaway gallery and identify every query against it.

    Args:
        fusion: combines similarity and inliers for the "fused" ranking; None uses the shipped
            fusion when it fits the encoder, else there is no fused ranking.
        head_finder: crops photos that have no region to the head it finds; None = whole.
    """
    gallery_records, query_records, split = split_gallery_queries(
        records, settings.seed, settings.gallery_share
    )
    queries, embeddings, individual_of = [], {}, {}
    verify = MatchSettings().verify if settings.keypoints else 0
    match = MatchSettings(top=EVERYTHING, shortlist=EVERYTHING, verify=verify)
    with tempfile.TemporaryDirectory(prefix="turtle-id-eval-") as root:
        gallery = Gallery(root, encoder, match, head_finder=head_finder)
        if fusion is not None:
            gallery.fusion = fusion
        enrolled = gallery.enrol(gallery_records, progress)
        problems = list(enrolled.problems)
        individuals = len(gallery.individuals())
        for record in progress(query_records) if progress else query_records:
            try:
                answer = gallery.identify(
                    record.path,
                    str(record.path),
                    view=record.view if settings.use_views else None,
                    region=record.region,
                )
            except PhotoError as error:
                problems.append(str(error))
                continue
            candidates = [(m.turtle_id, m.similarity, m.inliers, m.score) for m in answer.matches]
            queries.append(QueryResult(str(record.path), record.individual_id, candidates))
            embeddings[str(record.path)] = answer.embedding
            individual_of[str(record.path)] = record.individual_id
        vectors, rows = gallery.catalogue.embeddings(encoder.model_version)
        names = {r.id: r.source_name for r in gallery.catalogue.photos()}
        for vector, (photo_id, individual, _) in zip(vectors, rows):
            embeddings[f"gallery:{names[photo_id]}"] = vector
            individual_of[f"gallery:{names[photo_id]}"] = individual
        fusion_used = gallery.fusion
        gallery.close()
    return Evaluation(
        split,
        enrolled.added,
        individuals,
        queries,
        fusion_used.fitted_on if fusion_used else None,
        problems,
        fusion_used,
        embeddings,
        individual_of,
    )


def equal_error_threshold(genuine: list[float], impostor: list[float]) -> float | None:
    """The score at which the share of true individuals scoring below it equals the share
    of best impostors scoring at or above it; None without both kinds of score."""
    if not genuine or not impostor:
        return None
    g, i = np.sort(genuine), np.sort(impostor)
    candidates = np.unique(np.concatenate([g, i]))
    false_new = np.searchsorted(g, candidates, side="left") / len(g)
    false_match = 1 - np.searchsorted(i, candidates, side="left") / len(i)
    return float(candidates[np.argmin(np.abs(false_new - false_match))])
