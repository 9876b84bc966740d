"""The maps in a real browser (Debian's Chromium via Playwright), offline.

Most tests open a map's HTML from a small local web server that serves ``app/static/`` at ``/app/static/``
as Streamlit does (the context layers fetch their files, which ``file://`` pages cannot), at the map's real
size: the admin-1 borders draw, a town's label appears only after zooming in, the world fits in Play's
368-px map, pins are readable and never hidden (E beside M, "You" whole, the tooltip above the pin, no focus
box). The last two run the real app (``streamlit run``) and look inside streamlit-folium's iframe: it is
served by the app's own origin (``/component/...``), so ``/app/static/geo/...`` loads there too.
"""
from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from app.maps import builders as maps
from tests.e2e.test_e2e_browser import ARGS, CHROMIUM, IDLE, MAP, REPO, server  # noqa: F401 (the app's fixture)

pytestmark = pytest.mark.e2e
STATIC = REPO / "app" / "static"
FIND_MAP = "Object.values(window).find(v => v instanceof L.Map)"
AUSTRALIA, NEW_ZEALAND, JAPAN = [[-39.2, 113.2], [-10.7, 153.6]], [[-46.6, 166.5], [-34.4, 178.5]], [[31.0, 129.7], [45.5, 145.8]]


class _Handler(http.server.SimpleHTTPRequestHandler):
    root: Path = Path(".")

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0]
        if path.startswith("/app/static/"):
            return str(STATIC / path[len("/app/static/"):])
        return str(self.root / path.lstrip("/"))

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("maps")
    handler = type("H", (_Handler,), {"root": root})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_map(chromium, site, m, name: str, width: int, height: int):
    """A page showing map ``m`` at width x height px, offline (requests outside the local server fail)."""
    root, url = site
    (root / f"{name}.html").write_text(maps.map_html(m))  # the map fills the page: width x height
    page = chromium.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(url) else r.abort())
    page.set_default_timeout(60_000)
    page.goto(f"{url}/{name}.html")
    page.wait_for_function(f"() => window.L && {FIND_MAP} && window.GeoLayers")
    page.errors = errors
    return page


def view(page) -> dict:
    return page.evaluate(f"""() => {{ const m = {FIND_MAP}, b = m.getBounds();
        return {{zoom: m.getZoom(), s: b.getSouth(), w: b.getWest(), n: b.getNorth(), e: b.getEast()}}; }}""")


def inside(v: dict, box) -> bool:
    (s, w), (n, e) = box
    return v["s"] <= s and n <= v["n"] and v["w"] <= w and e <= v["e"]


def set_view(page, lat: float, lon: float, zoom: float) -> None:
    page.evaluate(f"() => {{ {FIND_MAP}.setView([{lat}, {lon}], {zoom}, {{animate: false}}); }}")
    page.wait_for_timeout(300)


def label_names(page) -> list[str]:
    return page.locator(".geo-place span").all_inner_texts()


def test_world_fits_in_plays_map_at_its_width(chromium, site):
    from app.play import logic as pl

    for width, height in ((368, 440), (820, 500), (1300, 520)):
        page = open_map(chromium, site, pl.guess_map([]), f"world{width}", width, height)
        page.wait_for_timeout(300)
        v = view(page)
        for box in (AUSTRALIA, NEW_ZEALAND, JAPAN, [[-55.0, -80.0], [71.0, 30.0]]):  # + Cape Horn to Norway
            assert inside(v, box), (width, box, v)
        assert v["zoom"] >= (0.5 if width < 400 else 1.5), v  # as large as fits, not a fixed small zoom
        scale, credit = (page.locator(s).bounding_box() for s in (".leaflet-control-scale", ".leaflet-control-attribution"))
        assert scale["y"] + scale["height"] <= credit["y"] + 1, (width, scale, credit)  # the km scale is not under it
        assert not page.errors, page.errors
        page.close()


