"""A gallery writer in a process of its own, for tests/test_concurrency.py. It prints `ready`
once the gallery is open, then one line per change after the change has committed.

python -m tests.gallery_worker register ROOT USER PHOTO...  # each photo as a new turtle
python -m tests.gallery_worker enrol ROOT BATCH PHOTO...    # labelled by folder, BATCH at a time
python -m tests.gallery_worker rename ROOT USER NAME COUNT  # NAME to NAME-b and back, COUNT times
"""

import sys
from pathlib import Path

from turtle_id.care import Care
from turtle_id.datasets import PhotoRecord
from turtle_id.encoder import Encoder
from turtle_id.gallery import Gallery
from turtle_id.settings import ASSETS


def main(argv: list[str]) -> None:
    action, root, *rest = argv
    gallery = Gallery(Path(root), Encoder(ASSETS / "encoder.onnx"))
    print("ready", flush=True)
    if action == "register":
        user, *photos = rest
        for photo in map(Path, photos):
            gallery.identify(photo)  # a read between the writes, as a ranger would
            turtle_id, photo_id = gallery.register(photo, photo.name, confirmed=True, user=user)
            print(f"registered {turtle_id} {photo_id}", flush=True)
    elif action == "enrol":
        batch, *photos = rest
        records = [PhotoRecord(p, p.parent.name) for p in map(Path, photos)]
        for start in range(0, len(records), int(batch)):
            summary = gallery.enrol(records[start : start + int(batch)], user="killed")
            print("enrolled", *summary.photo_ids, flush=True)
    elif action == "rename":
        user, name, count = rest
        care, names = Care(gallery.catalogue), (name, f"{name}-b")
        for i in range(int(count)):
            care.rename(names[i % 2], names[(i + 1) % 2], user=user)
            print(f"renamed {names[(i + 1) % 2]}", flush=True)
    else:
        raise SystemExit(f"unknown action {action!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
