"""Many writers on one gallery, and writers killed mid-enrolment.

Writers in threads and in processes (tests/gallery_worker.py) register at once: no write may
be lost and no generated ID minted twice. Enrolment processes killed with SIGKILL at random
moments must leave a gallery that opens, passes `check`, and holds each photo whole or not at
all. Each test prints its counts (run pytest -s to see them).
"""

import hashlib
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tests.synthetic import photo_of, write_individuals
from turtle_id.catalogue import Catalogue
from turtle_id.datasets import PhotoRecord
from turtle_id.gallery import Gallery
from turtle_id.integrity import check_gallery

REPO = Path(__file__).resolve().parent.parent
WRITERS, REGISTRATIONS = 4, 10  # per test: writers x registrations each
KILLS = 8


def _worker(*args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.gallery_worker", *map(str, args)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _fresh_photos(folder: Path, count: int, first_seed: int) -> list[Path]:
    written = write_individuals(folder, n_individuals=count, shots=1, first_seed=first_seed)
    return [paths[0] for paths in written.values()]


def _check(root: Path, encoder):
    return check_gallery(root, encoder.model_version, encoder.info.embedding_size)


def _generated_ids(catalogue: Catalogue) -> list[str]:
    rows = catalogue.read("SELECT id FROM individuals WHERE id LIKE 'turtle-%' ORDER BY id")
    return [r[0] for r in rows]


def test_processes_registering_at_once_lose_no_write_and_never_share_an_id(tmp_path, encoder):
    photos = _fresh_photos(tmp_path / "photos", WRITERS * REGISTRATIONS, first_seed=100)
    root = tmp_path / "g"
    watcher = Gallery(root, encoder)  # e.g. the app, open while the others write
    base = _fresh_photos(tmp_path / "base", 1, first_seed=99)[0]
    watcher.enrol([PhotoRecord(base, "base")])
    workers = [
        _worker("register", root, f"w{i}", *photos[i * REGISTRATIONS : (i + 1) * REGISTRATIONS])
        for i in range(WRITERS)
    ]
    renames = 10
    workers.append(_worker("rename", root, "renamer", "base", renames))  # care, at the same time
    outputs = [w.communicate(timeout=300) for w in workers]
    for worker, (_, err) in zip(workers, outputs):
        assert worker.returncode == 0, err
    reported = [line.split() for out, _ in outputs[:WRITERS] for line in out.splitlines()[1:]]

    catalogue = watcher.catalogue
    ids = _generated_ids(catalogue)
    expected_ids = [f"turtle-{n:04d}" for n in range(1, WRITERS * REGISTRATIONS + 1)]
    users = Counter(u for (u,) in catalogue.read("SELECT user FROM events WHERE user != ''"))
    photo_rows = catalogue.read("SELECT COUNT(*) FROM photos")[0][0]
    losses = WRITERS * REGISTRATIONS + 1 - photo_rows
    print(
        f"\nprocesses: {WRITERS} writers x {REGISTRATIONS} registrations + 1 renaming "
        f"{renames} times; photos {photo_rows}, generated IDs {len(ids)} "
        f"({len(set(ids))} distinct), renames logged {users['renamer']}, losses {losses}"
    )
    assert losses == 0
    assert ids == expected_ids  # each minted once, none skipped
    assert sorted(r[1] for r in reported) == expected_ids  # each writer got the one it wrote
    assert [users[f"w{i}"] for i in range(WRITERS)] == [2 * REGISTRATIONS] * WRITERS
    assert users["renamer"] == renames
    assert [i for i, _, _ in watcher.individuals()][0] == "base"  # renamed an even number of times
    # The gallery opened before them follows every registration, without a restart.
    for worker_index in range(WRITERS):
        first = photos[worker_index * REGISTRATIONS]
        best = watcher.identify(first).matches[0]
        assert best.source_name == first.name
    # A merge made by another process (the CLI) is followed too.
    absorbed = watcher.identify(photos[0]).matches[0].turtle_id
    survivor = "turtle-0040" if absorbed != "turtle-0040" else "turtle-0039"
    merge = ["merge", absorbed, survivor, "--gallery", root, "--user", "cli"]
    subprocess.run([sys.executable, "-m", "turtle_id", *map(str, merge)], cwd=REPO, check=True)
    assert watcher.identify(photos[0]).matches[0].turtle_id == survivor
    assert _check(root, encoder).ok


def test_threads_registering_at_once_lose_no_write_and_never_share_an_id(tmp_path, encoder):
    photos = _fresh_photos(tmp_path / "photos", WRITERS * REGISTRATIONS, first_seed=200)
    root = tmp_path / "g"
    shared = Gallery(root, encoder)
    # Two threads share one Gallery (as the app's handlers do); two have one each (as two
    # apps on one folder would); a fifth identifies all the while.
    galleries = [shared, shared, Gallery(root, encoder), Gallery(root, encoder)]
    errors, done = [], threading.Event()

    def register(i):
        try:
            for photo in photos[i * REGISTRATIONS : (i + 1) * REGISTRATIONS]:
                galleries[i].register(photo, photo.name, confirmed=True, user=f"t{i}")
        except Exception as error:  # reported below, with the thread that raised it
            errors.append((i, error))

    def identify():
        searches = 0
        while not done.is_set():
            shared.identify(photos[searches % len(photos)])
            searches += 1
        identify.searches = searches

    threads = [threading.Thread(target=register, args=(i,)) for i in range(WRITERS)]
    reader = threading.Thread(target=identify)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    done.set()
    reader.join()
    ids = _generated_ids(shared.catalogue)
    losses = WRITERS * REGISTRATIONS - len(shared)
    print(
        f"\nthreads: {WRITERS} writers x {REGISTRATIONS} registrations, "
        f"{identify.searches} searches meanwhile; photos {len(shared)}, generated IDs "
        f"{len(ids)} ({len(set(ids))} distinct), losses {losses}"
    )
    assert errors == []
    assert losses == 0
    assert ids == [f"turtle-{n:04d}" for n in range(1, WRITERS * REGISTRATIONS + 1)]
    assert _check(root, encoder).ok


def test_enrolments_killed_at_random_moments_leave_each_photo_whole_or_absent(tmp_path, encoder):
    # Each run enrols 12 photos of its own, 3 at a time, and is killed after 0-2 batches plus
    # a random part of the next one (timed by the batches before it), so every kill finds
    # work in progress: reading, embedding, writing files, committing or saving the index.
    per_run = 4  # individuals, 3 shots each
    written = write_individuals(
        tmp_path / "photos", n_individuals=per_run * KILLS, shots=3, first_seed=300
    )
    individuals = list(written.values())
    runs = [
        [p for paths in individuals[per_run * k : per_run * (k + 1)] for p in paths]
        for k in range(KILLS)
    ]
    photos = [p for run in runs for p in run]
    root = tmp_path / "g"
    Gallery(root, encoder).close()  # created before the first kill
    rng = random.Random(7)
    committed, kills, pace, started = [], 0, 0.3, time.monotonic()
    for run in runs:
        worker = _worker("enrol", root, 3, *run)
        assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
        lines, last = [], time.monotonic()
        for _ in range(rng.randrange(3)):
            lines.append(worker.stdout.readline())
            pace, last = time.monotonic() - last, time.monotonic()
        time.sleep(rng.uniform(0.0, pace))
        worker.send_signal(signal.SIGKILL)
        out, _ = worker.communicate()
        kills += worker.returncode == -signal.SIGKILL
        lines += out.splitlines()
        committed += [int(i) for line in lines if line.strip() for i in line.split()[1:]]

    report = _check(root, encoder)
    catalogue = Catalogue(root / "gallery.sqlite")
    rows = {r.sha256: r for r in catalogue.photos()}
    with_keypoints = {r[0] for r in catalogue.read("SELECT photo_id FROM keypoints")}
    enrolled = catalogue.read("SELECT photo_id FROM events WHERE action = 'enrol_photo'")
    enrol_events = {r[0] for r in enrolled}
    whole = [
        r
        for r in rows.values()
        if (root / r.file).is_file()
        and hashlib.sha256((root / r.file).read_bytes()).hexdigest() == r.sha256
        and (root / r.preview).is_file()
        and r.id in with_keypoints
        and r.id in enrol_events
    ]
    losses = len(set(committed) - {r.id for r in rows.values()})
    assert enrol_events <= {r.id for r in rows.values()}  # no event of a photo that is absent
    print(
        f"\nkills: {kills} of {KILLS} runs killed with SIGKILL ({time.monotonic() - started:.1f}"
        f" s); photos committed as reported {len(set(committed))}, in the gallery "
        f"{len(rows)} (all whole: {len(whole) == len(rows)}), of {len(photos)} tried; "
        f"orphan files {len(report.orphans)}; losses {losses}"
    )
    assert kills >= KILLS - 1  # a run may, rarely, finish its photos before its kill
    assert losses == 0
    assert len(whole) == len(rows)
    assert set(rows) <= {hashlib.sha256(p.read_bytes()).hexdigest() for p in photos}
    assert report.ok, report.problems
    catalogue.close()
    # The gallery opens and answers; repair clears what the kills left, and nothing else.
    gallery = Gallery(root, encoder)
    if rows:
        assert gallery.identify(photos[0]).matches
    repaired = check_gallery(root, encoder.model_version, encoder.info.embedding_size, repair=True)
    assert repaired.ok and len(gallery) == len(rows)
    assert _check(root, encoder).orphans == []


@pytest.mark.parametrize("damage", ["garbage", "missing"])
def test_a_kill_that_leaves_the_index_damaged_or_missing_is_rebuilt_on_open(
    tmp_path, encoder, damage
):
    photos = _fresh_photos(tmp_path / "photos", 3, first_seed=400)
    root = tmp_path / "g"
    Gallery(root, encoder).enrol([PhotoRecord(p, p.parent.name) for p in photos])
    index = root / "index" / "photos.hnsw"
    if damage == "garbage":
        index.write_bytes(index.read_bytes()[:100])  # a torn write
    else:
        index.unlink()
    assert _check(root, encoder).ok  # noted, not failed: the gallery rebuilds it
    assert Gallery(root, encoder).identify(photos[1]).matches[0].turtle_id == photos[1].parent.name
    assert _check(root, encoder).notes == []  # rebuilt and saved by the gallery itself


def test_the_same_photo_registered_by_two_writers_at_once_is_one_photo(tmp_path, encoder):
    photo = _fresh_photos(tmp_path / "photos", 1, first_seed=500)[0]
    first, second = Gallery(tmp_path / "g", encoder), Gallery(tmp_path / "g", encoder)
    first.register(photo, "a.jpg", turtle_id="A", confirmed=True)
    # The second writer checked before the first committed: its own check saw nothing.
    real, calls = second.catalogue.photo_with_hash, []

    def stale_first_look(sha):
        calls.append(sha)
        return None if len(calls) == 1 else real(sha)

    second.catalogue.photo_with_hash = stale_first_look
    with pytest.raises(ValueError, match="already in the gallery as turtle 'A'"):
        second.register(photo, "b.jpg", turtle_id="B", confirmed=True)
    assert (len(first), [i for i, _, _ in first.individuals()]) == (1, ["A"])
    assert _check(tmp_path / "g", encoder).orphans == []


def test_keypoints_extracted_by_threads_at_once_equal_those_extracted_alone():
    # One matcher serves the enrolment threads and every request of the app at the same time.
    from turtle_id.keypoints import KeypointMatcher

    matcher = KeypointMatcher()
    sizes = [(320, 240), (400, 300), (256, 360), (500, 280)]
    pictures = [photo_of(seed, 0, size=sizes[seed % 4]) for seed in range(8)]
    alone = [matcher.extract(p).descriptors for p in pictures]
    wrong = []

    def extract(k):
        for i in range(24):
            j = (i * 3 + k) % len(pictures)
            if not np.array_equal(matcher.extract(pictures[j]).descriptors, alone[j]):
                wrong.append(j)

    threads = [threading.Thread(target=extract, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"\nkeypoints: 4 threads x 24 extractions, {len(wrong)} differing from one thread")
    assert wrong == []