def test_admin1_borders_draw_and_town_labels_appear_by_zoom(chromium, site):
    page = open_map(chromium, site, maps.finish(maps.base_map()), "context", 900, 600)
    lines = "() => Object.values({m}._layers).filter(l => l instanceof L.Polyline && !(l instanceof L.Polygon)" \
            " && l.options.renderer && l.options.renderer instanceof L.Canvas).length".format(m=FIND_MAP)
    assert page.evaluate(lines) == 0 and label_names(page) == []  # the world at zoom ~1.6: no clutter
    set_view(page, 45.2, 16.0, 4)
    page.wait_for_function(lines + " > 100")
    page.locator(".geo-place span", has_text="Zagreb").wait_for()
    assert "Split" not in label_names(page)  # a 160,000-people town is not labelled at zoom 4
    n4 = len(label_names(page))
    canvas = page.locator(".leaflet-geo-lines-pane canvas")
    assert canvas.count() == 1 and canvas.evaluate("c => c.width * c.height") > 0
    set_view(page, 43.9, 16.2, 7)
    page.locator(".geo-place span", has_text="Split").wait_for()
    assert page.locator(".geo-place.geo-capital span", has_text="Zagreb").count() == 1
    assert len(label_names(page)) >= n4 // 4  # the view is 8x smaller, places are denser
    countries = page.evaluate(f"() => Object.values({FIND_MAP}._layers).filter(l => l instanceof L.Polygon).length")
    assert countries > 200  # the 1:50m borders replaced the 1:110m ones when zoomed in
    # the labels never overlap one another
    boxes = page.locator(".geo-place span").evaluate_all("els => els.map(e => { const r = e.getBoundingClientRect();"
                                                         " return [r.left, r.top, r.right, r.bottom]; })")
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] - 2 and b[0] < a[2] - 2 and a[1] < b[3] - 2 and b[1] < a[3] - 2), (a, b)
    assert not page.errors, page.errors
    page.close()


def test_pins_are_readable_and_never_hidden(chromium, site):
    m = maps.base_map(online_tiles=False)
    maps.add_marker(m, 45.81, 15.98, "best", "Expected-score guess", callout=True)
    maps.add_marker(m, 45.81, 15.98, "model", "Model's guess")  # the same point, drawn on top
    maps.add_marker(m, -25.0, 134.0, "guess", "Your pin")
    maps.finish(m)
    page = open_map(chromium, site, m, "pins", 900, 600)
    page.locator(".geo-marker-guess").wait_for()

    def box(sel: str) -> dict:
        return page.locator(sel).bounding_box()

    set_view(page, 45.81, 15.98, 5)
    e, mm = box(".geo-marker-best .geo-pin"), box(".geo-marker-model .geo-pin")
    assert e["x"] >= mm["x"] + mm["width"] or e["y"] + e["height"] <= mm["y"], (e, mm)  # E beside M, not under it
    set_view(page, -25.0, 134.0, 4)
    pin = page.locator(".geo-marker-guess .geo-pin")
    assert pin.inner_text() == "You"
    assert pin.evaluate("e => e.scrollWidth <= e.clientWidth && e.scrollHeight <= e.clientHeight")  # no clipping
    text = pin.evaluate("e => { const r = document.createRange(); r.selectNodeContents(e); const b = r.getBoundingClientRect();"
                        " return [b.left, b.right]; }")
    pb = pin.bounding_box()
    assert pb["x"] + 2 <= text[0] and text[1] <= pb["x"] + pb["width"] - 2  # "You" inside the pill's border
    pin.hover()
    tip = page.locator(".leaflet-tooltip").first
    tip.wait_for()
    assert tip.bounding_box()["y"] + tip.bounding_box()["height"] <= pb["y"] + 1  # above the pin, not over it
    # a click on a country leaves no focus box (Chromium drew a black rectangle around the clicked path)
    page.mouse.move(10, 300)
    au = page.evaluate(f"() => {{ const p = {FIND_MAP}.latLngToContainerPoint([-30, 122]); return [p.x, p.y]; }}")
    page.mouse.click(au[0], au[1])
    outline = page.evaluate("() => { const a = document.activeElement; return a && a.tagName !== 'BODY' ?"
                            " getComputedStyle(a).outlineStyle : 'none'; }")
    assert outline == "none", outline
    assert not page.errors, page.errors
    page.close()


def test_a_map_without_the_server_still_draws(chromium, site):
    """Opened from a file (no web server: the JSON fetches fail), the map still draws its borders and pins."""
    m = maps.base_map(online_tiles=False)
    maps.add_marker(m, 45.0, 16.0, "model", "M")
    maps.fit_to(m, [(45.0, 16.0)], min_span_deg=10)
    root, _ = site
    f = root / "file.html"
    f.write_text(maps.map_html(m).replace('"/app/static/', f'"{STATIC.as_uri()}/'))
    page = chromium.new_page(viewport={"width": 800, "height": 500})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f.as_uri())
    page.locator(".geo-marker-model").wait_for()
    page.wait_for_timeout(500)
    assert page.locator("path.leaflet-interactive").count() > 100  # 1:110m borders from the script file
    assert not errors, errors
    page.close()


