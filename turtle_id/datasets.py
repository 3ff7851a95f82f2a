"""Reading labelled photo collections: the Zindi layout, a generic labels.csv, or one folder
per individual. Every layout becomes the same list of `PhotoRecord`s.
"""

import csv
from dataclasses import dataclass, field
from pathlib import Path

from turtle_id.photo import Region
from turtle_id.settings import VIEWS
from turtle_id.sightings import check_coordinate, normalise_date

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"}
REGION_COLUMNS = ("head_x", "head_y", "head_w", "head_h")
# Columns with a meaning of their own; any other column is kept as `extra`.
KNOWN_COLUMNS = {
    "file",
    "individual_id",
    "view",
    "date",
    "site",
    "observer",
    "latitude",
    "longitude",
    "notes",
    *REGION_COLUMNS,
}


@dataclass(frozen=True)
class PhotoRecord:
    path: Path
    individual_id: str | None  # None when the collection is unlabelled (identify input)
    view: str | None = None  # one of VIEWS, or None when unknown
    # As written in the source, e.g. "2021-06-24"; readers keep only what normalise_date reads.
    date: str | None = None
    region: Region | None = None  # x, y, w, h in pixels of the photo as stored
    site: str | None = None
    observer: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    latitude: float | None = None  # WGS84 decimal degrees; None = from the photo's EXIF GPS
    longitude: float | None = None
    notes: str | None = None


@dataclass
class Collection:
    records: list[PhotoRecord]
    problems: list[str]  # "file: reason" for rows that could not be read


def read_collection(root: Path, use_regions: bool = True) -> Collection:
    """Read a labelled folder in whichever layout it has (Zindi, labels.csv, sub-folders)."""
    root = Path(root)
    if (root / "labels.csv").is_file():
        return read_labels_csv(root / "labels.csv", use_regions=use_regions)
    if (root / "train.csv").is_file():
        return read_zindi(root)
    if root.is_dir():
        return read_folders(root)
    layouts = "train.csv (Zindi layout), labels.csv, or one sub-folder of photos per individual"
    if not root.exists():
        raise FileNotFoundError(
            f"{root}: does not exist: check the path to a folder holding {layouts}"
        )
    raise FileNotFoundError(f"{root}: not a folder: give a folder holding {layouts}")


def read_zindi(root: Path) -> Collection:
    """`train.csv` (image_id, image_location, turtle_id, extra columns kept) + `images/`."""
    records, problems = [], []
    for line, row in _rows(root / "train.csv", required=("image_id", "turtle_id")):
        path = _find_image(root / "images", row["image_id"])
        view = _view(row.get("image_location"))
        where = f"{root / 'train.csv'} line {line}"
        if path is None:
            problems.append(
                f"{where}: no photo images/{row['image_id']}.JPG: add it or drop the row"
            )
            continue
        if view is False:
            problems.append(f"{where}: view {row['image_location']!r} is not one of {VIEWS}")
            continue
        if not row["turtle_id"]:
            problems.append(f"{where}: {_no_id('turtle_id')}")
            continue
        try:
            date = _date(row.get("date"))
        except ValueError as error:
            problems.append(f"{where}: {error}")
            continue
        extra = {
            k: v
            for k, v in row.items()
            if k not in ("image_id", "image_location", "turtle_id", "date") and v
        }
        records.append(PhotoRecord(path, row["turtle_id"].strip(), view, date, extra=extra))
    return Collection(records, problems)


