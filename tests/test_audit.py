import csv

import pytest

from tests.synthetic import write_individuals
from turtle_id.audit import AUDIT_COLUMNS, audit_trail, write_audit_csv
from turtle_id.care import Care
from turtle_id.catalogue import os_user
from turtle_id.gallery import Gallery


@pytest.fixture
def photos(tmp_path):
    return write_individuals(tmp_path / "photos", n_individuals=2, shots=2)


def test_every_change_records_who_when_what_and_which_photo(tmp_path, photos, encoder):
    gallery = Gallery(tmp_path / "g", encoder)
    care = Care(gallery.catalogue)
    gallery.register(photos["ind00"][0], "a.jpg", turtle_id="Shelly", confirmed=True, user="ana")
    gallery.register(photos["ind00"][1], "b.jpg", turtle_id="Shelly", new=False, user="ben")
    gallery.register(photos["ind01"][0], "c.jpg", confirmed=True)  # the OS user
    care.move(2, "turtle-0001", user="ben")
    care.merge("turtle-0001", into="Shelly", user="ana")
    care.remove(1, reason="blurred", user="ana")
    care.rename("Shelly", "Caretta", user="ben")
    care.edit(2, site="Laganas", user="ana")
    care.undo(user="ana")  # the edit

    entries = audit_trail(gallery.catalogue)
    got = [(e.user, e.action, e.turtle_id, e.photo_id, e.photo, e.what) for e in entries]
    me = os_user()
    edit = "edited photo 2 (b.jpg): site None -> 'Laganas'"
    assert got == [
        ("ana", "undo", "Caretta", 2, "b.jpg", "undid event 10 (edit_photo)"),
        ("ana", "edit_photo", "Caretta", 2, "b.jpg", edit),
        ("ben", "rename", "Caretta", None, None, "renamed Shelly to Caretta"),
        ("ana", "remove_photo", "Shelly", 1, "a.jpg", "removed photo 1 (a.jpg) of Shelly: blurred"),
        ("ana", "merge", "Shelly", None, None, "merged turtle-0001 into Shelly (2 photos)"),
        (
            "ben",
            "move_photo",
            "turtle-0001",
            2,
            "b.jpg",
            "moved photo 2 (b.jpg) from Shelly to turtle-0001",
        ),
        (me, "enrol_photo", "turtle-0001", 3, "c.jpg", "registered photo 3 (c.jpg) as turtle-0001"),
        (me, "create_individual", "turtle-0001", None, None, "created turtle turtle-0001"),
        ("ben", "enrol_photo", "Shelly", 2, "b.jpg", "added photo 2 (b.jpg) as Shelly"),
        ("ana", "enrol_photo", "Shelly", 1, "a.jpg", "registered photo 1 (a.jpg) as Shelly"),
        ("ana", "create_individual", "Shelly", None, None, "created turtle Shelly"),
    ]
    assert [e.event for e in entries] == list(range(11, 0, -1))
    assert all(e.at.endswith("+00:00") for e in entries)


def test_the_audit_csv_has_a_header_and_one_row_per_change(tmp_path, photos, encoder):
    gallery = Gallery(tmp_path / "g", encoder)
    gallery.register(photos["ind00"][0], "a.jpg", turtle_id="Shelly", confirmed=True, user="ana")
    Care(gallery.catalogue).remove(1, user="ben")
    out = tmp_path / "audit.csv"
    write_audit_csv(audit_trail(gallery.catalogue), out)
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == AUDIT_COLUMNS
    assert [(r["event"], r["user"], r["action"], r["photo_id"], r["photo"]) for r in rows] == [
        ("3", "ben", "remove_photo", "1", "a.jpg"),
        ("2", "ana", "enrol_photo", "1", "a.jpg"),
        ("1", "ana", "create_individual", "", ""),
    ]
    assert len(audit_trail(gallery.catalogue, limit=2)) == 2