# ----------------------------------------------------------------------------------- the real app
def test_predict_map_in_the_app_draws_context_layers_from_static_files(server, chromium, tmp_path):  # noqa: F811
    from tests.app.apphelpers import SHARED, jpeg_with_gps

    row = next(line.split(",") for line in (SHARED / "manifest.csv").read_text().splitlines()[1:]
               if ",test" in line and "gsv_strips," in line)
    photo = tmp_path / "street.jpg"
    photo.write_bytes(jpeg_with_gps(SHARED / row[0], float(row[6]), float(row[7])))
    page = chromium.new_page(viewport={"width": 1400, "height": 1600})
    geo, outside = [], []
    page.on("response", lambda r: geo.append((r.status, r.url)) if "/app/static/geo/" in r.url else None)
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("http://127.0.0.1", "data:", "blob:"))
               else (outside.append(r.request.url), r.abort()))
    page.set_default_timeout(120_000)
    page.goto(server)
    page.wait_for_selector(IDLE)
    page.locator("input[type=file]").first.set_input_files(str(photo))
    frame = page.frame_locator(MAP).first
    frame.locator(".geo-marker-model").wait_for()
    page.wait_for_selector(IDLE)
    iframe = next(f for f in page.frames if "streamlit_folium" in f.url)
    assert iframe.url.startswith(server + "/component/")  # same origin: /app/static/ is the app's
    assert iframe.evaluate("() => GeoLayers.base") == server + "/app/static/geo/"
    frame.locator(".leaflet-geo-lines-pane canvas").wait_for()  # admin-1 borders drawn (zoom >= 3)
    frame.locator(".geo-place span").first.wait_for()  # and place names
    v = iframe.evaluate("() => { const b = window.map.getBounds(); return [window.map.getZoom(), b.getNorth() - b.getSouth(),"
                        " b.getEast() - b.getWest()]; }")
    assert v[0] <= 6 and min(v[1], v[2]) >= 10, v  # the guesses with their surroundings, not a close-up
    assert {s for s, _ in geo} <= {200, 304} and any(u.endswith("admin1.json") for _, u in geo), geo
    assert not outside, outside[:3]
    page.close()


def test_play_world_map_fits_at_its_real_width(server, chromium):  # noqa: F811
    page = chromium.new_page(viewport={"width": 1400, "height": 1400})
    page.set_default_timeout(120_000)
    page.goto(server + "/play?seed=maps-e2e&region=world&rounds=1")
    page.get_by_role("button", name="Start game").click()
    page.wait_for_selector(IDLE)
    page.frame_locator(MAP).first.locator(".leaflet-container").wait_for()
    iframe = next(f for f in page.frames if "streamlit_folium" in f.url)
    iframe.wait_for_function("() => window.map && window.map.getSize().x > 0")
    page.wait_for_timeout(500)
    v = iframe.evaluate("() => { const m = window.map, b = m.getBounds(); return {width: m.getSize().x, zoom: m.getZoom(),"
                        " s: b.getSouth(), w: b.getWest(), n: b.getNorth(), e: b.getEast()}; }")
    assert v["width"] < 500, v  # the narrow column next to the photo
    for box in (AUSTRALIA, NEW_ZEALAND, JAPAN):
        assert inside(v, box), (box, v)
    page.close()


def test_a_reveal_frames_every_pin_whole(chromium, site):
    """The reveal map frames the truth, the player's and the model's pins with room for the pins
    themselves, also after its frame is resized: a "You" pin at the edge was cut in half (Sacramento vs
    southern Italy)."""
    from app.play import logic as pl
    from app.play.game import ModelMove, RoundResult

    res = RoundResult(index=0, location_id="x", truth=(38.58, -121.49), country="United States",
                      guess=(40.80, 17.88), model=ModelMove(47.0, -101.0), player_km=10273.0, model_km=2441.0,
                      player_score=5, model_score=974, timed_out=False, seconds=12.0, country_code="US")
    page = open_map(chromium, site, pl.reveal_map(res), "reveal", 900, 440)
    page.locator(".geo-marker-guess").wait_for()
    page.set_viewport_size({"width": 560, "height": 440})  # Streamlit sizes the map's iframe after it is drawn
    page.wait_for_timeout(500)
    frame = page.locator(".leaflet-container").bounding_box()
    for sel in (".geo-marker-guess .geo-pin", ".geo-marker-best .geo-pin", ".geo-marker-truth"):
        b = page.locator(sel).first.bounding_box()
        assert frame["x"] <= b["x"] and b["x"] + b["width"] <= frame["x"] + frame["width"], (sel, b, frame)
        assert frame["y"] <= b["y"] and b["y"] + b["height"] <= frame["y"] + frame["height"], (sel, b, frame)
    assert not page.errors, page.errors
    page.close()
