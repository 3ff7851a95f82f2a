"""A large gallery on one machine: database and index sizes, memory, start-up and identify.

    python -m bench.scale [--sizes 10000,100000] [--json out.json]

For each size, writes a gallery folder through `turtle_id.catalogue.Catalogue` (the real schema
and events): synthetic individuals (about five photos each), photos with a clustered embedding
of the encoder's size (`bench.synthetic`) and, as keypoints, the stored keypoints of real dev
head photos, cycled over the rows (real descriptors, real blob size). No photo files are
written: their size is the dev gallery's (bench.identify_latency). The index is then built and
saved as the gallery does when it rebuilds one.

A fresh process then opens the gallery as the app does and identifies query embeddings (new
sightings of gallery individuals, with a real query photo's keypoints): the time to open, the
first identify (which loads the index and the photo facts), later identifies (search and
keypoint verification of the shortlist) at p50 and p95, and its resident memory. The page
cache is warm: the files were just written.

Above `--all-keypoints-upto` photos (default 100k) only the photos a query can reach carry
keypoints: the exact 200 nearest photos of each query (identify verifies 30 of its 50 nearest),
since a million photos' keypoints take about 130 GB of disk; the database size with every
photo's keypoints is then the measured size plus their bytes (`database_mb_all_keypoints`).
A 1M index takes 40-80 minutes to build on two cores: `--index-from DIR` reuses the one
`python -m bench.search --sizes 1000000 --hnsw-upto 1000000 --keep DIR` built of the same
draw (checked), its build time measured there.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import DATA, finish, machine, ms, peak_rss_mb, percentile, rss_mb, table
from bench.synthetic import ClusteredEmbeddings
from turtle_id.catalogue import Catalogue
from turtle_id.datasets import read_collection
from turtle_id.encoder import Encoder
from turtle_id.index import PhotoIndex
from turtle_id.keypoints import KeypointMatcher, Keypoints
from turtle_id.photo import crop, load_photo
from turtle_id.settings import VIEWS, MatchSettings, default_encoder_path

QUERY = "turtle-profiles-dev/images/leftIMG_0328.jpg"
KEYPOINT_PHOTOS = 30  # real head photos whose keypoints the synthetic rows share
CHUNK = 10_000  # photos per write transaction: a bounded WAL (keypoints are ~120 KB each)
SITES = ("Laganas", "Kalamaki", "Gerakas", "Sekania", "Daphni")
# Nearest photos per query that carry keypoints in a partial gallery: four times the
# shortlist identify fetches, so that the index's approximate answers stay inside them too.
REACHABLE = 4 * MatchSettings().shortlist
QUERIES = 64
NO_KEYPOINTS = Keypoints(
    np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32), 1.0
).to_bytes()  # what a photo no query reaches holds in a partial gallery


def write_gallery(root: Path, n: int, encoder: Encoder, keypoints: list[bytes], args):
    """A gallery folder of n synthetic photos; returns the query embeddings (n_q, dim) and
    what writing it took."""
    draw = ClusteredEmbeddings(encoder.info.embedding_size, args.seed)
    embeddings, individual = draw.photos(n)
    queries, _ = draw.sightings(QUERIES)
    with_keypoints = None  # every photo
    if n > args.all_keypoints_upto:
        with_keypoints = reachable(embeddings, queries, REACHABLE)
    rng = np.random.default_rng(args.seed)
    catalogue = Catalogue(root / "gallery.sqlite")
    version, key = encoder.model_version, KeypointMatcher().settings.key
    t0 = time.perf_counter()
    for start in range(0, n, CHUNK):
        with catalogue.transaction("bench") as db:
            for i in range(start, min(start + CHUNK, n)):
                name = f"T{individual[i]:07d}"
                if i == 0 or individual[i] != individual[i - 1]:
                    Catalogue.add_individual(db, name, {"source": "bench.scale"})
                sha = rng.bytes(32).hex()
                fields = {
                    "sha256": sha,
                    "individual_id": name,
                    "file": f"photos/{sha[:2]}/{sha}.jpg",
                    "preview": f"previews/{sha[:2]}/{sha}.jpg",
                    "source_name": f"IMG_{i:07d}.jpg",
                    "view": VIEWS[i % 4] if i % 4 < 3 else None,
                    "date_taken": f"20{10 + i % 15}-0{1 + i % 9}-1{i % 10} 10:{i % 60:02d}:00",
                    "site": SITES[i % len(SITES)],
                    "observer": "bench",
                    "region": (100, 80, 900, 700),
                    "model_version": version,
                }
                photo_id = Catalogue.add_photo(db, fields, embeddings[i], {"source": "bench"})
                found = keypoints[i % len(keypoints)]
                if with_keypoints is not None and photo_id not in with_keypoints:
                    found = NO_KEYPOINTS  # a row all the same, or the gallery extracts them
                Catalogue.set_keypoints(db, photo_id, key, found)
    write_s = time.perf_counter() - t0
    catalogue.close()
    result = {"write_s": round(write_s, 1)}
    if with_keypoints is not None:
        missing = n - len(with_keypoints)
        result["photos_with_keypoints"] = len(with_keypoints)
        result["keypoints_mb_not_written"] = float_round(
            missing * (np.mean([len(b) for b in keypoints]) - len(NO_KEYPOINTS)) / 2**20
        )
    target = root / "index" / "photos.hnsw"
    built = args.index_from and args.index_from / f"photos-{n}.hnsw"
    if built and built.is_file():
        reuse_index(built, target, embeddings, encoder)
        result["index_build_s"] = "bench.search"
        return queries, result
    t0 = time.perf_counter()
    index = PhotoIndex(encoder.info.embedding_size, version)
    index.add(embeddings, np.arange(1, n + 1))  # photo ids run 1..n in a fresh database
    index.save(target)
    result["index_build_s"] = round(time.perf_counter() - t0, 1)
    return queries, result


def float_round(x, digits: int = 1) -> float:
    return round(float(x), digits)


def reachable(embeddings: np.ndarray, queries: np.ndarray, k: int) -> set[int]:
    """Photo ids (1-based rows) among the exact k nearest of any query."""
    ids: set[int] = set()
    for q in queries:
        similarity = embeddings @ q
        ids.update(int(i) + 1 for i in np.argpartition(-similarity, k)[:k])
    return ids


def reuse_index(built: Path, target: Path, embeddings: np.ndarray, encoder: Encoder) -> None:
    """Copies bench.search's saved index of this draw as this gallery's, under the encoder's
    model version, after checking that it holds these embeddings."""
    meta = json.loads(built.with_name(built.name + ".json").read_text())
    index = PhotoIndex.load(built, meta["dim"], meta["model_version"])
    rows = np.array([0, len(embeddings) // 2, len(embeddings) - 1])
    stored = np.asarray(index._index.get_items(rows + 1), np.float32)
    stored /= np.linalg.norm(stored, axis=1, keepdims=True)
    if len(index) != len(embeddings) or not np.allclose(stored, embeddings[rows], atol=1e-5):
        raise SystemExit(f"{built} is not an index of this draw: build it again")
    del index
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(built, target)
    meta["model_version"] = encoder.model_version
    target.with_name(target.name + ".json").write_text(json.dumps(meta))


def real_keypoints(data: Path, encoder: Encoder) -> tuple[list[bytes], bytes]:
    """Stored-form keypoints of real head photos, and of the query photo's head, extracted
    from the picture enrolment and identify extract them from (decoded for the encoder)."""
    matcher, size = KeypointMatcher(), encoder.info.input_size
    collection = read_collection(data / "turtle-profiles-dev")
    blobs, query = [], None
    for record in collection.records:
        if len(blobs) == KEYPOINT_PHOTOS and query is not None:
            break
        photo = load_photo(record.path, target=size, region=record.region)
        found = matcher.extract(crop(photo, record.region)).to_bytes()
        if record.path == data / QUERY:
            query = found
        elif len(blobs) < KEYPOINT_PHOTOS:
            blobs.append(found)
    assert query is not None, f"{QUERY} is not in turtle-profiles-dev's labels"
    return blobs, query


def open_and_identify(root: Path, queries: Path, keypoints: Path, repeats: int) -> dict:
    """In this (fresh) process: open the gallery, identify; times and memory."""
    from turtle_id.gallery import Gallery  # after the baseline memory is read

    before = rss_mb()
    encoder = Encoder(default_encoder_path())
    query_keypoints = Keypoints.from_bytes(keypoints.read_bytes())
    embeddings = np.load(queries)
    with_encoder = rss_mb()
    t0 = time.perf_counter()
    gallery = Gallery(root, encoder)
    t1 = time.perf_counter()
    gallery.identify_embedding(embeddings[0], "query", keypoints=query_keypoints)
    t2 = time.perf_counter()
    seconds, search = [], []
    for i in range(repeats):
        q = embeddings[1 + i % (len(embeddings) - 1)]
        t3 = time.perf_counter()
        gallery.identify_embedding(q, "query")
        t4 = time.perf_counter()
        gallery.identify_embedding(q, "query", keypoints=query_keypoints)
        seconds.append(time.perf_counter() - t4)
        search.append(t4 - t3)
    figures = {
        "open_s": round(t1 - t0, 2),
        "first_identify_s": round(t2 - t1, 2),  # loads the index and the photo facts
        "identify_ms_p50": ms(np.median(seconds)),
        "identify_ms_p95": ms(percentile(seconds, 95)),
        "search_ms_p50": ms(np.median(search)),
        "search_ms_p95": ms(percentile(search, 95)),
        "rss_mb": round(rss_mb() - with_encoder, 1),  # the gallery's share, encoder excluded
        "peak_rss_mb": round(peak_rss_mb() - before, 1),
        "encoder_rss_mb": round(with_encoder - before, 1),
    }
    gallery.close()
    return figures


def measure(n: int, args, encoder: Encoder, keypoints: list[bytes], query: bytes) -> dict:
    with tempfile.TemporaryDirectory(dir=args.tmp) as folder:
        root = Path(folder) / "gallery"
        queries, result = write_gallery(root, n, encoder, keypoints, args)
        np.save(Path(folder) / "queries.npy", queries)
        (Path(folder) / "query.kp").write_bytes(query)
        database = sum(p.stat().st_size for p in root.glob("gallery.sqlite*")) / 2**20
        result |= {
            "photos": n,
            "database_mb": round(database, 1),
            "index_mb": round((root / "index" / "photos.hnsw").stat().st_size / 2**20, 1),
        }
        if "keypoints_mb_not_written" in result:
            result["database_mb_all_keypoints"] = float_round(
                database + result["keypoints_mb_not_written"]
            )
        print(f"{n} photos written: {result}", flush=True)
        child = [sys.executable, "-m", "bench.scale", "--open", str(root)]
        child += ["--queries", str(Path(folder) / "queries.npy")]
        child += ["--keypoints", str(Path(folder) / "query.kp"), "--repeats", str(args.repeats)]
        answer = subprocess.run(child, capture_output=True, text=True)
        if answer.returncode:
            raise SystemExit(f"opening the {n}-photo gallery failed:\n{answer.stderr}")
        result |= json.loads(answer.stdout.strip().splitlines()[-1])
        print(f"{n} photos opened: {result}", flush=True)
    return result


def extrapolate(measured: list[dict], n: int) -> dict:
    """Figures for n photos from the largest size measured: sizes and memory grow with n, and
    so does search, on the line through the two largest sizes: hnswlib's part grows with log n
    only, but each search also scans the catalogue's event log (`Catalogue.changes_after`
    reads the whole events_action index: 40 ms at a million events). Keypoint verification
    does not depend on n."""
    base = measured[-1]
    f = n / base["photos"]
    grow = {k: round(base[k] * f, 1) for k in ("database_mb", "index_mb", "rss_mb", "peak_rss_mb")}
    grow |= {k: round(base[k] * f, 1) for k in ("write_s", "open_s", "first_identify_s")}
    out = {"photos": n, "extrapolated_from": base["photos"], **grow}
    if len(measured) >= 2:
        small = measured[-2]
        per_photo = (base["search_ms_p50"] - small["search_ms_p50"]) / (
            base["photos"] - small["photos"]
        )
        extra = max(0.0, per_photo * (n - base["photos"]))
        out["search_ms_p50"] = round(base["search_ms_p50"] + extra, 2)
        out["identify_ms_p50"] = round(base["identify_ms_p50"] + extra, 1)
    return out


def print_table(figures: dict) -> None:
    rows = [
        {
            "photos": r["photos"],
            "database MB": r.get("database_mb_all_keypoints", r["database_mb"]),
            "keypoints": r.get("photos_with_keypoints", "all"),
            "index MB": r["index_mb"],
            "gallery RAM MB": r["rss_mb"],
            "peak RAM MB": r["peak_rss_mb"],
            "open s": r["open_s"],
            "first identify s": r["first_identify_s"],
            "search p50 ms": r.get("search_ms_p50", ""),
            "search p95 ms": r.get("search_ms_p95", ""),
            "identify p50 ms": r.get("identify_ms_p50", ""),
            "identify p95 ms": r.get("identify_ms_p95", ""),
            "write s": r["write_s"],
            "index build s": r.get("index_build_s", "see bench.search"),
            "figures": "measured" if "extrapolated_from" not in r else "extrapolated",
        }
        for r in figures["measured"] + figures["extrapolated"]
    ]
    print(
        f"\nsynthetic galleries, keypoints {figures['keypoints_kb_mean']} KB per photo; identify "
        "= search + keypoint verification, from a query embedding (decode, head finding and "
        "embedding add what bench.identify_latency measures)"
    )
    print(table(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="photos, comma-separated")
    parser.add_argument("--extrapolate", default="1000000", help="sizes only extrapolated")
    parser.add_argument("--repeats", type=int, default=40, help="identifies per size")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--tmp", type=Path, help="folder for the galleries (default: system)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--all-keypoints-upto",
        type=int,
        default=100_000,
        help="larger galleries hold keypoints only for the photos queries reach",
    )
    parser.add_argument("--index-from", type=Path, help="folder of bench.search --keep")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--open", type=Path, help=argparse.SUPPRESS)  # the child's mode
    parser.add_argument("--queries", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--keypoints", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.open:
        figures = open_and_identify(args.open, args.queries, args.keypoints, args.repeats)
        print(json.dumps(figures))
        return
    figures = {"machine": machine()}
    encoder = Encoder(default_encoder_path())
    keypoints, query = real_keypoints(args.data, encoder)
    figures["keypoints_kb_mean"] = round(np.mean([len(b) for b in keypoints]) / 1024, 1)
    measured = [measure(int(n), args, encoder, keypoints, query) for n in args.sizes.split(",")]
    extrapolated = [extrapolate(measured, int(n)) for n in args.extrapolate.split(",") if n]
    figures |= {"measured": measured, "extrapolated": extrapolated}
    print_table(figures)
    finish(figures, args.json)


if __name__ == "__main__":
    main()
