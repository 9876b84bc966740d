"""The clustered error map in a real browser (Debian's Chromium via Playwright), offline: the vendored
Leaflet and Leaflet.markercluster load from app/static, no script fails (markercluster throws when the
map has no maxZoom), clusters and dots are drawn. No server needed: the map's HTML is opened as a file."""
from __future__ import annotations

from tests.shared import REPO
import os
from pathlib import Path

import pytest

from app.explore.maps import errors_map
from app.maps.builders import map_html
from tests.app.explore.conftest import ten_locations

pytestmark = pytest.mark.e2e
STATIC = REPO / "app" / "static"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def test_clustered_map_renders_offline(tmp_path):
    locs = ten_locations()
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    many = locs[locs["true_lat"].notna()].copy()  # ten dots close together -> clusters at world zoom
    html = map_html(errors_map(many, many.iloc[0])).replace('"/app/static/', f'"{STATIC.as_uri()}/')
    page_file = tmp_path / "map.html"
    page_file.write_text(html)
    errors, outside = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 900, "height": 600})
        page.on("pageerror", lambda e: errors.append(str(e)))

        def route(r):
            if r.request.url.startswith("file://"):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(page_file.as_uri())
        page.wait_for_function("typeof L !== 'undefined' && typeof L.markerClusterGroup === 'function'", timeout=30000)
        page.wait_for_selector(".geo-marker-truth", timeout=30000)
        page.wait_for_timeout(500)  # clusters are drawn after the markers are added
        n_clusters = page.locator(".geo-cluster-ring").count()
        n_markers = page.locator(".geo-marker-truth, .geo-marker-model").count()
        browser.close()
    assert not errors, errors
    assert not [u for u in outside if not u.startswith("https://tile.openstreetmap.org")], outside
    assert n_clusters >= 1 and n_markers == 2  # dots clustered; the selection's truth and guess drawn
