"""Gallery care: each change, what identify answers after it, and its undo.

The gallery: ind00, ind01, ind02 with shots 0 and 1 each (photo ids 1..6 in that order); shot
2 of each is the query.
"""

import shutil

import pytest

from tests.synthetic import write_individuals
from turtle_id.care import Care
from turtle_id.datasets import PhotoRecord
from turtle_id.gallery import Gallery


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return write_individuals(tmp_path_factory.mktemp("photos"), n_individuals=3, shots=3)


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory, photos, encoder):
    root = tmp_path_factory.mktemp("enrolled") / "g"
    g = Gallery(root, encoder)
    g.enrol([PhotoRecord(paths[s], ind) for ind, paths in photos.items() for s in (0, 1)])
    g.close()
    return root


@pytest.fixture
def gallery(tmp_path, enrolled, encoder):
    """A fresh copy of the enrolled gallery (enrolling anew for each test takes longer)."""
    shutil.copytree(enrolled, tmp_path / "g")
    g = Gallery(tmp_path / "g", encoder)
    yield g
    g.close()


def _best(gallery, path, **filters):
    return gallery.identify(path, **filters).matches[0]


def _listing(gallery):
    return [(turtle_id, count) for turtle_id, count, _ in gallery.individuals()]


def test_rename_moves_photos_and_answers_and_undo_gives_the_old_name_back(gallery, photos):
    care = Care(gallery.catalogue)
    event = care.rename("ind00", "Shelly", user="ana")
    assert _listing(gallery) == [("Shelly", 2), ("ind01", 2), ("ind02", 2)]
    assert _best(gallery, photos["ind00"][2]).turtle_id == "Shelly"
    care.undo(event, user="ana")
    assert _listing(gallery) == [("ind00", 2), ("ind01", 2), ("ind02", 2)]
    assert _best(gallery, photos["ind00"][2]).turtle_id == "ind00"


def test_a_rename_may_change_only_the_case_but_not_take_another_turtles_name(gallery):
    care = Care(gallery.catalogue)
    care.rename("ind00", "IND00")
    assert _listing(gallery)[0] == ("IND00", 2)
    with pytest.raises(ValueError, match="'Ind01' is already taken \\(by 'ind01'\\)"):
        care.rename("IND00", "Ind01")
    with pytest.raises(ValueError, match="turtle ID"):
        care.rename("IND00", "../etc")


def test_merge_makes_an_alias_that_answers_the_survivor_and_undo_splits_them(gallery, photos):
    care = Care(gallery.catalogue)
    event = care.merge("ind01", into="ind00")
    assert _listing(gallery) == [("ind00", 4), ("ind02", 2)]
    assert _best(gallery, photos["ind01"][2]).turtle_id == "ind00"
    # The merged name is an alias: adding to it adds to the survivor, and it stays taken.
    _, added = gallery.register(photos["ind01"][2], "alias.jpg", turtle_id="ind01", new=False)
    assert [r.id for r in gallery.photos_of("ind00")] == [1, 2, 3, 4, added]
    with pytest.raises(ValueError, match="already exists"):
        gallery.register(photos["ind02"][2], "x.jpg", turtle_id="ind01", confirmed=True)
    with pytest.raises(ValueError, match="was merged into 'ind00'"):
        care.rename("ind01", "Other")

    care.undo(event)
    # The photos the merge moved go back; the one added through the alias later stays.
    assert _listing(gallery) == [("ind00", 3), ("ind01", 2), ("ind02", 2)]
    assert [r.id for r in gallery.photos_of("ind01")] == [3, 4]
    assert _best(gallery, photos["ind02"][0]).turtle_id == "ind02"


def test_move_changes_which_turtle_a_photo_answers_and_undo_moves_it_back(gallery, photos):
    care = Care(gallery.catalogue)
    moved = gallery.photos_of("ind02")[0]  # photo 5
    event = care.move(moved.id, "ind00", user="ben")
    assert _listing(gallery) == [("ind00", 3), ("ind01", 2), ("ind02", 1)]
    best = _best(gallery, photos["ind02"][0])  # the moved photo itself
    assert (best.turtle_id, best.photo_id) == ("ind00", moved.id)
    care.undo(event, user="ben")
    assert _best(gallery, photos["ind02"][0]).turtle_id == "ind02"
    with pytest.raises(ValueError, match="already belongs to turtle 'ind02'"):
        care.move(moved.id, "ind02")


def test_a_removed_photo_is_never_matched_until_it_is_restored(gallery, photos):
    care = Care(gallery.catalogue)
    removed = gallery.photos_of("ind00")[0].id  # photo 1, shot 0 of ind00
    care.remove(removed, reason="blurred")
    answer = gallery.identify(photos["ind00"][0])
    assert removed not in [m.photo_id for m in answer.matches]
    assert answer.gallery_size == 5
    assert (len(gallery), _listing(gallery)[0]) == (5, ("ind00", 1))
    with pytest.raises(ValueError, match="already removed"):
        care.remove(removed)
    care.restore(removed)
    assert _best(gallery, photos["ind00"][0]).photo_id == removed
    assert len(gallery) == 6


