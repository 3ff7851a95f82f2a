import pytest

from tests.synthetic import photo_of
from turtle_id.datasets import photos_in, read_collection
from turtle_id.sightings import SightingFilter


def _photo(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    photo_of(0, 0).save(path)
    return path


def test_zindi_layout_reads_ids_views_and_keeps_extra_columns(tmp_path):
    _photo(tmp_path / "images" / "ID_A.JPG")
    _photo(tmp_path / "images" / "ID_B.jpg")
    (tmp_path / "train.csv").write_text(
        "image_id,image_location,turtle_id,date,site\n"
        "ID_A,Right,t_1,2021-01-02,Laganas\n"
        "ID_B,top,t_2,,\n"
        "ID_C,left,t_3,,\n"
        "ID_A,front,t_1,,\n"
    )
    collection = read_collection(tmp_path)
    assert [(r.path.name, r.individual_id, r.view, r.date) for r in collection.records] == [
        ("ID_A.JPG", "t_1", "right", "2021-01-02"),
        ("ID_B.jpg", "t_2", "top", None),
    ]
    assert collection.records[0].extra == {"site": "Laganas"}
    assert len(collection.problems) == 2
    assert "line 4: no photo images/ID_C.JPG" in collection.problems[0]
    assert "line 5: view 'front'" in collection.problems[1]


def test_labels_csv_reads_regions_relative_paths_and_reports_bad_rows(tmp_path):
    _photo(tmp_path / "images" / "a.jpg")
    (tmp_path / "labels.csv").write_text(
        "file,individual_id,view,date,head_x,head_y,head_w,head_h\n"
        "images/a.jpg,T1,left,2020-05-01,10,20,30,40\n"
        "images/a.jpg,T1,,,,,,\n"
        "images/missing.jpg,T2,left,,1,1,1,1\n"
        "images/a.jpg,T1,left,,1,1,0,5\n"
    )
    collection = read_collection(tmp_path)
    assert [(r.individual_id, r.view, r.region) for r in collection.records] == [
        ("T1", "left", (10, 20, 30, 40)),
        ("T1", None, None),
    ]
    assert len(collection.problems) == 2
    assert "labels.csv line 4: no photo images/missing.jpg" in collection.problems[0]
    assert "labels.csv line 5: head box (1, 1, 0, 5) has no area" in collection.problems[1]
    assert read_collection(tmp_path, use_regions=False).records[0].region is None


def test_a_csv_without_its_required_columns_names_them(tmp_path):
    (tmp_path / "labels.csv").write_text("path,animal\nx.jpg,a\n")
    with pytest.raises(ValueError, match="missing column\\(s\\) file, individual_id"):
        read_collection(tmp_path)


def test_folder_per_individual_layout(tmp_path):
    _photo(tmp_path / "Shelly" / "1.jpg")
    _photo(tmp_path / "Shelly" / "2.png")
    _photo(tmp_path / "Crush" / "x.jpg")
    (tmp_path / "Crush" / "notes.txt").write_text("not a photo")
    collection = read_collection(tmp_path)
    assert sorted((r.individual_id, r.path.name) for r in collection.records) == [
        ("Crush", "x.jpg"),
        ("Shelly", "1.jpg"),
        ("Shelly", "2.png"),
    ]


def test_an_empty_folder_explains_the_layouts(tmp_path):
    with pytest.raises(ValueError, match="sub-folder"):
        read_collection(tmp_path)


def test_identify_inputs_accept_photos_folders_and_a_labels_csv_ignoring_ids(tmp_path):
    a = _photo(tmp_path / "q" / "a.jpg")
    b = _photo(tmp_path / "q" / "sub" / "b.jpg")
    (tmp_path / "q" / "labels.csv").write_text(
        "file,individual_id,view,head_x,head_y,head_w,head_h\na.jpg,T9,right,1,2,3,4\n"
    )
    from_csv = photos_in([tmp_path / "q" / "labels.csv"])
    assert [(r.path, r.individual_id, r.view, r.region) for r in from_csv.records] == [
        (a.resolve(), None, "right", (1, 2, 3, 4))
    ]
    assert [r.path for r in photos_in([tmp_path / "q"]).records] == [a, b]
    missing = photos_in([a, tmp_path / "nope.jpg"])
    assert len(missing.records) == 1 and "nope.jpg: no such file" in missing.problems[0]


def test_labels_csv_dates_that_identify_would_refuse_are_row_problems(tmp_path):
    _photo(tmp_path / "a.jpg")
    (tmp_path / "labels.csv").write_text(
        "file,individual_id,date\n"
        "a.jpg,T1,2018-06-23\n"
        "a.jpg,T2,23/06/2018\n"
        "a.jpg,T3,2018:06:23 10:05:00\n"
        "a.jpg,T4,2018-02-30\n"
        "a.jpg,T5,\n"
    )
    collection = read_collection(tmp_path)
    # Valid dates are kept as written, EXIF's form included; a blank date is no date.
    assert [(r.individual_id, r.date) for r in collection.records] == [
        ("T1", "2018-06-23"),
        ("T3", "2018:06:23 10:05:00"),
        ("T5", None),
    ]
    assert collection.problems == [
        f"{tmp_path / 'labels.csv'} line 3: date '23/06/2018' is not a date: "
        "write it as YYYY-MM-DD [HH:MM[:SS]]",
        f"{tmp_path / 'labels.csv'} line 5: date '2018-02-30' has no such day: "
        "check the month and the day",
    ]
    # ... refused in the same words as identify --from / --to refuses the same text
    with pytest.raises(ValueError, match="^date '23/06/2018' is not a date: write it as"):
        SightingFilter(date_from="23/06/2018")


def test_zindi_train_csv_dates_are_checked_like_labels_csv_dates(tmp_path):
    _photo(tmp_path / "images" / "ID_A.JPG")
    (tmp_path / "train.csv").write_text(
        "image_id,image_location,turtle_id,date\nID_A,top,t_1,2018-06-23\nID_A,top,t_2,6/23/2018\n"
    )
    collection = read_collection(tmp_path)
    assert [(r.individual_id, r.date) for r in collection.records] == [("t_1", "2018-06-23")]
    assert collection.problems == [
        f"{tmp_path / 'train.csv'} line 3: date '6/23/2018' is not a date: "
        "write it as YYYY-MM-DD [HH:MM[:SS]]"
    ]


def test_a_head_box_with_only_some_of_its_four_values_is_a_row_problem(tmp_path):
    _photo(tmp_path / "a.jpg")
    (tmp_path / "labels.csv").write_text(
        "file,individual_id,head_x,head_y,head_w,head_h\n"
        "a.jpg,T1,10,20,30,40\n"
        "a.jpg,T2,10,20,,\n"
        "a.jpg,T3,,,,\n"
    )
    collection = read_collection(tmp_path)
    assert [(r.individual_id, r.region) for r in collection.records] == [
        ("T1", (10, 20, 30, 40)),
        ("T3", None),
    ]
    assert collection.problems == [
        f"{tmp_path / 'labels.csv'} line 3: head box has head_x, head_y but no head_w, head_h: "
        "give all four head_* values or none"
    ]
    # --no-regions ignores head boxes, complete or not
    assert len(read_collection(tmp_path, use_regions=False).records) == 3


def test_an_empty_individual_id_names_the_csv_line_and_the_column(tmp_path):
    _photo(tmp_path / "a.jpg")
    (tmp_path / "labels.csv").write_text("file,individual_id\na.jpg,T1\na.jpg,  \n")
    collection = read_collection(tmp_path)
    assert [r.individual_id for r in collection.records] == ["T1"]
    assert collection.problems == [
        f"{tmp_path / 'labels.csv'} line 3: no turtle ID: the individual_id column needs a "
        "value (the turtle's ID), or drop the row"
    ]
    # identify's input needs no ID
    assert len(photos_in([tmp_path / "labels.csv"]).records) == 2


def test_zindi_rows_without_a_turtle_id_name_the_csv_line_and_the_column(tmp_path):
    _photo(tmp_path / "images" / "ID_A.JPG")
    (tmp_path / "train.csv").write_text("image_id,turtle_id\nID_A,\n")
    assert read_collection(tmp_path).problems == [
        f"{tmp_path / 'train.csv'} line 2: no turtle ID: the turtle_id column needs a value "
        "(the turtle's ID), or drop the row"
    ]


def test_a_collection_that_does_not_exist_is_not_called_not_a_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere: does not exist: check the path"):
        read_collection(tmp_path / "nowhere")
    (tmp_path / "photo.jpg").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="photo.jpg: not a folder"):
        read_collection(tmp_path / "photo.jpg")
