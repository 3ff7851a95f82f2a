import csv

import pytest

from tests.synthetic import write_individuals
from turtle_id.care import Care
from turtle_id.catalogue import PhotoRow
from turtle_id.datasets import PhotoRecord
from turtle_id.gallery import Gallery
from turtle_id.tables import (
    DWC_COLUMNS,
    DarwinCoreSettings,
    dwc_rows,
    export,
    sighting_rows,
    zindi_rows,
)


def row(photo_id, turtle, source, **fields) -> PhotoRow:
    defaults = dict(view=None, date_taken=None, site=None, observer=None)
    return PhotoRow(
        id=photo_id,
        sha256=f"{photo_id:02d}" * 32,
        individual_id=turtle,
        file=f"photos/{photo_id:02d}/{photo_id:02d}.jpg",
        preview=f"previews/{photo_id:02d}/{photo_id:02d}.jpg",
        source_name=source,
        region=None,
        model_version="v1",
        **(defaults | fields),
    )


PHOTOS = [
    row(1, "Shelly", "IMG_1.JPG", view="left", date_taken="2021-06-24 10:05:00", site="Laganas",
        observer="ana", latitude=37.72, longitude=20.88),
    row(2, "Shelly", "IMG_2.JPG", view="left", date_taken="2021-06-24 10:09:30", site="Laganas",
        observer="ana", latitude=37.72, longitude=20.88),
    row(3, "t002", "IMG_1.jpeg", date_taken="24/06/2021", notes="tag scar, left flipper"),
    row(4, "t002", "IMG_9.JPG", removed_at="2024-01-01T00:00:00+00:00"),
]  # fmt: skip


def test_zindi_rows_give_each_photo_a_unique_image_id_and_leave_removed_photos_out():
    assert zindi_rows(PHOTOS) == [
        ["IMG_1_1", "left", "Shelly"],  # two photos named IMG_1: the photo id tells them apart
        ["IMG_2", "left", "Shelly"],
        ["IMG_1_3", "", "t002"],
    ]


def test_sightings_are_one_row_per_individual_day_place_and_observer_with_a_photo_count():
    assert sighting_rows(PHOTOS) == [
        ["Shelly", "2021-06-24", "Laganas", "37.72", "20.88", "ana", 2],
        ["t002", "24/06/2021", "", "", "", "", 1],  # a date as written in a CSV is kept
    ]


def test_darwin_core_rows_follow_the_terms():
    rows = [dict(zip(DWC_COLUMNS, r)) for r in dwc_rows(PHOTOS)]
    assert len(rows) == 3
    assert rows[0] == {
        "occurrenceID": "turtle-id:photo:" + "01" * 32,
        "basisOfRecord": "HumanObservation",
        "eventDate": "2021-06-24T10:05:00",
        "verbatimEventDate": "2021-06-24 10:05:00",
        "decimalLatitude": "37.72",
        "decimalLongitude": "20.88",
        "geodeticDatum": "WGS84",
        "recordedBy": "ana",
        "individualID": "Shelly",
        "scientificName": "Caretta caretta",
        "associatedMedia": "photos/01/01.jpg",
        "locality": "Laganas",
        "occurrenceRemarks": "",
    }
    # Not an ISO date: eventDate is left empty and the text kept as verbatimEventDate.
    assert (rows[2]["eventDate"], rows[2]["verbatimEventDate"]) == ("", "24/06/2021")
    assert (rows[2]["geodeticDatum"], rows[2]["occurrenceRemarks"]) == (
        "",
        "tag scar, left flipper",
    )


def test_darwin_core_species_basis_and_media_base_are_settings():
    settings = DarwinCoreSettings("Chelonia mydas", "MachineObservation", "https://x.org/g/")
    first = dict(zip(DWC_COLUMNS, dwc_rows(PHOTOS, settings)[0]))
    assert (first["scientificName"], first["basisOfRecord"]) == (
        "Chelonia mydas",
        "MachineObservation",
    )
    assert first["associatedMedia"] == "https://x.org/g/photos/01/01.jpg"
    with pytest.raises(ValueError, match="basisOfRecord 'Photo' is not one of"):
        DarwinCoreSettings(basis_of_record="Photo")


def test_a_darwin_core_export_of_a_gallery_opens_with_csv(tmp_path, encoder):
    photos = write_individuals(tmp_path / "photos", n_individuals=2, shots=2)
    gallery = Gallery(tmp_path / "g", encoder)
    gallery.enrol(
        [
            PhotoRecord(photos["ind00"][0], "ind00", "top", "2019-07-01", site="Kyparissia",
                        observer="ben", latitude=-37.25, longitude=21.6),
            PhotoRecord(photos["ind00"][1], "ind00", "top", "2020-07-03"),
            PhotoRecord(photos["ind01"][0], "ind01"),
        ]
    )  # fmt: skip
    Care(gallery.catalogue).remove(2)
    out = tmp_path / "export" / "dwc.csv"
    assert export(gallery.catalogue, "dwc", out) == 2
    with open(out, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == DWC_COLUMNS
        rows = list(reader)
    (stored,) = gallery.catalogue.photos([1])
    assert [r["individualID"] for r in rows] == ["ind00", "ind01"]
    assert rows[0]["occurrenceID"] == f"turtle-id:photo:{stored.sha256}"
    assert (rows[0]["eventDate"], rows[0]["decimalLatitude"], rows[0]["decimalLongitude"]) == (
        "2019-07-01",
        "-37.25",
        "21.6",
    )
    assert (rows[0]["recordedBy"], rows[0]["locality"]) == ("ben", "Kyparissia")
    assert (gallery.root / rows[0]["associatedMedia"]).is_file()
    assert (rows[1]["eventDate"], rows[1]["decimalLatitude"]) == ("", "")
    with pytest.raises(ValueError, match="export 'people' is not one of photos, sightings, dwc"):
        export(gallery.catalogue, "people", out)
