"""Browser test of "Your photos": the real app (``streamlit run app/main.py``) in Debian's Chromium via
Playwright, offline (every request not to 127.0.0.1 is blocked), served from a copy of the working tree so
that uploads land in the copy's data folder, not in this checkout. A fresh server shows a message at once
(cold start, issue 22.7); a zip of twelve photos with EXIF GPS is uploaded, every photo appears on one
map (12 guesses, 12 GPS positions), and the GeoJSON download holds 12 features."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.app.batch.batch_helpers import gps_zip
from tests.e2e.test_clone_without_shared import tree_files
from tests.e2e.server import ARGS, CHROMIUM, require_browser, streamlit_app
from tests.e2e.test_e2e_browser import ARTIFACTS, IDLE, MAP, offline_page
from tests.shared import REPO

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def copy_server(tmp_path_factory):
    """(url, the copy's root, the moment the server answered its health check) of a fresh server."""
    require_browser()
    repo = tmp_path_factory.mktemp("served") / "repo"
    for f in tree_files():
        (repo / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, repo / f)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEOLOC_")}
    env.update(PYTHONPATH=str(repo), HF_HUB_OFFLINE="1")
    with streamlit_app(repo, env, tmp_path_factory.mktemp("log") / "streamlit.log") as (url, log):
        yield url, repo, log


@pytest.fixture(scope="module")
def browser(copy_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_cold_start_says_something_at_once(copy_server, browser):
    """The first page after the server starts (Predict: it loads the model) shows text within 3 s
    (before: 5-10 s of a blank page), then its own title."""
    url, _, _ = copy_server
    blocked: list[str] = []
    page = offline_page(browser, blocked, height=1000)
    t = time.monotonic()
    page.goto(url + "/predict")
    page.get_by_text("Starting up").or_(page.get_by_role("heading", name="Where was this photo taken?")
                                        ).first.wait_for(timeout=3_000)
    first_text = time.monotonic() - t
    page.get_by_role("heading", name="Where was this photo taken?").first.wait_for()
    page.wait_for_selector(IDLE)
    assert page.get_by_text("Starting up").count() == 0  # gone once the page has drawn itself
    print(f"cold start: first text after {first_text:.2f} s, page drawn after {time.monotonic() - t:.2f} s")
    assert not blocked, blocked[:5]
    page.close()


def test_upload_a_zip_see_every_photo_and_download_geojson(copy_server, browser, tmp_path):
    url, repo, log = copy_server
    blob, views = gps_zip(12)
    z = tmp_path / "holiday.zip"
    z.write_bytes(blob)
    blocked: list[str] = []
    page = offline_page(browser, blocked, height=2600)
    bad: list[str] = []
    page.on("response", lambda r: bad.append(f"{r.status} {r.url}")
            if r.status >= 400 and "/_stcore/" not in r.url else None)  # Streamlit probes <page>/_stcore/*
    page.goto(url + "/photos")
    page.get_by_role("heading", name="Your photos").first.wait_for()
    page.wait_for_selector(IDLE)
    page.locator("input[type=file]").first.set_input_files(str(z))
    page.get_by_role("button", name="Import and place them").wait_for()
    page.wait_for_selector(IDLE)
    page.get_by_role("button", name="Import and place them").click()
    frame = page.frame_locator(MAP)
    frame.locator(".geo-marker-best").first.wait_for(timeout=180_000)
    page.wait_for_selector(IDLE)
    assert frame.locator(".geo-marker-best").count() == 12
    assert frame.locator(".geo-marker-truth").count() == 12
    assert frame.locator("path.leaflet-interactive").count() >= 12 + 100  # lines + country borders
    assert page.get_by_text("Showing 12 of 12 photos").count() == 1
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download GEOJSON (12 photos)").click()
    gj = json.loads(Path(dl.value.path()).read_text())
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 12
    assert {f["properties"]["photo"] for f in gj["features"]} == set(views["name"])
    assert all(f["properties"]["error_km"] is not None for f in gj["features"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / "e2e_photos.png"), full_page=True)
    imported = list((repo / "data" / ".uploads").rglob("images/*.jpg"))
    assert len(imported) == 12  # into the copy's data folder, this session's import
    assert not list((REPO / "data" / ".uploads").rglob("*.jpg")) if (REPO / "data" / ".uploads").exists() else True
    assert not blocked, blocked[:5]
    assert not bad, bad[:5]
    page.close()
