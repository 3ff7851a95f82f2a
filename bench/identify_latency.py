"""Identify latency, step by step, and enrolment throughput on the real dev photos.

    python -m bench.identify_latency [--collections turtle-profiles-dev,seaturtleid-dev]
                                     [--repeats 40] [--json out.json]

Enrols dev collections into a throwaway gallery with the head finder, as `enroll` does (photos
per second), then identifies two query photos `repeats` times each, alternating: the 2048x1365
grey JPEG below, and a 12-megapixel phone-sized JPEG made from it at run time (4000x3000,
colour, with sensor-like noise so that it compresses like a camera's, written to a temporary
folder). Each identify is split into the steps `Gallery.identify` runs:

- decode: the small overview the head finder looks at, then the head region at the encoder's
  resolution (JPEG draft mode: both at reduced size);
- head finding: the head finder on the overview;
- embed: onnxruntime, batch 1;
- search: hnswlib, per-individual aggregation and the catalogue look-ups, without keypoints;
- keypoints: RootSIFT of the query's head region;
- verify: matching them against the stored keypoints of the `MatchSettings.verify` best photos
  of the shortlist (an identify with keypoints, less the search it repeats).

A whole `Gallery.identify` call is timed beside the steps, to check their sum.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.common import DATA, finish, machine, ms, percentile, table
from turtle_id.datasets import read_collection
from turtle_id.encoder import Encoder
from turtle_id.gallery import Gallery
from turtle_id.head_finder import HeadFinder
from turtle_id.photo import crop, load_photo
from turtle_id.settings import default_encoder_path, default_head_finder_path

COLLECTIONS = "turtle-profiles-dev,seaturtleid-dev"
QUERY = "turtle-profiles-dev/images/leftIMG_0328.jpg"  # 2048x1365 grey JPEG
PHONE_SIZE = (4000, 3000)  # 12 MP, 4:3 as most phone cameras
STEPS = ("decode", "head finding", "embed", "search", "keypoints", "verify")


def phone_photo(source: Path, folder: Path) -> Path:
    """A 12 MP colour JPEG of `source`: cropped to 4:3, upscaled, with noise, quality 92."""
    picture = Image.open(source).convert("RGB")
    width = round(picture.height * PHONE_SIZE[0] / PHONE_SIZE[1])
    left = (picture.width - width) // 2
    picture = picture.crop((left, 0, left + width, picture.height))
    pixels = np.asarray(picture.resize(PHONE_SIZE, Image.BICUBIC), dtype=np.int16)
    # Upscaled pixels are smooth and decode faster than a camera's; sensor noise restores
    # a camera-like entropy (about 3-5 MB for 12 MP).
    noise = np.random.default_rng(0).normal(0, 4, pixels.shape).round().astype(np.int16)
    path = folder / "phone-12mp.jpg"
    Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8)).save(path, quality=92)
    return path


def folder_sizes(root: Path, photos: int) -> dict:
    """KB per photo of the gallery's database, photo files, previews and index."""
    parts = {
        "database": root.glob("gallery.sqlite*"),
        "photos": (root / "photos").rglob("*"),
        "previews": (root / "previews").rglob("*"),
        "index": (root / "index").rglob("*"),
    }
    return {
        name: round(sum(p.stat().st_size for p in paths if p.is_file()) / 1024 / photos, 1)
        for name, paths in parts.items()
    }


