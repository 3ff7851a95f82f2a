"""Identify latency and enrolment throughput on the real dev photos.

    python -m bench.identify_latency [--data ../shared/data] [--repeats 20] [--json out.json]

Enrols every dev collection into a throwaway gallery (photos per second), then identifies one
2048x1365 JPEG `repeats` times in one process, timing decode, embed and search separately.
"""

import argparse
import json
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
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
        gallery.identify(query)  # warm-up: first onnxruntime run allocates
        decode, embed, search, total = [], [], [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            photo = load_photo(query, target=encoder.info.input_size)
            picture = crop(photo, None)
            t1 = time.perf_counter()
            embedding = encoder.embed([picture])[0]
            t2 = time.perf_counter()
            gallery.identify_embedding(embedding, str(query))
            t3 = time.perf_counter()
            decode.append(t1 - t0)
            embed.append(t2 - t1)
            search.append(t3 - t2)
            total.append(t3 - t0)
        figures = {
            "machine": f"{platform.processor() or platform.machine()}, {_cores()} cores",
            "provider": encoder.provider,
            "gallery_photos": len(gallery),
            "enrol_photos_per_s": round(len(records) / enrol_s, 1),
            "identify_ms_median": {
                name: round(statistics.median(values) * 1000, 2)
                for name, values in (
                    ("decode", decode),
                    ("embed", embed),
                    ("search", search),
                    ("total", total),
                )
            },
            "repeats": args.repeats,
        }
        gallery.close()
    print(
        f"gallery {figures['gallery_photos']} photos  enrol {figures['enrol_photos_per_s']} photos/s"
    )
    print(
        "identify median ms  "
        + "  ".join(f"{k} {v}" for k, v in figures["identify_ms_median"].items())
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    main()
