"""Browser tests of the Predict page (issue 22 items 2/5/11, issue 21 item 3): the real app in Debian's Chromium,
offline. On a phone (390 px) the top-N table shows its numbers (probability, distance, score) before the place;
at 1400 px it fits without horizontal scrolling; the M pin is never drawn under the scale bar; two models
answer side by side (the shipped model and a second real checkpoint), each map with its pins. Screenshots go
to ``tests/artifacts/`` (gitignored)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.app.apphelpers import DEFAULT_MODEL, SHARED, jpeg_with_gps, make_dev_checkpoint
from tests.e2e.server import require_browser, streamlit_app
from tests.e2e.test_e2e_browser import IDLE, MAP, REPO
from tests.e2e.test_maps_browser import chromium, open_map, site  # noqa: F401 (fixtures)

pytestmark = pytest.mark.e2e
ARTIFACTS = REPO / "tests" / "artifacts"


@pytest.fixture(scope="module")
def second_model(tmp_path_factory) -> Path:
    return make_dev_checkpoint(tmp_path_factory.mktemp("second") / "second.pt")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, second_model):
    """``streamlit run app/main.py`` with a second checkpoint on offer ($GEOLOC_COMPARE_MODELS)."""
    require_browser()
    env = {**os.environ, "GEOLOC_COMPARE_MODELS": str(second_model)}
    if not DEFAULT_MODEL.is_file():
        env["GEOLOC_MODEL"] = str(make_dev_checkpoint(tmp_path_factory.mktemp("model") / "dev.pt"))
    with streamlit_app(REPO, env, tmp_path_factory.mktemp("log") / "streamlit.log") as (url, _log):
        yield url


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    row = next(line.split(",") for line in (SHARED / "manifest.csv").read_text().splitlines()[1:]
               if ",test" in line and "gsv_strips," in line)
    p = tmp_path_factory.mktemp("photo") / "street.jpg"  # a shared image with EXIF GPS, made at run time
    p.write_bytes(jpeg_with_gps(SHARED / row[0], float(row[6]), float(row[7])))
    return p


def answered(chromium, url: str, photo: Path, width: int, height: int):  # noqa: F811
    page = chromium.new_page(viewport={"width": width, "height": height})
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("http://127.0.0.1", "data:", "blob:"))
               else r.abort())
    page.set_default_timeout(120_000)
    page.goto(url + "/predict")
    page.wait_for_selector(IDLE)
    page.locator("input[type=file]").first.set_input_files(str(photo))
    page.get_by_text("Country confidence").first.wait_for()
    page.wait_for_selector(IDLE)
    page.frame_locator(MAP).first.locator(".geo-marker-model").first.wait_for()
    return page


def table_headers(page) -> dict:
    """The columns the top-N grid draws (its accessible table holds only the columns on screen) and its
    scroll and visible widths (px)."""
    grid = page.locator("[data-testid='stDataFrame']", has=page.locator("th", has_text="Place")).first
    grid.scroll_into_view_if_needed()
    return grid.evaluate("""el => { const sc = el.querySelector('.dvn-scroller');
        return {headers: [...el.querySelectorAll('th')].map(h => h.textContent.trim()),
                scroll: sc.scrollWidth, client: sc.clientWidth}; }""")


def test_on_a_phone_the_top_n_numbers_come_first(chromium, app_url, photo):  # noqa: F811
    """Before: at 390 px the table showed '#' and 'Place' only; probability, distance and score were off screen."""
    page = answered(chromium, app_url, photo, 390, 844)
    t = table_headers(page)
    assert t["headers"][:4] == ["#", "Probability", "Distance (km)", "Score"], t
    assert t["scroll"] > t["client"]  # the place and its country are a sideways scroll away, and the page says so
    assert page.get_by_text("scroll the table sideways", exact=False).count() >= 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("[data-testid='stDataFrame']", has=page.locator("th", has_text="Place")).first.screenshot(
        path=str(ARTIFACTS / "predict_table_390.png"))
    page.close()
    wide = answered(chromium, app_url, photo, 1400, 1000)
    t = table_headers(wide)
    assert t["scroll"] <= t["client"] + 1, t  # every column at 1400 px
    assert {"Place", "Country", "Probability", "Distance (km)", "Score"} <= set(t["headers"])
    wide.close()


def test_the_m_pin_is_not_under_the_scale_bar(chromium, site):  # noqa: F811
    """M the south-easternmost point of an answer whose frame is as tall as it is wide: before, the frame kept
    30 px free at its edges and M sat under the km scale bar in the bottom-right corner."""
    from types import SimpleNamespace

    from app.common import result_map as rmap
    from app.common.results import Truth

    pts = [(-30.0, 150.0), (10.0, 78.0), (-10.0, 114.0)]  # M (Queensland), the other guesses north-west of it
    top = [SimpleNamespace(name=f"P{i}", country_code="AU", country="Australia", admin1="", lat=a, lon=b,
                           prob=0.3 / (i + 1), cell_id=i) for i, (a, b) in enumerate(pts)]
    pred = SimpleNamespace(top=top, lat=pts[0][0], lon=pts[0][1], best_lat=10.0, best_lon=78.0, country_code="AU",
                           country="Australia", country_probs=[("AU", "Australia", 0.5)], expected_km=5000.0,
                           refined=False)
    m = rmap.prediction_map(pred, Truth(10.0, 78.0, "test"), 3, online_tiles=False)
    page = open_map(chromium, site, m, "m_corner", 860, 500)
    page.wait_for_selector(".geo-marker-model")
    page.wait_for_timeout(300)
    box = page.evaluate("""() => { const r = e => { const b = e.getBoundingClientRect();
                                                    return [b.left, b.top, b.right, b.bottom]; };
        return {m: r(document.querySelector('.geo-marker-model')),
                scale: r(document.querySelector('.leaflet-control-scale')),
                attribution: [...document.querySelectorAll('.leaflet-control-attribution')].map(r)}; }""")
    ml, mt, mr, mb = box["m"]
    for (l, t, r, b) in [box["scale"], *box["attribution"]]:
        assert mr <= l or ml >= r or mb <= t or mt >= b, box  # no overlap
    assert mb <= box["scale"][1], box  # the pin ends above the scale bar
    assert not page.errors, page.errors
    page.close()


def test_two_models_side_by_side(chromium, app_url, photo, second_model):  # noqa: F811
    page = answered(chromium, app_url, photo, 1400, 1400)
    page.get_by_text("Compare with a second model").click()
    page.wait_for_selector(IDLE)
    page.get_by_text("Second model").first.wait_for()
    box = page.locator("[data-testid='stSelectbox']", has=page.get_by_text("Second model")).first
    box.click()
    page.get_by_role("option", name=f"Checkpoint {second_model}").click()
    page.get_by_text("Both answered the same 1 view(s)", exact=False).wait_for()
    page.wait_for_selector(IDLE)
    maps = page.locator(MAP)
    assert maps.count() == 2
    for i in range(2):
        f = page.frame_locator(MAP).nth(i)
        f.locator(".geo-marker-model").first.wait_for()
        f.locator(".geo-marker-truth").first.wait_for()
    assert page.get_by_text("Licence:", exact=False).count() == 2
    assert page.get_by_role("heading", name="second").count() == 1
    page.wait_for_timeout(800)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "predict_side_by_side.png"), full_page=True)
    page.close()
