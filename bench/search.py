"""hnswlib against exact search over synthetic gallery embeddings: speed, recall, memory, size.

    python -m bench.search [--sizes 10000,100000,1000000] [--hnsw-upto 100000] [--json out.json]

For each gallery size, draws clustered unit embeddings of the shipped encoder's size
(`bench.synthetic`: several photos per individual), then new sightings of those individuals as
queries. Exact search is one matrix product over the (n, dim) embeddings and a partial sort;
the index is `turtle_id.index.PhotoIndex` (hnswlib) as the gallery builds, saves and loads it.
Each query is timed alone, as identify asks, for `k` = the shortlist identify fetches; exact
search and every `ef` run one after the other on each query, so a load that changes during the
run slows them alike. Recall@k: the share of the exact k nearest that the index returned.

Building an index is slow (O(n log n)); above `--hnsw-upto` photos only exact search is
measured, and the index's build time, memory, file size and query time are extrapolated from
the sizes measured (said so in the table). Recall there is not extrapolated.
"""

import argparse
import gc
import math
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from bench.common import finish, machine, ms, percentile, rss_mb, table
from bench.synthetic import ClusteredEmbeddings, describe
from turtle_id.encoder import Encoder
from turtle_id.index import PhotoIndex
from turtle_id.settings import IndexSettings, MatchSettings, default_encoder_path

TARGET_RECALL = 0.99  # recall@5 the defaults must reach
VIEW_SHARE = 3  # a view filter keeps one photo in three (top / left / right)


