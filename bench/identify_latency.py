"""Identify latency and enrolment throughput on the real dev photos.

    python -m bench.identify_latency [--data ../shared/data] [--repeats 20] [--json out.json]

Enrols every dev collection into a throwaway gallery (photos per second), then identifies one
2048x1365 JPEG `repeats` times in one process, timing decode, embed, search and keypoint
verification (the query's keypoints, and matching them against the shortlist) apart.
"""

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from turtle_id.datasets import read_collection
from turtle_id.encoder import Encoder
from turtle_id.gallery import Gallery
from turtle_id.photo import crop, load_photo
from turtle_id.settings import default_encoder_path

COLLECTIONS = ("turtle-profiles-dev", "seaturtleid-dev", "nyala-dev")
QUERY = "turtle-profiles-dev/images/leftIMG_0328.jpg"  # 2048x1365 grey JPEG
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    encoder = Encoder(default_encoder_path())
    with tempfile.TemporaryDirectory() as root:
        gallery = Gallery(Path(root), encoder)
        records = [r for name in COLLECTIONS for r in read_collection(args.data / name).records]
        start = time.perf_counter()
        gallery.enrol(records)
        enrol_s = time.perf_counter() - start
        query = args.data / QUERY
        gallery.identify(query)  # warm-up: the first onnxruntime run allocates
        steps = {name: [] for name in ("decode", "embed", "search", "keypoints", "total")}
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            picture = crop(load_photo(query, target=encoder.info.input_size), None)
            t1 = time.perf_counter()
            embedding = encoder.embed([picture])[0]
            t2 = time.perf_counter()
            gallery.identify_embedding(embedding, str(query))  # search alone
            t3 = time.perf_counter()
            found = gallery.keypoints.extract(picture)
            gallery.identify_embedding(embedding, str(query), keypoints=found)
            t4 = time.perf_counter()
            search = t3 - t2
            verify = (t4 - t3) - search  # the second identify also searched
            for name, seconds in zip(steps, (t1 - t0, t2 - t1, search, verify)):
                steps[name].append(seconds)
            steps["total"].append((t2 - t0) + search + verify)
        figures = {
            "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
            "provider": encoder.provider,
            "model_version": encoder.model_version,
            "gallery_photos": len(gallery),
            "verified_photos": gallery.match_settings.verify,
            "enrol_photos_per_s": round(len(records) / enrol_s, 1),
            "identify_ms_median": {
                name: round(statistics.median(v) * 1000, 2) for name, v in steps.items()
            },
            "identify_ms_p95": {
                name: round(sorted(v)[int(0.95 * (len(v) - 1))] * 1000, 2)
                for name, v in steps.items()
            },
            "repeats": args.repeats,
        }
        gallery.close()
    print(f"gallery {figures['gallery_photos']} photos, enrol {figures['enrol_photos_per_s']}/s")
    for label in ("median", "p95"):
        row = figures[f"identify_ms_{label}"]
        print(f"identify {label} ms  " + "  ".join(f"{k} {v}" for k, v in row.items()))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
