import io

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from tests.synthetic import photo_of, write_individuals
from turtle_id.datasets import PhotoRecord, read_labels_csv
from turtle_id.exif import dms_to_degrees, gps_location
from turtle_id.gallery import Gallery
from turtle_id.photo import load_photo
from turtle_id.sightings import Sighting, SightingFilter, day_of, normalise_date


def jpeg_with_exif(seed=1, gps=None, taken=None) -> bytes:
    """A synthetic photo whose EXIF holds a GPS block {tag: value} and a DateTimeOriginal."""
    image = photo_of(seed, 0)
    exif = image.getexif()
    if gps:
        exif.get_ifd(0x8825).update(gps)
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, quality=90)
    return out.getvalue()


# 38° 42' 30" S, 20° 15' 3.6" E
ZAKYNTHOS_SOUTH = {
    1: "S",
    2: (IFDRational(38), IFDRational(42), IFDRational(30)),
    3: "E",
    4: (IFDRational(20), IFDRational(15), IFDRational(36, 10)),
}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2021:06:24 10:05:00", "2021-06-24 10:05:00"),  # EXIF
        ("2021-06-24T10:05", "2021-06-24 10:05:00"),
        ("2021/6/4", "2021-06-04"),
        ("2024-02-29", "2024-02-29"),  # a leap day
        ("2021-06-24T10:05:00+02:00", "2021-06-24 10:05:00"),
        ("  ", None),
        (None, None),
    ],
)
def test_dates_are_normalised_to_iso_text(text, expected):
    assert normalise_date(text) == expected


@pytest.mark.parametrize("text", ["24/06/2021", "2021-13-01", "2023-02-29", "2021-06-24 25:00"])
def test_a_date_that_is_not_one_is_refused_with_the_form_to_use(text):
    with pytest.raises(ValueError, match="date"):
        normalise_date(text)


def test_day_of_a_stored_date_is_none_when_it_is_no_date():
    assert (day_of("2021-06-24 10:05:00"), day_of("24/06/2021"), day_of(None)) == (
        "2021-06-24",
        None,
        None,
    )


def test_a_sighting_validates_and_cleans_its_fields():
    s = Sighting(date="2021:06:24 10:05:00", site=" Laganas ", latitude="37.5", longitude=-20)
    assert (s.date, s.site, s.latitude, s.longitude, s.notes) == (
        "2021-06-24 10:05:00",
        "Laganas",
        37.5,
        -20.0,
        None,
    )
    with pytest.raises(ValueError, match="longitude 181"):
        Sighting(latitude=0, longitude=181)
    with pytest.raises(ValueError, match="both latitude and longitude"):
        Sighting(latitude=10)
    with pytest.raises(ValueError, match="control characters"):
        Sighting(site="Beach\x00")
    with pytest.raises(ValueError, match="at most 200"):
        Sighting(observer="x" * 201)


def test_the_sighting_filter_keeps_a_site_and_a_range_of_days_inclusive():
    both = SightingFilter(site="LAGANAS ", date_from="2021-06-01", date_to="2021-06-30")
    assert both.allows("2021-06-01 00:00:00", "laganas")
    assert both.allows("2021-06-30 23:59:59", "Laganas")
    assert not both.allows("2021-07-01", "Laganas")
    assert not both.allows("2021-06-15", "Gerakas")
    assert not both.allows(None, "Laganas")  # no date: left out once a date range is asked
    assert not both.allows("2021-06-15", None)
    assert SightingFilter().allows(None, None) and not SightingFilter().active
    with pytest.raises(ValueError, match="2021-07-01 to 2021-06-01 is empty"):
        SightingFilter(date_from="2021-07-01", date_to="2021-06-01")


def test_exif_gps_degrees_minutes_seconds_become_signed_decimal_degrees():
    # 38 + 42/60 + 30/3600 = 38.708333..., south is negative; 20 + 15/60 + 3.6/3600 = 20.251
    assert dms_to_degrees(38, 42, 30, negative=True) == pytest.approx(-38.7083333, abs=1e-7)
    photo = load_photo(jpeg_with_exif(gps=ZAKYNTHOS_SOUTH), "gps.jpg")
    assert photo.location == pytest.approx((-38.7083333, 20.251), abs=1e-7)


