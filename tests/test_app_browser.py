"""The web app in a real browser (Debian's chromium driven by Playwright), on a gallery of
synthetic turtles: identify, register a new turtle, reject a damaged photo, browse individuals,
and never load anything from outside the machine.

    apt-get install -y chromium && python -m pytest tests/test_app_browser.py
"""

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.synthetic import photo_of, write_individuals
from turtle_id.datasets import PhotoRecord
from turtle_id.encoder import Encoder
from turtle_id.gallery import Gallery
from turtle_id.settings import default_encoder_path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
# No sandbox: the tests run as root in a container. The rest keeps Chromium itself from
# calling home, so that every request seen comes from the page.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
CAPTION = re.compile(r"^(\S+) · (\d\.\d{3})$")  # "ind03 · 0.912"
TIMEOUT_MS = 20_000


def _require_browser():
    """Skip without Chromium on a developer's machine; under CI a missing browser fails."""
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is missing: apt-get install -y chromium"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is missing: pip install playwright"
    if missing and os.environ.get("CI"):
        pytest.fail(missing)
    if missing:
        pytest.skip(missing)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_serving(url: str, server: subprocess.Popen, log: Path, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"app.py exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"app.py did not serve {url} within {seconds} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """A running app on 6 synthetic turtles, 2 photos each; yields (url, gallery dir, queries)."""
    _require_browser()
    tmp = tmp_path_factory.mktemp("app")
    photos = write_individuals(tmp / "photos", n_individuals=6, shots=3)
    gallery_dir = tmp / "gallery"
    gallery = Gallery(gallery_dir, Encoder(default_encoder_path()))
    records = [PhotoRecord(p, turtle) for turtle, shots in photos.items() for p in shots[:2]]
    assert gallery.enrol(records).added == 12
    gallery.close()

    port = _free_port()
    log = tmp / "app.log"
    env = {**os.environ, "GRADIO_TEMP_DIR": str(tmp / "gradio")}
    with open(log, "w") as out:
        server = subprocess.Popen(
            [sys.executable, "app.py", "--gallery", str(gallery_dir), "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_serving(url, server, log)
        yield url, gallery_dir, {turtle: shots[2] for turtle, shots in photos.items()}
    finally:
        server.terminate()
        server.wait(timeout=10)


def _gallery_state(gallery_dir: Path) -> tuple:
    """Every stored file and every catalogue row, to compare before and after a failure."""
    files = sorted(
        str(p.relative_to(gallery_dir))
        for p in gallery_dir.rglob("*")
        if p.is_file() and p.parent != gallery_dir  # skip gallery.sqlite and its WAL files
    )
    with sqlite3.connect(f"file:{gallery_dir / 'gallery.sqlite'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT id, sha256, individual_id FROM photos ORDER BY id").fetchall()
        individuals = db.execute("SELECT id FROM individuals ORDER BY id").fetchall()
    return files, rows, individuals


def _captions(page) -> list[tuple[str, float]]:
    """(turtle ID, similarity) of every shown match, best first."""
    shown = page.locator("#matches .caption-label").all_inner_texts()
    parsed = [CAPTION.match(text.strip()) for text in shown]
    assert all(parsed), f"captions not like 'ind03 · 0.912': {shown}"
    return [(m.group(1), float(m.group(2))) for m in parsed]


def _upload(page, photo: Path):
    """Drop a photo on the query box and wait until the app holds it."""
    page.locator("#query input[type=file]").set_input_files(photo)
    page.locator("#query img").wait_for(timeout=TIMEOUT_MS)
    page.locator("#matches .caption-label").first.wait_for(state="detached", timeout=TIMEOUT_MS)


def _identify(page) -> list[tuple[str, float]]:
    page.get_by_role("button", name="Identify", exact=True).click()
    page.locator("#matches .caption-label").nth(4).wait_for(timeout=TIMEOUT_MS)
    return _captions(page)


def _toast(page, text: str):
    page.locator("[data-testid=toast-body]", has_text=text).first.wait_for(timeout=TIMEOUT_MS)


def test_identify_register_and_browse_load_nothing_from_outside(app, tmp_path):
    from playwright.sync_api import sync_playwright

    url, gallery_dir, queries = app
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda request: requested.append(request.url))
            page.on("websocket", lambda socket: requested.append(socket.url))
            page.goto(url)

            # A known turtle: five captioned matches, the right one first and preselected.
            _upload(page, queries["ind03"])
            matches = _identify(page)
            assert len(matches) == 5
            assert len({turtle for turtle, _ in matches}) == 5
            assert matches[0][0] == "ind03"
            assert [s for _, s in matches] == sorted((s for _, s in matches), reverse=True)
            assert "ind03" in page.locator("#decision").inner_text()
            assert page.locator("#candidate input").input_value() == "ind03"

            # A new turtle, registered under a typed ID, is found by the very next identify.
            newcomer = tmp_path / "newcomer.jpg"
            photo_of(seed=42, shot=0).save(newcomer, quality=92)
            _upload(page, newcomer)
            page.locator("#new-id textarea, #new-id input").first.fill("t-new")
            page.get_by_role("button", name="Register as new turtle").click()
            _toast(page, "Registered newcomer.jpg as the new turtle t-new")
            matches = _identify(page)
            assert matches[0][0] == "t-new"
            assert matches[0][1] >= 0.999  # the very photo that was registered

            # A damaged photo is refused with the package's message; the gallery is untouched.
            before = _gallery_state(gallery_dir)
            damaged = tmp_path / "damaged.jpg"
            damaged.write_bytes(queries["ind01"].read_bytes()[:2000])  # cut off mid-scan
            _upload(page, damaged)
            page.get_by_role("button", name="Register as new turtle").click()
            _toast(page, "damaged.jpg")
            assert _gallery_state(gallery_dir) == before

            # The Individuals tab lists the newcomer; choosing it shows its one photo.
            page.get_by_role("tab", name="Individuals").click()
            page.locator("#individuals").get_by_text("t-new", exact=True).click()
            photos = page.locator("#photos .caption-label")
            photos.first.wait_for(timeout=TIMEOUT_MS)
            assert photos.all_inner_texts() == ["newcomer.jpg"]
        finally:
            browser.close()

    outside = {
        url for url in requested if urlparse(url).scheme not in ("data", "blob")
        and urlparse(url).hostname not in LOCAL_HOSTS
    }  # fmt: skip
    assert not outside, f"the page loaded from outside the machine: {sorted(outside)}"
    assert requested, "no requests were recorded"
