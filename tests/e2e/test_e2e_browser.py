"""Browser test: the real app (``streamlit run app/main.py``) in Debian's Chromium via Playwright,
with every request that does not go to 127.0.0.1 blocked (offline). Every page opens from its own
URL (/, /predict, /play, /explore, /about); a photo is uploaded, the map renders with its markers and
country borders, the top-N table fits its panel at 1400 px (no horizontal scrolling), Grad-CAM turns
on; screenshots are saved under ``tests/artifacts/`` (gitignored)."""
from __future__ import annotations

import os

import pytest

from tests.app.apphelpers import DEFAULT_MODEL, SHARED, jpeg_with_gps, make_dev_checkpoint
from tests.e2e.server import ARGS, CHROMIUM, free_port, require_browser, streamlit_app  # noqa: F401 (re-exported)
from tests.shared import REPO

pytestmark = pytest.mark.e2e
ARTIFACTS = REPO / "tests" / "artifacts"
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
MAP = "iframe[title='streamlit_folium.st_folium']"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_browser()
    env = dict(os.environ)
    if not DEFAULT_MODEL.is_file():
        env["GEOLOC_MODEL"] = str(make_dev_checkpoint(tmp_path_factory.mktemp("model") / "dev.pt"))
    with streamlit_app(REPO, env, tmp_path_factory.mktemp("log") / "streamlit.log") as (url, _log):
        yield url


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def offline_page(browser, blocked: list[str], height: int = 2400):
    page = browser.new_page(viewport={"width": 1400, "height": height})

    def route(r):
        u = r.request.url
        if u.startswith(("http://127.0.0.1", "data:", "blob:")):
            r.continue_()
        else:
            blocked.append(u)
            r.abort()

    page.route("**/*", route)
    page.set_default_timeout(90_000)
    return page


def test_upload_renders_offline_map_with_markers(server, browser, tmp_path):
    df_row = next(line.split(",") for line in (SHARED / "manifest.csv").read_text().splitlines()[1:]
                  if ",test" in line and "gsv_strips," in line)
    src = SHARED / df_row[0]
    photo = tmp_path / "street.jpg"  # the shared image with EXIF GPS added, made at run time
    photo.write_bytes(jpeg_with_gps(src, float(df_row[6]), float(df_row[7])))
    blocked: list[str] = []
    page = offline_page(browser, blocked)
    bad: list[str] = []
    page.on("response", lambda r: bad.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(server)
    page.wait_for_selector(IDLE)
    page.locator("input[type=file]").first.set_input_files(str(photo))
    frame = page.frame_locator(MAP)
    frame.locator(".geo-marker-truth").first.wait_for()
    page.wait_for_selector(IDLE)
    for kind in ("truth", "model", "best", "candidate"):
        assert frame.locator(f".geo-marker-{kind}").count() >= 1, kind
    assert frame.locator(".geo-marker-candidate").count() == 5
    assert frame.locator("path.leaflet-interactive").count() > 100  # country borders + lines drawn
    assert page.get_by_text("GPS coordinates in its EXIF data").count() == 1
    assert page.get_by_text("Distance (M)").count() == 1
    table = table_geometry(page)
    assert table["scroll"] <= table["client"] + 1, table  # no horizontal scrolling at 1400 px
    assert table["width"] >= 0.8 * table["main"], table  # full width under the map, not squeezed beside it
    assert {"Place", "Probability", "Distance (km)", "Score"} <= set(table["headers"]), table
    assert "Region" not in table["headers"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(800)  # let tiles-free map settle for the picture
    page.screenshot(path=str(ARTIFACTS / "e2e_predict.png"), full_page=True)

    page.get_by_text("Grad-CAM overlay").click()
    page.get_by_text("Heat in the bottom band").wait_for()
    page.wait_for_selector(IDLE)
    page.screenshot(path=str(ARTIFACTS / "e2e_gradcam.png"), full_page=True)
    assert not blocked, blocked[:5]
    assert not bad, bad[:5]
    page.close()


def test_about_page(server, browser):
    blocked: list[str] = []
    page = offline_page(browser, blocked)
    page.goto(server + "/about")
    page.get_by_text("Photos never leave this machine").wait_for()
    assert page.get_by_text("What Grad-CAM can and cannot tell").count() == 1
    assert not blocked, blocked[:5]
    page.close()


def table_geometry(page) -> dict:
    """Scroll and visible widths (px) of the top-N table's grid, the column headers it draws (its
    accessible table) and the widths of the grid and of the page's main block."""
    grid = page.locator("[data-testid='stDataFrame']", has=page.locator("th", has_text="Place")).first
    grid.wait_for()
    return grid.evaluate("""el => {
        const sc = el.querySelector('.dvn-scroller');
        const heads = [...el.querySelectorAll('th')].map(h => h.textContent.trim());
        const main = document.querySelector('[data-testid=stMainBlockContainer]');
        return {scroll: sc.scrollWidth, client: sc.clientWidth, headers: heads, width: el.clientWidth,
                main: main ? main.clientWidth : 0};
    }""")


PAGES = [("", "Where was this photo taken?"), ("/predict", "Where was this photo taken?"),
         ("/play", "Play against the model"), ("/explore", "Explore the model's errors"),
         ("/about", "About this model")]


@pytest.mark.parametrize("path,title", PAGES)
def test_every_page_opens_from_its_own_url(server, browser, path, title):
    """A direct link to each page opens that page (before: /predict said "Page not found" and ran
    the main page); the root opens Predict at its own address."""
    blocked: list[str] = []
    page = offline_page(browser, blocked, height=1000)
    page.goto(server + path)
    page.get_by_role("heading", name=title).first.wait_for()
    page.wait_for_selector(IDLE)
    assert page.get_by_text("Page not found").count() == 0
    assert page.get_by_text("does not seem to exist").count() == 0
    assert page.url.rstrip("/").endswith(path or "/predict"), page.url
    assert not blocked, blocked[:5]
    page.close()


def test_gif_and_unreadable_files_say_why_on_the_page(server, browser, tmp_path):
    """The uploader used to refuse a GIF in the browser with the reason only in a tooltip; now it
    takes any file: an animated GIF is read (first frame, a note on the page) and a damaged HEIC file
    (HEIC itself is read, through pi-heif) gets its reason and what to do, written on the page."""
    from PIL import Image

    src = next(SHARED / line.split(",")[0] for line in (SHARED / "manifest.csv").read_text().splitlines()[1:]
               if ",test" in line and "gsv_strips," in line)
    img = Image.open(src).convert("RGB")
    gif = tmp_path / "street.gif"
    img.save(gif, "GIF", save_all=True, append_images=[img.rotate(180)], duration=200)
    heic = tmp_path / "IMG_0001.HEIC"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    blocked: list[str] = []
    page = offline_page(browser, blocked, height=1400)
    page.goto(server + "/predict")
    page.wait_for_selector(IDLE)
    page.locator("input[type=file]").first.set_input_files([str(gif), str(heic)])
    page.get_by_text("street.gif: GIF with 2 frames; the first one is used.").wait_for()
    page.get_by_text("Country confidence").wait_for()
    assert page.get_by_text("IMG_0001.HEIC: this HEIC/HEIF file cannot be decoded").count() == 1  # a damaged HEIC
    assert page.get_by_text("not allowed").count() == 0  # no client-side refusal left
    assert not blocked, blocked[:5]
    page.close()