def test_removing_every_photo_of_a_turtle_leaves_it_out_of_the_answers(gallery, photos):
    care = Care(gallery.catalogue)
    for row in gallery.photos_of("ind01"):
        care.remove(row.id)
    answer = gallery.identify(photos["ind01"][2])
    assert {m.turtle_id for m in answer.matches} == {"ind00", "ind02"}
    assert answer.gallery_size == 4
    # With a view filter too (the filtered search path).
    filtered = gallery.identify(photos["ind01"][2], view="left")
    assert {m.turtle_id for m in filtered.matches} == {"ind00", "ind02"}


def test_undo_of_remove_restores_and_undo_of_restore_removes(gallery, photos):
    care = Care(gallery.catalogue)
    removal = care.remove(1)
    care.undo(removal)
    assert len(gallery) == 6
    care.remove(1)
    restoring = care.restore(1)
    care.undo(restoring)
    assert len(gallery) == 5
    assert 1 not in [m.photo_id for m in gallery.identify(photos["ind00"][0]).matches]


def test_edit_changes_sighting_fields_and_undo_puts_the_old_values_back(gallery, photos):
    care = Care(gallery.catalogue)
    event = care.edit(
        1, site=" Laganas ", date_taken="2021:06:24 10:05:00", latitude="37.72", longitude=20.88
    )
    (row,) = gallery.catalogue.photos([1])
    assert (row.site, row.date_taken, row.latitude, row.longitude) == (
        "Laganas",
        "2021-06-24 10:05:00",
        37.72,
        20.88,
    )
    answer = gallery.identify(photos["ind00"][2], site="laganas")
    assert (answer.gallery_size, [m.photo_id for m in answer.matches]) == (1, [1])
    assert answer.matches[0].site == "Laganas"
    care.undo(event)
    (row,) = gallery.catalogue.photos([1])
    assert (row.site, row.date_taken, row.latitude, row.longitude) == (None, None, None, None)
    assert gallery.identify(photos["ind00"][2], site="laganas").matches == []


def test_edit_refuses_bad_values_and_half_a_position(gallery):
    care = Care(gallery.catalogue)
    with pytest.raises(ValueError, match="latitude 91"):
        care.edit(1, latitude=91, longitude=0)
    with pytest.raises(ValueError, match="both latitude and longitude"):
        care.edit(1, latitude=10)
    with pytest.raises(ValueError, match="cannot edit sha256"):
        care.edit(1, sha256="x")
    with pytest.raises(ValueError, match="nothing to change"):
        care.edit(1, site=None)


def test_undo_of_a_registration_removes_the_photo(gallery, photos):
    turtle_id, photo_id = gallery.register(photos["ind02"][2], "new.jpg", confirmed=True)
    assert len(gallery) == 7
    (change,) = Care(gallery.catalogue).changes(limit=1)
    assert (change.action, change.photo_id) == ("enrol_photo", photo_id)
    Care(gallery.catalogue).undo()
    assert len(gallery) == 6
    assert photo_id not in [m.photo_id for m in gallery.identify(photos["ind02"][2]).matches]


def test_an_undo_happens_once_is_itself_not_undone_and_refuses_a_conflict(gallery):
    care = Care(gallery.catalogue)
    first = care.move(5, "ind00")
    care.move(5, "ind01")
    with pytest.raises(ValueError, match="moved again"):
        care.undo(first)
    undo = care.undo()  # the latest change: the second move
    with pytest.raises(ValueError, match="already undone"):
        care.undo(undo - 1)
    with pytest.raises(ValueError, match="is an undo"):
        care.undo(undo)
    care.undo(first)
    assert gallery.catalogue.photos([5])[0].individual_id == "ind02"
    with pytest.raises(ValueError, match="no event 999"):
        care.undo(999)


def test_undo_without_an_event_takes_the_latest_change_of_that_user(gallery):
    care = Care(gallery.catalogue)
    care.remove(1, user="ana")
    care.remove(2, user="ben")
    care.undo(user="ana")
    assert [r.removed_at is None for r in gallery.catalogue.photos([1, 2])] == [True, False]
    with pytest.raises(ValueError, match="no change by 'carl' left to undo"):
        care.undo(user="carl")


def test_another_gallery_on_the_folder_follows_every_change_without_a_restart(
    gallery, photos, encoder
):
    other = Gallery(gallery.root, encoder)  # e.g. the app, while the CLI changes the gallery
    assert _best(other, photos["ind01"][2]).turtle_id == "ind01"
    care = Care(gallery.catalogue)
    care.merge("ind01", into="ind02")
    assert _best(other, photos["ind01"][2]).turtle_id == "ind02"
    care.rename("ind02", "Caretta")
    assert _best(other, photos["ind01"][2]).turtle_id == "Caretta"
    care.remove(1)
    assert 1 not in [m.photo_id for m in other.identify(photos["ind00"][0]).matches]
    # Reopened from its saved index, it still leaves the removed photo out.
    reopened = Gallery(gallery.root, encoder)
    assert 1 not in [m.photo_id for m in reopened.identify(photos["ind00"][0]).matches]
    care.restore(1)
    assert _best(reopened, photos["ind00"][0]).photo_id == 1
    other.close()
    reopened.close()
