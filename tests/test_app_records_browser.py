"""The app's record keeping in a real browser (Debian's chromium driven by Playwright), with
logins ($TURTLE_ID_USERS): the page asks for a login; a turtle renamed in the Records tab is
the name the next identify answers; a photo removed, restored and put back by undo; the audit
trail naming the user logged in, on the page and in its CSV; a sighting typed when registering
shown as text, and identify limited to its site and dates.

    apt-get install -y chromium && python -m pytest tests/test_app_records_browser.py
"""

import contextlib
import csv
import re
import time

import pytest
from PIL import Image

from tests.synthetic import photo_of, write_individuals
from tests.test_app_browser import (
    THRESHOLD,
    TIMEOUT_MS,
    _assert_all_local,
    _open,
    _require_browser,
    _serve,
    _toast,
    _upload,
)
from turtle_id.datasets import PhotoRecord
from turtle_id.encoder import Encoder
from turtle_id.gallery import Gallery
from turtle_id.settings import default_encoder_path

USER, PASSWORD = "ana", "turtles-at-dawn"
EXIF_DATE_TIME = 0x0132  # IFD0 DateTime, "YYYY:MM:DD HH:MM:SS"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """A running app with one login on 4 synthetic turtles, 2 photos each; yields (url,
    unseen photos by turtle: shots 2 and 3)."""
    _require_browser()
    tmp = tmp_path_factory.mktemp("records-app")
    photos = write_individuals(tmp / "photos", n_individuals=4, shots=4)
    gallery_dir = tmp / "gallery"
    gallery = Gallery(gallery_dir, Encoder(default_encoder_path()))
    records = [PhotoRecord(p, turtle) for turtle, shots in photos.items() for p in shots[:2]]
    assert gallery.enrol(records, user="setup").added == 8
    gallery.close()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TURTLE_ID_USERS", f"{USER}:{PASSWORD}")
        # --no-crop: synthetic patterns have no head for the head finder to find.
        with _serve(tmp, gallery_dir, "--threshold", str(THRESHOLD), "--no-crop") as url:
            yield url, {turtle: shots[2:] for turtle, shots in photos.items()}


@contextlib.contextmanager
def _logged_in(url: str):
    """A page on the app, past its login form; checks every request stayed local."""
    from playwright.sync_api import sync_playwright

    requested: list[str] = []
    with sync_playwright() as p:
        browser, page = _open(p, url, requested)
        try:
            password = page.locator("input[type=password]")
            password.wait_for(timeout=TIMEOUT_MS)  # the login form, not the app
            assert page.locator("#query").count() == 0
            page.get_by_label(re.compile("username", re.I)).fill(USER)
            password.fill(PASSWORD)
            page.get_by_role("button", name=re.compile("login", re.I)).click()
            page.locator("#query").wait_for(timeout=TIMEOUT_MS)
            yield page
        finally:
            browser.close()
    _assert_all_local(requested)


def _box(page, elem_id: str):
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first


def _result(page, pattern: str):
    """Wait until the Records tab's result box says `pattern` (a regex); returns its text."""
    from playwright.sync_api import expect

    box = _box(page, "records-result")
    expect(box).to_have_value(re.compile(pattern), timeout=TIMEOUT_MS)
    return box.input_value()


def _choose(page, elem_id: str, option: str | re.Pattern):
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option).first.click()


def _identify(page, expected: str) -> str:
    """Press Identify and wait for the decision to name `expected`; returns the decision."""
    page.get_by_role("button", name="Identify", exact=True).click()
    decision = page.locator("#decision").filter(has_text=expected)
    decision.wait_for(timeout=TIMEOUT_MS)
    return decision.inner_text()


def _rows(page, elem_id: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in row.locator("[role=gridcell]").all_inner_texts()]
        for row in page.locator(f"#{elem_id} [role=row][data-index]").all()
    ]


