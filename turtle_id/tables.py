"""A gallery's photos as tables for other tools: the Zindi layout, a sightings table, and a
Darwin Core occurrence table for biodiversity portals (GBIF, OBIS).

The row makers are pure functions of the photo rows; `export` reads the catalogue and writes
the CSV. Removed photos are left out of every table.
"""

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from turtle_id.catalogue import Catalogue, PhotoRow
from turtle_id.sightings import day_of, normalise_date

ZINDI_COLUMNS = ("image_id", "image_location", "turtle_id")
SIGHTING_COLUMNS = ("individual", "date", "site", "latitude", "longitude", "observer", "photos")
# Darwin Core terms, https://dwc.tdwg.org/terms/ (Occurrence core).
DWC_COLUMNS = (
    "occurrenceID",
    "basisOfRecord",
    "eventDate",
    "verbatimEventDate",
    "decimalLatitude",
    "decimalLongitude",
    "geodeticDatum",
    "recordedBy",
    "individualID",
    "scientificName",
    "associatedMedia",
    "locality",
    "occurrenceRemarks",
)
BASES_OF_RECORD = ("HumanObservation", "MachineObservation")


@dataclass(frozen=True)
class DarwinCoreSettings:
    scientific_name: str = "Caretta caretta"  # species of the gallery's individuals
    # HumanObservation: a person photographed the turtle; MachineObservation: a camera trap,
    # drone or other device did, unattended.
    basis_of_record: str = "HumanObservation"
    # Prefix of associatedMedia, e.g. "https://example.org/gallery/"; "" = the file's path
    # relative to the gallery folder.
    media_base: str = ""

    def __post_init__(self):
        if self.basis_of_record not in BASES_OF_RECORD:
            raise ValueError(
                f"basisOfRecord {self.basis_of_record!r} is not one of {', '.join(BASES_OF_RECORD)}"
            )
        if not self.scientific_name.strip():
            raise ValueError("scientific name is empty: give the species, e.g. 'Caretta caretta'")


def zindi_rows(photos: list[PhotoRow]) -> list[list]:
    """`image_id,image_location,turtle_id`: image_id is the stem of the file the photo was
    enrolled from, with `_<photo id>` added where two photos share a stem."""
    photos = _in_use(photos)
    stems = Counter(PurePosixPath(p.source_name).stem for p in photos)
    rows = []
    for p in photos:
        stem = PurePosixPath(p.source_name).stem
        image_id = stem if stems[stem] == 1 else f"{stem}_{p.id}"
        rows.append([image_id, p.view or "", p.individual_id])
    return rows


def sighting_rows(photos: list[PhotoRow]) -> list[list]:
    """One row per individual seen on one day at one place by one observer, with the number
    of photos of it; by individual, then date."""
    counts = Counter(
        (
            p.individual_id,
            day_of(p.date_taken) or p.date_taken or "",
            p.site or "",
            _number(p.latitude),
            _number(p.longitude),
            p.observer or "",
        )
        for p in _in_use(photos)
    )
    return [[*key, count] for key, count in sorted(counts.items())]


def dwc_rows(photos: list[PhotoRow], settings: DarwinCoreSettings | None = None) -> list[list]:
    """One occurrence per photo, under DWC_COLUMNS. The occurrenceID is made from the photo's
    content hash, so it stays the same across exports, backups and restores."""
    settings = settings or DarwinCoreSettings()
    rows = []
    for p in _in_use(photos):
        located = p.latitude is not None and p.longitude is not None
        rows.append(
            [
                f"turtle-id:photo:{p.sha256}",
                settings.basis_of_record,
                _event_date(p.date_taken),
                p.date_taken or "",
                _number(p.latitude),
                _number(p.longitude),
                "WGS84" if located else "",  # EXIF GPS positions are WGS84
                p.observer or "",
                p.individual_id,
                settings.scientific_name,
                settings.media_base + p.file,
                p.site or "",
                p.notes or "",
            ]
        )
    return rows


EXPORTS = {"photos": ZINDI_COLUMNS, "sightings": SIGHTING_COLUMNS, "dwc": DWC_COLUMNS}


def export(
    catalogue: Catalogue, kind: str, path: Path, settings: DarwinCoreSettings | None = None
) -> int:
    """Write one of EXPORTS as a UTF-8 CSV; the number of rows written."""
    photos = catalogue.photos()
    if kind == "photos":
        rows = zindi_rows(photos)
    elif kind == "sightings":
        rows = sighting_rows(photos)
    elif kind == "dwc":
        rows = dwc_rows(photos, settings)
    else:
        raise ValueError(f"export {kind!r} is not one of {', '.join(EXPORTS)}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(EXPORTS[kind])
        writer.writerows(rows)
    return len(rows)


def _in_use(photos: list[PhotoRow]) -> list[PhotoRow]:
    return sorted((p for p in photos if p.removed_at is None), key=lambda p: p.id)


def _event_date(date_taken: str | None) -> str:
    """ISO 8601 for dwc:eventDate (`2021-06-24T10:05:00`); "" when the stored date is not one
    (it is kept as written in verbatimEventDate)."""
    try:
        date = normalise_date(date_taken)
    except ValueError:
        return ""
    return date.replace(" ", "T") if date else ""


def _number(value: float | None) -> str:
    # Seven decimals: about 1 cm, finer than any GPS; no float noise like 37.720000000000006.
    return "" if value is None else f"{value:.7f}".rstrip("0").rstrip(".")