@pytest.mark.parametrize(
    "gps",
    [
        {},  # no GPS block
        {1: "N", 2: (IFDRational(0), IFDRational(0), IFDRational(0)), 3: "E",
         4: (IFDRational(0), IFDRational(0), IFDRational(0))},  # 0, 0: a camera without a fix
        {1: "N", 2: (IFDRational(95), IFDRational(0), IFDRational(0)), 3: "E",
         4: (IFDRational(1), IFDRational(0), IFDRational(0))},  # no such latitude
        {1: "X", 2: (IFDRational(10), IFDRational(0), IFDRational(0)), 3: "E",
         4: (IFDRational(1), IFDRational(0), IFDRational(0))},  # no hemisphere
        {1: "N", 2: (IFDRational(1, 0), IFDRational(0), IFDRational(0)), 3: "E",
         4: (IFDRational(1), IFDRational(0), IFDRational(0))},  # a zero denominator
    ],
)  # fmt: skip
def test_a_missing_or_unusable_gps_block_gives_no_location(gps):
    assert load_photo(jpeg_with_exif(gps=gps), "p.jpg").location is None


def test_gps_location_of_an_empty_exif_is_none():
    assert gps_location(Image.Exif()) is None


def test_a_registered_photo_keeps_its_exif_date_and_position_unless_the_ranger_typed_them(
    tmp_path, encoder
):
    gallery = Gallery(tmp_path / "g", encoder)
    data = jpeg_with_exif(1, ZAKYNTHOS_SOUTH, "2021:06:24 10:05:00")
    _, first = gallery.register(data, "exif.jpg", confirmed=True)
    typed = Sighting(date="2022-07-01", site="Laganas", observer="ana", notes="tag scar",
                     latitude=37.7, longitude=20.9)  # fmt: skip
    _, second = gallery.register(jpeg_with_exif(2, ZAKYNTHOS_SOUTH), "typed.jpg",
                                 confirmed=True, sighting=typed)  # fmt: skip
    a, b = gallery.catalogue.photos([first, second])
    assert (a.date_taken, a.latitude, a.longitude, a.site) == (
        "2021-06-24 10:05:00",
        pytest.approx(-38.7083333, abs=1e-7),
        pytest.approx(20.251, abs=1e-7),
        None,
    )
    assert (b.date_taken, b.site, b.observer, b.notes, b.latitude, b.longitude) == (
        "2022-07-01",
        "Laganas",
        "ana",
        "tag scar",
        37.7,
        20.9,
    )


@pytest.fixture
def dated_gallery(tmp_path, encoder):
    """ind00 seen at Laganas in 2020 and 2022, ind01 at Gerakas in 2021, ind02 undated."""
    photos = write_individuals(tmp_path / "photos", n_individuals=3, shots=3)
    gallery = Gallery(tmp_path / "g", encoder)
    gallery.enrol(
        [
            PhotoRecord(photos["ind00"][0], "ind00", date="2020-06-01", site="Laganas"),
            PhotoRecord(photos["ind00"][1], "ind00", date="2022-06-01 09:00:00", site="Laganas"),
            PhotoRecord(photos["ind01"][0], "ind01", date="2021-07-15", site="Gerakas"),
            PhotoRecord(photos["ind02"][0], "ind02"),
        ]
    )
    return gallery, photos


def test_identify_limited_to_a_site_or_a_date_range_searches_only_those_photos(dated_gallery):
    gallery, photos = dated_gallery
    query = photos["ind00"][2]
    everything = gallery.identify(query)
    assert (everything.gallery_size, everything.matches[0].turtle_id) == (4, "ind00")
    best = everything.matches[0]
    assert best.site == "Laganas" and best.date_taken in ("2020-06-01", "2022-06-01 09:00:00")
    gerakas = gallery.identify(query, site="gerakas")
    assert (gerakas.gallery_size, [m.turtle_id for m in gerakas.matches]) == (1, ["ind01"])
    in_2022 = gallery.identify(query, date_from="2022-01-01", date_to="2022-12-31")
    assert in_2022.gallery_size == 1
    assert [(m.photo_id, m.date_taken) for m in in_2022.matches] == [(2, "2022-06-01 09:00:00")]
    until_2021 = gallery.identify(query, date_to="2021-07-15")
    assert until_2021.gallery_size == 2
    assert sorted(m.turtle_id for m in until_2021.matches) == ["ind00", "ind01"]
    assert gallery.identify(query, site="Laganas", date_from="2023-01-01").matches == []
    assert everything.as_json()["matches"][0]["site"] == "Laganas"


def test_a_labels_csv_may_give_position_and_notes(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "b.jpg").write_bytes(b"x")
    (tmp_path / "labels.csv").write_text(
        "file,individual_id,latitude,longitude,notes\n"
        "a.jpg,t1,37.72,20.88,tag scar\n"
        "b.jpg,t1,north,20.88,\n"
    )
    collection = read_labels_csv(tmp_path / "labels.csv")
    (record,) = collection.records
    assert (record.latitude, record.longitude, record.notes) == (37.72, 20.88, "tag scar")
    assert "line 3: latitude 'north' is not a number" in collection.problems[0]
