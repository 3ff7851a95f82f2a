"""Decoding fuzz: random and mutated JPEG/PNG bytes never crash decoding, registration or
identification, and never harm the gallery. Only PhotoError / ValueError (each a message for
the user) may come out; after a refused registration the gallery is exactly as it was.

Seeded and bounded in time; the counts are printed (pytest -s).
"""

import io
import random
import sqlite3
import time
import warnings

import pytest
from PIL.TiffImagePlugin import IFDRational

from tests.synthetic import photo_of
from turtle_id.gallery import Gallery
from turtle_id.photo import PhotoError, load_photo

DECODES = 5000  # inputs to load_photo
GALLERY_INPUTS = 200  # inputs to Gallery.register and Gallery.identify
SECONDS = 25  # time bound for each loop; the count reached is printed


def _seeds() -> list[bytes]:
    """Small valid photos of the kinds rangers send: JPEG with EXIF (GPS, date, rotation),
    progressive JPEG, PNG, PNG with alpha, greyscale PNG."""
    picture = photo_of(3, 0, size=(96, 64))
    exif = picture.getexif()
    exif[0x0112] = 6  # rotated 90 degrees
    exif.get_ifd(0x8769)[0x9003] = "2021:06:24 10:05:00"
    exif.get_ifd(0x8825).update(
        {1: "N", 2: (IFDRational(37), IFDRational(43), IFDRational(12)), 3: "E",
         4: (IFDRational(20), IFDRational(52), IFDRational(48))}
    )  # fmt: skip
    seeds = []
    for fmt, image, options in [
        ("JPEG", picture, {"exif": exif, "quality": 80}),
        ("JPEG", picture, {"progressive": True, "quality": 70}),
        ("PNG", picture, {}),
        ("PNG", picture.convert("RGBA"), {}),
        ("PNG", picture.convert("L"), {}),
    ]:
        out = io.BytesIO()
        image.save(out, format=fmt, **options)
        seeds.append(out.getvalue())
    return seeds


def _mutants(rng: random.Random, seeds: list[bytes]):
    """An endless stream of (how, bytes): each a seed changed in one of several ways."""
    while True:
        data = bytearray(rng.choice(seeds))
        how = rng.choice(["flip", "overwrite", "truncate", "insert", "repeat", "splice", "random"])
        if how == "flip":
            for _ in range(rng.randint(1, 12)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif how == "overwrite":  # a run of one byte, e.g. 0xFF lengths in a header
            start = rng.randrange(len(data))
            value = rng.choice([0, 0xFF, rng.randrange(256)])
            length = rng.randint(1, 8)
            data[start : start + length] = bytes([value]) * length
        elif how == "truncate":
            del data[rng.randrange(1, len(data)) :]
        elif how == "insert":
            at = rng.randrange(len(data))
            data[at:at] = rng.randbytes(rng.randint(1, 64))
        elif how == "repeat":  # a chunk or segment twice
            start = rng.randrange(len(data))
            data[start:start] = data[start : start + rng.randint(1, 256)]
        elif how == "splice":  # the head of one photo, the tail of another
            other = rng.choice(seeds)
            data = data[: rng.randrange(len(data))] + other[rng.randrange(len(other)) :]
        else:  # random bytes behind a real signature
            data = bytearray(rng.choice([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b""]))
            data += rng.randbytes(rng.randint(0, 2048))
        yield how, bytes(data)


def test_mutated_photos_decode_or_are_refused_with_a_photo_error():
    rng = random.Random(20240601)
    counts, escaped, deadline = {"decoded": 0, "refused": 0}, [], time.monotonic() + SECONDS
    mutants = _mutants(rng, _seeds())
    tried = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about corrupt EXIF: expected here
        while tried < DECODES and time.monotonic() < deadline:
            how, data = next(mutants)
            tried += 1
            try:
                photo = load_photo(data, "fuzz.jpg", target=64)
                assert photo.image.mode == "RGB" and min(photo.image.size) > 0
                counts["decoded"] += 1
            except (PhotoError, ValueError):
                counts["refused"] += 1
            except Exception as error:  # anything else is the bug this test looks for
                escaped.append((how, type(error).__name__, str(error)[:80]))
    print(
        f"\nfuzz load_photo: {tried} inputs, {counts['decoded']} decoded, "
        f"{counts['refused']} refused with a PhotoError, {len(escaped)} other exceptions"
    )
    assert escaped == []
    assert tried >= 500  # the time bound left enough inputs to mean something
    assert counts["decoded"] and counts["refused"]


def _state(root):
    db = sqlite3.connect(root / "gallery.sqlite")
    tables = ("individuals", "photos", "keypoints", "events")
    rows = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
    db.close()
    stored = [*(root / "photos").rglob("*"), *(root / "previews").rglob("*")]
    files = sorted(str(p.relative_to(root)) for p in stored)
    return rows, files


@pytest.fixture
def gallery(tmp_path, encoder):
    g = Gallery(tmp_path / "g", encoder)
    for seed in range(3):
        out = io.BytesIO()
        photo_of(seed, 0).save(out, format="JPEG")
        g.register(out.getvalue(), f"turtle{seed}.jpg", turtle_id=f"t{seed}", confirmed=True)
    yield g
    g.close()


def test_mutated_uploads_never_crash_register_or_identify_nor_change_the_gallery(gallery):
    rng = random.Random(7)
    mutants = _mutants(rng, _seeds())
    counts = {"registered": 0, "refused": 0, "identified": 0, "identify refused": 0}
    escaped, deadline, tried = [], time.monotonic() + SECONDS, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while tried < GALLERY_INPUTS and time.monotonic() < deadline:
            how, data = next(mutants)
            tried += 1
            before = _state(gallery.root)
            try:
                gallery.identify(data, "upload.jpg")
                counts["identified"] += 1
            except (PhotoError, ValueError):
                counts["identify refused"] += 1
            except Exception as error:
                escaped.append(("identify", how, type(error).__name__, str(error)[:80]))
            assert _state(gallery.root) == before  # identify writes nothing
            try:
                gallery.register(data, "upload.jpg", confirmed=True, user="fuzz")
                counts["registered"] += 1
            except (PhotoError, ValueError):
                counts["refused"] += 1
                assert _state(gallery.root) == before, how
            except Exception as error:
                escaped.append(("register", how, type(error).__name__, str(error)[:80]))
    print(
        f"\nfuzz gallery: {tried} uploads; identify {counts['identified']} answered, "
        f"{counts['identify refused']} refused; register {counts['registered']} registered, "
        f"{counts['refused']} refused (gallery unchanged each time); "
        f"{len(escaped)} other exceptions"
    )
    assert escaped == []
    assert tried >= 50
    assert len(gallery) == 3 + counts["registered"]


def test_a_photo_with_a_damaged_exif_entry_still_decodes():
    # Found by the fuzz above: two zeroed bytes in an EXIF entry made Pillow's exif_transpose
    # raise TypeError while writing the EXIF back (Pillow 12). The pixels are fine.
    data = bytearray(_seeds()[0])
    data[143] = data[145] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        photo = load_photo(bytes(data), "damaged-exif.jpg")
    assert photo.image.size == (64, 96)  # upright: the EXIF rotation still applied
    assert photo.taken == "2021-06-24 10:05:00"