def exact_search(gallery: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """Labels (k,) of the k most similar gallery rows, best first; labels are row + 1."""
    similarities = gallery @ query  # (n,): unit vectors, so cosine similarity
    top = np.argpartition(-similarities, k - 1)[:k]
    return top[np.argsort(-similarities[top])] + 1


def in_one_view(label: int) -> bool:
    """A view filter: one photo in VIEW_SHARE. hnswlib calls it for every candidate it visits."""
    return label % VIEW_SHARE == 0


def recall(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    return len(set(found[:k].tolist()) & set(truth[:k].tolist())) / k


def measure(n: int, args, dim: int, settings: IndexSettings, k: int) -> dict:
    """Exact search, and the index when n <= hnsw_upto, on one synthetic gallery of n photos."""
    draw = ClusteredEmbeddings(dim, seed=args.seed)
    start = time.perf_counter()
    gallery, individual = draw.photos(n)
    n_queries = args.queries if n <= args.hnsw_upto else min(args.queries, 50)
    queries, _ = draw.sightings(n_queries)
    result = {
        "photos": n,
        "individuals": int(individual.max()) + 1,
        "queries": n_queries,
        "draw_s": round(time.perf_counter() - start, 1),
        "statistics": describe(gallery, individual),
        "exact": {"memory_mb": round(gallery.nbytes / 2**20, 1)},
    }
    print(f"{n} photos drawn in {result['draw_s']} s: {result['statistics']}", flush=True)
    index = None
    if n <= args.hnsw_upto:
        index, result["hnsw"] = build(gallery, dim, settings, args.keep, args.reuse)
        print(f"{n} photos indexed: {result['hnsw']}", flush=True)
    labels = np.arange(1, n + 1)
    in_view = np.array([in_one_view(x) for x in labels])
    # name -> (search, the ef it runs with (None: exact), BLAS threads (None: all))
    exact = lambda q: exact_search(gallery, q, k)  # noqa: E731
    # On a loaded machine OpenBLAS's threads cost a scheduler tick (about 8 ms here) per
    # matrix-vector product, so one query is searched exactly with one thread and with all.
    methods = {"exact": (exact, None, 1), "exact, all cores": (exact, None, None)}
    if index is not None:
        view_gallery = gallery[in_view]
        view_truth = [labels[in_view][exact_search(view_gallery, q, k) - 1] for q in queries]
        del view_gallery
        for ef in args.efs:
            methods[ef] = (lambda q: index.search(q, k)[0], ef, None)
        methods["view"] = (lambda q: index.search(q, k, in_one_view)[0], settings.ef, None)
    # Each method answers every query in one pass, so that no search runs with the caches
    # another method just filled (or flushed); the passes run forwards, then backwards, so a
    # load that drifts during the run weighs on each method alike.
    seconds = {name: [] for name in methods}
    found = {}
    for name in [*methods, *reversed(methods)]:
        search, ef, threads = methods[name]
        if ef is not None:
            index.settings = replace(settings, ef=ef, ef_growth=0.0)  # exactly this ef
        answers = []
        with threadpool_limits(threads):
            for query in queries:
                t0 = time.perf_counter()
                answers.append(search(query))
                seconds[name].append(time.perf_counter() - t0)
        found[name] = answers
    truth = found["exact"]
    for name, key in (("exact", "one_thread"), ("exact, all cores", "all_cores")):
        v = seconds[name]
        result["exact"][key] = {"ms_p50": ms(np.median(v)), "ms_p95": ms(percentile(v, 95))}
    # Against the faster of the two: the index must beat exact search at its best.
    result["exact"]["ms_p50"] = min(
        result["exact"][x]["ms_p50"] for x in ("one_thread", "all_cores")
    )
    if index is not None:
        result["hnsw"]["sweep"] = [
            stats(ef, seconds[ef], found[ef], truth, individual) for ef in args.efs
        ]
        result["hnsw"]["view_filter"] = stats(
            settings.ef, seconds["view"], found["view"], view_truth, individual
        )
    return result  # the gallery and index go with this frame, before the next size is drawn


def build(
    gallery: np.ndarray,
    dim: int,
    settings: IndexSettings,
    keep: Path | None = None,
    reuse: bool = False,
) -> tuple[PhotoIndex, dict]:
    """Build, save and load the index as the gallery does; the loaded one is returned.
    With `keep`, the saved file stays in that folder (bench.scale can reuse a 1M build); with
    `reuse` too, a file kept there by an earlier run of this draw is loaded, not rebuilt (its
    build figures are in that run's JSON)."""
    kept = keep and keep / f"photos-{len(gallery)}.hnsw"
    if reuse and kept and kept.is_file():
        t0 = time.perf_counter()
        index = PhotoIndex.load(kept, dim, "synthetic", settings)
        load_s = time.perf_counter() - t0
        if len(index) != len(gallery):
            raise SystemExit(f"{kept} holds {len(index)} photos, not {len(gallery)}: remove it")
        size = round(kept.stat().st_size / 2**20, 1)
        return index, {"reused": str(kept), "file_mb": size, "load_s": round(load_s, 2)}
    before = rss_mb()
    index = PhotoIndex(dim, "synthetic", settings)
    t0 = time.perf_counter()
    index.add(gallery, np.arange(1, len(gallery) + 1))
    build_s = time.perf_counter() - t0
    built_mb = rss_mb() - before
    with tempfile.TemporaryDirectory() as root:
        path = Path(keep or root) / f"photos-{len(gallery)}.hnsw"
        t0 = time.perf_counter()
        index.save(path)
        save_s = time.perf_counter() - t0
        del index  # the loaded copy replaces it, not beside it
        gc.collect()
        t0 = time.perf_counter()
        index = PhotoIndex.load(path, dim, "synthetic", settings)  # checks the SHA-256 too
        load_s = time.perf_counter() - t0
        file_mb = path.stat().st_size / 2**20
    figures = {
        "build_s": round(build_s, 1),
        "build_photos_per_s": round(len(gallery) / build_s),
        "rss_growth_mb": round(built_mb, 1),  # unreliable when freed memory is reused
        "file_mb": round(file_mb, 1),
        "save_s": round(save_s, 2),
        "load_s": round(load_s, 2),
    }
    return index, figures


def top_individuals(labels: np.ndarray, individual: np.ndarray, top: int) -> np.ndarray:
    """The first `top` distinct individuals of a best-first shortlist, as identify ranks them
    (by each individual's best photo) before keypoints re-rank them."""
    owners = individual[labels - 1]
    _, first = np.unique(owners, return_index=True)
    return owners[np.sort(first)][:top]


def stats(ef, seconds: list[float], found: list, truth: list, individual: np.ndarray) -> dict:
    def mean_recall(k, of=lambda x: x):
        return round(float(np.mean([recall(of(f), of(t), k) for f, t in zip(found, truth)])), 4)

    top = MatchSettings().top
    return {
        "ef": ef,
        "ms_p50": ms(np.median(seconds)),
        "ms_p95": ms(percentile(seconds, 95)),
        "recall@5": mean_recall(5),
        "recall@20": mean_recall(20),
        # What identify shows: do the top individuals of the shortlist stay the same?
        "individual_recall@5": mean_recall(top, lambda x: top_individuals(x, individual, top)),
    }


def choose_ef(results: list[dict]) -> int | None:
    """The smallest ef reaching TARGET_RECALL recall@5 at the largest size indexed."""
    indexed = [r for r in results if "hnsw" in r]
    if not indexed:
        return None
    good = [s["ef"] for s in indexed[-1]["hnsw"]["sweep"] if s["recall@5"] >= TARGET_RECALL]
    return min(good, default=None)


def extrapolate(results: list[dict], ef: int) -> None:
    """Index figures for the sizes only searched exactly, from the sizes indexed."""
    indexed = [r for r in results if "hnsw" in r]
    if len(indexed) < 2:
        return
    small, large = indexed[-2], indexed[-1]
    n0, n1 = small["photos"], large["photos"]
    # Build time as a power law through the two largest measured sizes; HNSW's own
    # complexity, n log n from the largest, is the optimistic end of the range.
    b0, b1 = small["hnsw"]["build_s"], large["hnsw"]["build_s"]
    power = math.log(b1 / b0) / math.log(n1 / n0)
    # Query time grows with the graph's depth, ~log n, at a fixed ef.
    q0 = next(s["ms_p50"] for s in small["hnsw"]["sweep"] if s["ef"] == ef)
    q1 = next(s["ms_p50"] for s in large["hnsw"]["sweep"] if s["ef"] == ef)
    slope = (q1 - q0) / math.log(n1 / n0)
    for r in results:
        if "hnsw" in r:
            continue
        n = r["photos"]
        r["hnsw_extrapolated"] = {
            "from": f"{n0} and {n1} photos",
            "build_s": round(b1 * (n / n1) ** power),
            "build_power": round(power, 2),
            "build_s_n_log_n": round(b1 * n * math.log(n) / (n1 * math.log(n1))),
            "file_mb": round(large["hnsw"]["file_mb"] * n / n1),
            "load_s": round(large["hnsw"]["load_s"] * n / n1, 1),
            "ef": ef,
            "ms_p50": round(q1 + slope * math.log(n / n1), 3),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="gallery photos, comma")
    parser.add_argument("--hnsw-upto", type=int, default=100_000, help="largest size indexed")
    parser.add_argument("--queries", type=int, default=200, help="queries per size")
    parser.add_argument("--efs", default="50,100,150,200,300,400,600", help="ef values to sweep")
    parser.add_argument("--M", type=int, default=IndexSettings.M)
    parser.add_argument("--ef-construction", type=int, default=IndexSettings.ef_construction)
    parser.add_argument("--dim", type=int, help="embedding size (default: the encoder's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="folder to keep the saved indexes in")
    parser.add_argument("--reuse", action="store_true", help="load an index --keep holds")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.efs = sorted(int(x) for x in args.efs.split(","))
    sizes = [int(x) for x in args.sizes.split(",")]
    dim = args.dim or Encoder(default_encoder_path()).info.embedding_size
    settings = IndexSettings(M=args.M, ef_construction=args.ef_construction)
    k = MatchSettings().shortlist  # identify fetches this many photos per query
    figures = {"machine": machine(), "dim": dim, "k": k, "settings": settings.__dict__}
    print(f"settings {figures['settings']}  dim {dim}  k {k}  efs {args.efs}", flush=True)
    results = [measure(n, args, dim, settings, k) for n in sizes]
    ef = choose_ef(results)
    if ef is not None:
        extrapolate(results, ef)
    figures |= {"results": results, "chosen_ef": ef, "target_recall@5": TARGET_RECALL}

    rows = []
    for r in results:
        exact = r["exact"]["ms_p50"]
        for s in r.get("hnsw", {}).get("sweep", []):
            rows.append(
                {
                    "photos": r["photos"],
                    "ef": s["ef"],
                    "ms/query p50": s["ms_p50"],
                    "p95": s["ms_p95"],
                    "recall@5": s["recall@5"],
                    "recall@20": s["recall@20"],
                    "individuals recall@5": s["individual_recall@5"],
                    "speed-up over exact": round(exact / s["ms_p50"], 1),
                }
            )
        if "hnsw" in r:
            v = r["hnsw"]["view_filter"]
            rows.append(
                {
                    "photos": r["photos"],
                    "ef": f"{v['ef']}, view filter (1 in {VIEW_SHARE})",
                    "ms/query p50": v["ms_p50"],
                    "p95": v["ms_p95"],
                    "recall@5": v["recall@5"],
                    "recall@20": v["recall@20"],
                    "individuals recall@5": v["individual_recall@5"],
                    "speed-up over exact": round(exact / v["ms_p50"], 1),
                }
            )
    if rows:
        print(f"\nef sweep (k = {k}, M {settings.M}, ef_construction {settings.ef_construction})")
        print(table(rows))
    print(
        f"\neach size at the smallest ef with recall@5 >= {TARGET_RECALL} there; chosen ef {ef} "
        f"(the one for the largest size indexed), IndexSettings.ef {IndexSettings.ef}"
    )
    print(table([size_row(r) for r in results]))
    finish(figures, args.json)


def size_row(r: dict) -> dict:
    row = {
        "photos": r["photos"],
        "exact ms, 1 thread": r["exact"]["one_thread"]["ms_p50"],
        "all cores": r["exact"]["all_cores"]["ms_p50"],
        "exact MB": r["exact"]["memory_mb"],
    }
    good = [s for s in r.get("hnsw", {}).get("sweep", []) if s["recall@5"] >= TARGET_RECALL]
    if good:
        h, s = r["hnsw"], good[0]  # the sweep runs from the smallest ef up
        how, ef, ms_p50, recall5 = "measured", s["ef"], s["ms_p50"], s["recall@5"]
    elif "hnsw_extrapolated" in r:
        h = r["hnsw_extrapolated"]
        how, ef, ms_p50 = f"extrapolated from {h['from']}", h["ef"], h["ms_p50"]
        recall5 = "not measured"
    else:
        return row
    return row | {
        "ef": ef,
        "hnsw ms": ms_p50,
        "recall@5": recall5,
        "speed-up": round(r["exact"]["ms_p50"] / ms_p50, 1),
        "build s": h.get("build_s", "earlier run")
        if "build_s_n_log_n" not in h
        else f"{h['build_s_n_log_n']}-{h['build_s']}",
        "index MB": h["file_mb"],
        "load s": h["load_s"],
        "index figures": how,
    }


if __name__ == "__main__":
    main()