def _rows_until(page, elem_id: str, done, seconds: float = TIMEOUT_MS / 1000) -> list:
    """The table's rows once `done(rows)` holds; fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while not done(rows := _rows(page, elem_id)):
        assert time.monotonic() < deadline, f"#{elem_id} never got there: {rows}"
        page.wait_for_timeout(100)
    return rows


def test_rename_remove_restore_and_undo_are_audited_under_the_user_logged_in(app, tmp_path):
    url, queries = app
    with _logged_in(url) as page:
        _upload(page, queries["ind02"][0])
        assert _identify(page, "looks like").startswith("This looks like ind02")
        sightings = page.locator("#match-sightings [data-testid=cell-0-2]")
        sightings.filter(has_text=re.compile(r"\d\.jpg")).wait_for(timeout=TIMEOUT_MS)

        # Renamed in the Records tab: the very next identify answers the new name.
        page.get_by_role("tab", name="Records").click()
        _choose(page, "care-turtle", "ind02")
        _box(page, "care-new-name").fill("Shelly")
        page.get_by_role("button", name="Rename", exact=True).click()
        _result(page, r"^Done: renamed ind02 to Shelly \(event \d+, by ana\)")
        page.get_by_role("tab", name="Identify").click()
        assert _identify(page, "Shelly").startswith("This looks like Shelly")

        # A photo removed is kept, marked, and restored; undo puts the removal back.
        page.get_by_role("tab", name="Records").click()
        _choose(page, "care-photo", re.compile(r"^photo \d+ · 0\.jpg"))
        _box(page, "care-why").fill("blurred")
        page.get_by_role("button", name="Remove", exact=True).click()
        text = _result(page, r"^Done: removed photo \d+ \(0\.jpg\) of Shelly: blurred")
        photo_id = re.search(r"photo (\d+)", text).group(1)
        _rows_until(page, "care-table", lambda rows: any(r[-1].startswith("removed") for r in rows))
        page.get_by_role("button", name="Restore", exact=True).click()
        text = _result(page, rf"^Done: restored photo {photo_id} \(0\.jpg\) of Shelly")
        restored = re.search(r"\(event (\d+)", text).group(1)
        page.get_by_role("button", name="Undo last change").click()
        _result(page, rf"^Undone: restored photo {photo_id} .* by ana\)")
        _toast(page, "Undone")
        statuses = [row[-1] for row in _rows(page, "care-table")]
        assert sorted(s.split(" ")[0] for s in statuses) == ["in", "removed"], statuses

        # The audit trail names ana for each change, on the page and in its CSV.
        by_ana = [row[7] for row in _rows(page, "audit") if row[2] == USER]
        assert by_ana[:4] == [
            f"undid event {restored} (restore_photo)",
            f"restored photo {photo_id} (0.jpg) of Shelly",
            f"removed photo {photo_id} (0.jpg) of Shelly: blurred",
            "renamed ind02 to Shelly",
        ], by_ana
        with page.expect_download() as download:
            page.get_by_role("button", name="Audit trail (CSV)").click()
            page.locator("#records-file a").first.click()
        saved = tmp_path / "audit.csv"
        download.value.save_as(saved)
        with open(saved, encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert [r["action"] for r in rows if r["user"] == USER] == [
            "undo",
            "restore_photo",
            "remove_photo",
            "rename",
        ]
        assert {r["user"] for r in rows if r["action"] == "enrol_photo"} == {"setup"}


def test_a_sighting_typed_when_registering_is_kept_as_text_and_limits_identify(app, tmp_path):
    url, _ = app
    # A new turtle, photographed twice; the first photo's camera wrote its date in EXIF.
    first, second = tmp_path / "first.jpg", tmp_path / "second.jpg"
    exif = Image.Exif()
    exif[EXIF_DATE_TIME] = "2023:06:01 10:00:00"
    photo_of(seed=77, shot=0).save(first, quality=92, exif=exif.tobytes())
    photo_of(seed=77, shot=1).save(second, quality=92)
    site, notes = "Laganas <b>bay</b>", "**not bold** <img src=x onerror=alert(1)>"
    with _logged_in(url) as page:
        _upload(page, first)
        from playwright.sync_api import expect

        expect(_box(page, "sighting-date")).to_have_value("2023-06-01 10:00:00")
        _box(page, "sighting-site").fill(site)
        _box(page, "sighting-observer").fill("ana")
        _box(page, "sighting-notes").fill(notes)
        _box(page, "new-id").fill("t-site")
        page.get_by_role("button", name="Register as new turtle").click()
        _toast(page, "Registered first.jpg as the new turtle t-site")

        # Limited to its site (any case), the second photo finds only t-site.
        _upload(page, second)
        page.get_by_text("Search only one site or dates").click()
        _box(page, "limit-site").fill("LAGANAS <b>BAY</b>")
        _identify(page, "t-site")
        (row,) = _rows_until(page, "match-sightings", lambda rows: len(rows) == 1)
        assert row == ["1", "t-site", "first.jpg", "2023-06-01 10:00:00", site]
        # ... and to days after it was taken, nothing.
        _box(page, "limit-from").fill("2023-06-02")
        _identify(page, "No gallery photo is from that site or those dates")

        # The Records tab shows the sighting as typed: text, not HTML or Markdown.
        page.get_by_role("tab", name="Records").click()
        _choose(page, "care-turtle", "t-site")
        (row,) = _rows_until(page, "care-table", lambda rows: len(rows) == 1)
        assert row[4] == site and row[6] == notes, row
        assert page.locator("#care-table img, #care-table b, #care-table strong").count() == 0
