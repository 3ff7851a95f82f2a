"""Closed-set evaluation on a labelled collection, through the product's own enrol/identify.

Gallery and queries are split by date where dates exist: same-day photos share light and
background and make any method look good, so each individual's earliest date goes to the
gallery and its later dates are the queries.
"""

import random
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from turtle_id.datasets import PhotoRecord
from turtle_id.encoder import Encoder
from turtle_id.gallery import Gallery, Progress
from turtle_id.metrics import map_at_5, top_k_accuracy
from turtle_id.photo import PhotoError
from turtle_id.settings import MatchSettings


@dataclass(frozen=True)
class EvaluationSettings:
    seed: int = 0  # for the split of undated collections
    use_views: bool = True  # match only gallery photos of the query's view, when known
    gallery_share: float = (
        0.5  # undated collections: share of each individual's photos in the gallery
    )


@dataclass
class Evaluation:
    split: str  # "date" or "seeded"
    gallery_photos: int
    queries: int
    individuals: int
    map5: float
    top1: float
    top5: float
    genuine: list[float] = field(default_factory=list)  # best similarity of the true individual
    impostor: list[float] = field(default_factory=list)  # best similarity of any other one
    problems: list[str] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)  # per query: photo, truth, ranking, scores

    def line(self) -> str:
        return (
            f"map@5 {self.map5:.3f}  top-1 {self.top1:.3f}  top-5 {self.top5:.3f}  "
            f"queries {self.queries}  gallery {self.gallery_photos} photos of "
            f"{self.individuals} individuals  split {self.split}"
        )

    def summary(self) -> dict:
        return {
            k: getattr(self, k)
            for k in ("split", "gallery_photos", "queries", "individuals", "map5", "top1", "top5")
        } | {"equal_error_threshold": equal_error_threshold(self.genuine, self.impostor)}


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
    on_query: Callable[[dict], None] | None = None,
) -> Evaluation:
    """Enrol the gallery split into a throwaway gallery and identify every query against it."""
    gallery_records, query_records, split = split_gallery_queries(
        records, settings.seed, settings.gallery_share
    )
    truths, rankings, genuine, impostor, results = [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="turtle-id-eval-") as root:
        # Every individual is a candidate, so ask for all of them: the true one's rank and the
        # best impostor's score are both needed, not just the top 5.
        gallery = Gallery(root, encoder, MatchSettings(top=10_000, shortlist=10_000))
        enrolled = gallery.enrol(gallery_records, progress)
        problems = list(enrolled.problems)
        known = {i for i, _, _ in gallery.individuals()}
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
            ranking = [m.turtle_id for m in answer.matches]
            scores = [m.score for m in answer.matches]
            truths.append(record.individual_id)
            rankings.append(ranking)
            if record.individual_id in ranking:
                genuine.append(scores[ranking.index(record.individual_id)])
            others = [s for t, s in zip(ranking, scores) if t != record.individual_id]
            if others:
                impostor.append(others[0])
            result = {
                "photo": str(record.path),
                "truth": record.individual_id,
                "ranking": ranking[:5],
                "scores": [round(s, 4) for s in scores[:5]],
            }
            results.append(result)
            if on_query:
                on_query(result)
        gallery.close()
    return Evaluation(
        split=split,
        gallery_photos=enrolled.added,
        queries=len(truths),
        individuals=len(known),
        map5=map_at_5(truths, rankings),
        top1=top_k_accuracy(truths, rankings, 1),
        top5=top_k_accuracy(truths, rankings, 5),
        genuine=genuine,
        impostor=impostor,
        problems=problems,
        results=results,
    )


def equal_error_threshold(genuine: list[float], impostor: list[float]) -> float | None:
    """The similarity at which the share of true individuals scoring below it equals the share
    of best impostors scoring above it; None without both kinds of score."""
    if not genuine or not impostor:
        return None
    g, i = np.sort(genuine), np.sort(impostor)
    candidates = np.unique(np.concatenate([g, i]))
    false_new = np.searchsorted(g, candidates, side="left") / len(g)
    false_match = 1 - np.searchsorted(i, candidates, side="left") / len(i)
    return float(candidates[np.argmin(np.abs(false_new - false_match))])
