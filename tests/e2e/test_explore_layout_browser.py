"""Explore's labels read whole in a real browser (Debian's Chromium via Playwright, offline) at 1400 px and at a
phone's 390 px (issue 22.11): the filter chips and options ("United States (…", "Street V…", "Wrong coun"
were cut off), the source options, the legend (no break inside a term), the audit table's headers ("Edge
hea…") and the detail's top-N with its Distance and Score. Screenshots go to ``tests/artifacts/``
(gitignored). The server runs on this checkout's data: the shared set when it is here, else the shipped
evaluation alone (then the detail's live top-N is not checked: there are no images)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.server import CHROMIUM, require_browser, streamlit_app
from tests.shared import REPO, SHARED_MANIFEST

pytestmark = pytest.mark.e2e
ARTIFACTS = REPO / "tests" / "artifacts"
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
CUT = """keys => {
  const out = [];
  const cut = el => el.scrollWidth > el.clientWidth + 1;
  for (const k of keys) {
    const root = document.querySelector('.st-key-' + k);
    if (!root) { out.push('missing ' + k); continue; }
    root.querySelectorAll('*').forEach(el => {
      const cs = getComputedStyle(el);
      const text = [...el.querySelectorAll('*'), el].some(e => [...e.childNodes].some(
        n => n.nodeType === 3 && n.textContent.trim()));
      if (text && cut(el) && (cs.overflowX !== 'visible' || cs.textOverflow === 'ellipsis'))
        out.push(k + ': ' + (el.getAttribute('data-testid') || el.tagName) + ' "' + el.textContent.trim().slice(0, 40) + '"');
    });
  }
  return out;
}"""
LEGEND = """() => {  // the legend's labels that break across lines (each text node must sit on one line)
  const boxes = [...document.querySelectorAll('div')].filter(d => d.textContent.includes('≤ 1 km (street)')
    && d.textContent.includes('> 2,500 km') && !d.querySelector('div'));
  if (!boxes.length) return ['no legend'];
  const out = [], walker = document.createTreeWalker(boxes[0], NodeFilter.SHOW_TEXT);
  let n;
  while ((n = walker.nextNode())) {
    if (!n.textContent.trim()) continue;
    const r = document.createRange();
    r.selectNodeContents(n);
    if (new Set([...r.getClientRects()].map(x => Math.round(x.top))).size > 1) out.push(n.textContent);
  }
  return out;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_browser()
    if not (REPO / "assets" / "models" / "default.eval" / "predictions.csv.gz").is_file():
        pytest.skip("the shipped evaluation is missing")
    env = {**os.environ, "GEOLOC_EXPLORE_CACHE": str(tmp_path_factory.mktemp("explore_cache"))}
    with streamlit_app(REPO, env, tmp_path_factory.mktemp("log") / "streamlit.log") as (url, _log):
        yield url


def _page(browser, width: int, blocked: list[str]):
    page = browser.new_page(viewport={"width": width, "height": 2600 if width > 800 else 4200})

    def route(r):
        if r.request.url.startswith(("http://127.0.0.1", "data:", "blob:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.set_default_timeout(180_000)
    return page


def _filter(page) -> None:
    """United States as the country, two long sources, wrong guesses only."""
    box = page.locator(".st-key-ex_f_country input")
    box.click()
    box.fill("United States")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.wait_for_selector(IDLE)
    for name in ("Street View, random rural point", "GeoGuessr screenshot with game UI"):
        pill = page.locator(".st-key-ex_f_source button", has_text=name)
        if pill.count():
            pill.first.click()
            page.wait_for_selector(IDLE)
    page.locator(".st-key-ex_f_rw button", has_text="Wrong").click()
    page.wait_for_selector(IDLE)


def _grid(page, header: str):
    """The dataframe (a canvas grid) whose accessible table has a header ``header``."""
    grid = page.locator("[data-testid='stDataFrame']", has=page.locator("th", has_text=header)).first
    grid.wait_for()
    return grid


@pytest.mark.parametrize("width", [1400, 390])
def test_explore_labels_read_whole(server, width):
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = _page(browser, width, blocked)
        page.goto(server + "/explore")
        page.get_by_text("pass the filters").first.wait_for()
        page.wait_for_selector(IDLE)
        page.get_by_text("Data: which evaluation to explore").click()
        page.wait_for_timeout(300)
        assert page.evaluate(CUT, ["ex_mode"]) == []  # the Source options
        page.get_by_text("Data: which evaluation to explore").click()
        assert page.evaluate(LEGEND) == []  # the error buckets' legend under the map
        _filter(page)
        assert page.locator(".st-key-ex_f_country", has_text="United States").count() == 1
        assert page.evaluate(CUT, ["ex_f_country", "ex_f_source", "ex_f_rw"]) == []
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / f"explore_filters_{width}.png"))
        page.goto(server + "/explore")  # a fresh session: the audit tab over every place
        page.get_by_role("tab", name="Shortcut audit").click()
        page.wait_for_selector(IDLE)
        grid = _grid(page, "Shown")  # the first columns: a phone draws only those in view
        page.wait_for_timeout(800)
        audit = grid.locator(".dvn-scroller").evaluate("el => [el.scrollWidth, el.clientWidth]")
        if width > 800:
            assert audit[0] <= audit[1] + 1, audit  # every column, "Edge heat" included, in view
        page.screenshot(path=str(ARTIFACTS / f"explore_audit_{width}.png"))
        if SHARED_MANIFEST.is_file():  # the images are here: the detail's live top-N with Distance and Score
            page.get_by_role("tab", name="Map").click()
            page.wait_for_selector(IDLE)
            pick = page.locator(".st-key-ex_pick_map input")
            pick.click()
            page.get_by_role("option").nth(1).click()
            page.wait_for_selector(IDLE)
            top = _grid(page, "Probability")
            page.wait_for_timeout(800)
            geo = top.evaluate("""el => { const sc = el.querySelector('.dvn-scroller');
                return {scroll: sc.scrollWidth, client: sc.clientWidth,
                        heads: [...el.querySelectorAll('th')].map(h => h.textContent.trim())}; }""")
            assert {"Distance (km)", "Score", "Probability"} <= set(geo["heads"]), geo  # first, so a phone shows them
            if width > 800:
                assert geo["scroll"] <= geo["client"] + 1, geo
            page.screenshot(path=str(ARTIFACTS / f"explore_detail_{width}.png"))
        browser.close()
    assert not blocked, blocked[:5]


def test_the_error_legend_never_breaks_inside_a_label():
    """The bucket legend laid out at every width from a phone's column to a wide one: a label such as
    "750–2,500 km (continent)" never breaks across lines (the old legend did at 250-800 px)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    from app.explore.maps import bucket_legend

    broken = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 400})
        for w in range(250, 1010, 10):
            page.set_content(f'<body style="font-family:sans-serif;font-size:16px"><div style="width:{w}px">'
                             f"{bucket_legend()}</div></body>")
            if page.evaluate(LEGEND):
                broken.append(w)
        browser.close()
    assert not broken, broken


def test_the_paired_comparison_in_the_browser(server, tmp_path):
    """Issue 21: Explore's Compare tab, the shipped model's evaluation (A) against another evaluation of the same
    places (B, here the same answers 20 % closer, as another model's ``model.evaluate --out`` would write), at
    1400 px: the paired headline and per-country tables drawn, every column in view."""
    import numpy as np
    import pandas as pd
    from playwright.sync_api import sync_playwright

    src = REPO / "assets" / "models" / "default.eval" / "predictions.csv.gz"
    p = pd.read_csv(src, keep_default_na=False, dtype=str)
    d = pd.to_numeric(p["loc_distance_km"], errors="coerce") * 0.8
    p["loc_distance_km"] = d.map(lambda v: "" if v != v else f"{v:.6f}")
    p["loc_score"] = (5000 * np.exp(-d / 1492.7)).map(lambda v: "" if v != v else f"{v:.6f}")
    b = tmp_path / "closer"
    b.mkdir()
    p.to_csv(b / "predictions.csv", index=False)
    blocked: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = _page(browser, 1400, blocked)
        page.goto(server + "/explore")
        page.get_by_text("pass the filters").first.wait_for()
        page.get_by_role("tab", name="Compare").click()
        page.wait_for_selector(IDLE)
        page.locator(".st-key-ex_cmp_pick input").click()
        page.get_by_role("option", name="Another folder…").click()
        page.wait_for_selector(IDLE)
        box = page.locator(".st-key-ex_cmp_folder input")
        box.fill(str(b))
        box.press("Enter")
        page.get_by_text("places in both").first.wait_for()
        page.wait_for_selector(IDLE)
        head = _grid(page, "B − A (95% CI)")
        per = _grid(page, "Accuracy B")
        page.wait_for_timeout(800)
        for grid in (head, per):
            sc = grid.locator(".dvn-scroller").evaluate("el => [el.scrollWidth, el.clientWidth]")
            assert sc[0] <= sc[1] + 1, sc
        assert page.get_by_text("241 places in both").count() == 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "explore_compare_1400.png"))
        browser.close()
    assert not blocked, blocked[:5]