def identify_steps(gallery: Gallery, query: Path, region) -> tuple[dict, float]:
    """Seconds of each step of one identify, and of one whole `Gallery.identify`."""
    name = str(query)
    finder, size = gallery.head_finder, gallery.encoder.info.input_size
    t0 = time.perf_counter()
    overview = load_photo(query, name, target=finder.info.input_size)
    t1 = time.perf_counter()
    finder.find(overview.image)
    t2 = time.perf_counter()
    # The region the head finder gives this photo, found once before timing (Gallery.locate).
    picture = crop(load_photo(query, name, target=size, region=region), region, name)
    t3 = time.perf_counter()
    embedding = gallery.encoder.embed([picture])[0]
    t4 = time.perf_counter()
    keypoints = gallery.keypoints.extract(picture)
    t5 = time.perf_counter()
    gallery.identify_embedding(embedding, name, region=region)  # search alone
    t6 = time.perf_counter()
    gallery.identify_embedding(embedding, name, region=region, keypoints=keypoints)
    t7 = time.perf_counter()
    gallery.identify(query)
    t8 = time.perf_counter()
    steps = {
        "decode": (t1 - t0) + (t3 - t2),
        "head finding": t2 - t1,
        "embed": t4 - t3,
        "search": t6 - t5,
        "keypoints": t5 - t4,
        "verify": (t7 - t6) - (t6 - t5),  # the second identify_embedding also searched
    }
    return steps, t8 - t7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--collections", default=COLLECTIONS, help="enrolled, comma-separated")
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures = {"machine": machine()}
    encoder = Encoder(default_encoder_path())
    finder = HeadFinder(default_head_finder_path())
    with tempfile.TemporaryDirectory() as root:
        gallery = Gallery(Path(root) / "gallery", encoder, head_finder=finder)
        names = args.collections.split(",")
        records = [r for name in names for r in read_collection(args.data / name).records]
        start = time.perf_counter()
        enrolled = gallery.enrol(records)
        enrol_s = time.perf_counter() - start
        print(f"{enrolled.line()} in {enrol_s:.1f} s", flush=True)
        queries = {
            "2048x1365": args.data / QUERY,
            "12 MP": phone_photo(args.data / QUERY, Path(root)),
        }
        regions, seconds, whole = {}, {}, {}
        for label, query in queries.items():
            _, regions[label], found = gallery.locate(query, str(query))
            print(f"{label}: head found {found}, region {regions[label]}", flush=True)
            gallery.identify(query)  # warm-up: the first onnxruntime runs allocate
            seconds[label] = {step: [] for step in STEPS}
            whole[label] = []
        for _ in range(args.repeats):
            for label, query in queries.items():  # alternating, so both see the same load
                steps, one_call = identify_steps(gallery, query, regions[label])
                for step, value in steps.items():
                    seconds[label][step].append(value)
                whole[label].append(one_call)
        figures |= {
            "provider": encoder.provider,
            "model_version": encoder.model_version,
            "head_finder": finder.info.model_version,
            "gallery_photos": len(gallery),
            "verified_photos": gallery.match_settings.verify,
            "enrol_photos_per_s": round(enrolled.added / enrol_s, 2),
            "repeats": args.repeats,
            "queries": {},
        }
        rows = []
        for label, query in queries.items():
            with Image.open(query) as im:
                size = im.size
            totals = [sum(v) for v in zip(*seconds[label].values())]
            result = {
                "file": query.name,
                "pixels": f"{size[0]}x{size[1]}",
                "bytes": query.stat().st_size,
                "region": regions[label],
                "ms_p50": {s: ms(statistics.median(v)) for s, v in seconds[label].items()},
                "ms_p95": {s: ms(percentile(v, 95)) for s, v in seconds[label].items()},
            }
            result["ms_p50"]["sum of steps"] = ms(statistics.median(totals))
            result["ms_p95"]["sum of steps"] = ms(percentile(totals, 95))
            result["ms_p50"]["identify, one call"] = ms(statistics.median(whole[label]))
            result["ms_p95"]["identify, one call"] = ms(percentile(whole[label], 95))
            figures["queries"][label] = result
            for q in ("p50", "p95"):
                rows.append({"query": f"{label} {q}", **result[f"ms_{q}"]})
        gallery.close()  # checkpoints the WAL into the database file
        figures["gallery_kb_per_photo"] = folder_sizes(gallery.root, enrolled.added)
    print(
        f"\nidentify ms against {figures['gallery_photos']} photos "
        f"({figures['verified_photos']} verified by keypoints), {args.repeats} repeats"
    )
    print(table(rows))
    print(f"enrolment: {figures['enrol_photos_per_s']} photos per second")
    print(f"gallery KB per photo: {figures['gallery_kb_per_photo']}")
    finish(figures, args.json)


if __name__ == "__main__":
    main()