def read_labels_csv(path: Path, use_regions: bool = True, labelled: bool = True) -> Collection:
    """A generic `labels.csv`: file (relative to the CSV), individual_id, optional view, date,
    site, observer, latitude, longitude, notes and head_x/head_y/head_w/head_h."""
    records, problems = [], []
    required = ("file", "individual_id") if labelled else ("file",)
    for line, row in _rows(path, required=required):
        where = f"{path} line {line}"
        photo = (path.parent / row["file"]).resolve()
        if not photo.is_file():
            problems.append(f"{where}: no photo {row['file']}: fix the path or drop the row")
            continue
        view = _view(row.get("view"))
        if view is False:
            problems.append(f"{where}: view {row['view']!r} is not one of {VIEWS}")
            continue
        if labelled and not row["individual_id"]:
            problems.append(f"{where}: {_no_id('individual_id')}")
            continue
        region = None
        given = [c for c in REGION_COLUMNS if row.get(c)]
        if use_regions and given and len(given) < len(REGION_COLUMNS):
            absent = [c for c in REGION_COLUMNS if c not in given]
            problems.append(
                f"{where}: head box has {', '.join(given)} but no {', '.join(absent)}: "
                "give all four head_* values or none"
            )
            continue
        if use_regions and given:
            try:
                region = tuple(int(float(row[c])) for c in REGION_COLUMNS)
            except ValueError:
                problems.append(
                    f"{where}: head box {[row[c] for c in REGION_COLUMNS]} is not numbers"
                )
                continue
            if region[2] <= 0 or region[3] <= 0:
                problems.append(f"{where}: head box {region} has no area: fix head_w and head_h")
                continue
        try:
            date = _date(row.get("date"))
            latitude = check_coordinate(row.get("latitude"), "latitude", 90)
            longitude = check_coordinate(row.get("longitude"), "longitude", 180)
        except ValueError as error:
            problems.append(f"{where}: {error}")
            continue
        individual = row["individual_id"] if labelled else None
        extra = {k: v for k, v in row.items() if k not in KNOWN_COLUMNS and v}
        records.append(
            PhotoRecord(
                photo,
                individual,
                view,
                date,
                region,
                row.get("site") or None,
                row.get("observer") or None,
                extra,
                latitude if longitude is not None else None,
                longitude if latitude is not None else None,
                row.get("notes") or None,
            )
        )
    return Collection(records, problems)


def read_folders(root: Path) -> Collection:
    """One sub-folder per individual, named by its ID, holding that individual's photos."""
    records = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for photo in sorted(folder.rglob("*")):
            if photo.suffix.lower() in PHOTO_SUFFIXES and photo.is_file():
                records.append(PhotoRecord(photo, folder.name))
    if not records:
        raise ValueError(
            f"{root}: found no train.csv, no labels.csv and no sub-folders of photos: "
            "put each individual's photos in a sub-folder named by its ID"
        )
    return Collection(records, [])


def photos_in(inputs: list[Path]) -> Collection:
    """Unlabelled photos to identify: files, folders (searched recursively) or a labels.csv."""
    records, problems = [], []
    for item in map(Path, inputs):
        if item.suffix.lower() == ".csv":
            collection = read_labels_csv(item, labelled=False)
            records += [
                PhotoRecord(r.path, None, r.view, r.date, r.region) for r in collection.records
            ]
            problems += collection.problems
        elif item.is_dir():
            records += [
                PhotoRecord(p, None)
                for p in sorted(item.rglob("*"))
                if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file()
            ]
        elif item.is_file():
            records.append(PhotoRecord(item, None))
        else:
            problems.append(f"{item}: no such file or folder")
    return Collection(records, problems)


def _rows(path: Path, required: tuple[str, ...]):
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {', '.join(missing)}: the header must name "
                f"{', '.join(required)}"
            )
        for line, row in enumerate(reader, start=2):
            yield line, {k: (v or "").strip() for k, v in row.items() if k is not None}


def _find_image(folder: Path, image_id: str) -> Path | None:
    for suffix in (".JPG", ".jpg", ".jpeg", ".JPEG", ".png", ".PNG"):
        candidate = folder / f"{image_id}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _no_id(column: str) -> str:
    return f"no turtle ID: the {column} column needs a value (the turtle's ID), or drop the row"


def _date(value: str | None) -> str | None:
    """The date as written, None when blank; ValueError (saying the format) when it is not one
    that identify's --from / --to and the app read, so no photo silently drops out of a search
    by date."""
    normalise_date(value)
    return value or None


def _view(value: str | None) -> str | None | bool:
    """A normalised view, None when blank, False when not a known view."""
    if not value:
        return None
    view = value.strip().lower()
    return view if view in VIEWS else False
