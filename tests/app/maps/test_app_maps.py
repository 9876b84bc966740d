"""Map builders: offline assets only, markers, great circles, choropleth, point layers; the static context
layers (files, sizes, label zooms), the world framing, the Predict map's framing and its E/M pins."""
from __future__ import annotations

import json
import math
import re
from types import SimpleNamespace

import folium
import pytest

from app.maps import builders as maps
from app.maps import topo

CDN = re.compile(r"https?://(?!tile\.openstreetmap\.org)[^\"' )]+\.(?:js|css)", re.I)


def rendered(m: folium.Map) -> str:
    return maps.map_html(m)


def test_base_map_loads_only_vendored_leaflet():
    m = maps.finish(maps.base_map())
    html = rendered(m)
    assert maps.LEAFLET_JS in html and maps.LEAFLET_CSS in html
    assert not CDN.findall(html), CDN.findall(html)[:3]
    assert "Country borders (offline)" in html and "GeoLayers.countries(" in html
    assert "GeoLayers.admin1(" in html and "GeoLayers.places(" in html
    assert '<script src="/app/static/geo/geolayers.js">' in html
    assert html.index("leaflet/leaflet.js") < html.index("geo/geolayers.js") < html.index("geo/countries-110m.js")
    assert maps.OfflineMap.default_js == [("leaflet", "/app/static/leaflet/leaflet.js")]
    assert "GeoLayers.countries(" in rendered(maps.base_map(context=False))
    assert "GeoLayers.admin1(" not in rendered(maps.base_map(context=False))


def test_vendored_leaflet_files_exist():
    static = maps.ROOT / "app" / "static" / "leaflet"
    assert (static / "leaflet.js").stat().st_size > 100_000
    assert (static / "leaflet.css").is_file()


def test_streamlit_folium_sees_no_cdn_links():
    """streamlit-folium loads every JSCSSMixin's default_js in order: one CDN script blanks the map offline."""
    import branca
    from folium.elements import JSCSSMixin

    m = maps.base_map()
    maps.add_marker(m, 1, 2, "truth", "t")
    maps.add_country_choropleth(m, {"FR": 0.5})
    maps.add_point_layer(m, [1.0], [2.0], name="p", values=[0.3])
    maps.finish(m)
    links = []

    def walk(el):
        if isinstance(el, branca.colormap.ColorMap):
            links.append("d3")
        if isinstance(el, JSCSSMixin):
            links.extend(u for _, u in el.default_js + el.default_css)
        for c in getattr(el, "_children", {}).values():
            walk(c)

    walk(m)
    assert links and all(u.startswith("/app/static/") for u in links), links


def test_online_tiles_optional_and_hidden_by_default():
    html = rendered(maps.base_map(online_tiles=True))
    assert "tile.openstreetmap.org" in html
    assert "tile.openstreetmap.org" not in rendered(maps.base_map(online_tiles=False))


@pytest.mark.parametrize("kind", sorted(maps.KIND_STYLES))
def test_marker_kinds_are_div_icons_with_distinct_colours(kind):
    m = maps.base_map(online_tiles=False)
    maps.add_marker(m, 45.0, 16.0, kind, "tip <script>")
    html = rendered(m)
    assert f"geo-marker-{kind}" in html and maps.KIND_STYLES[kind]["color"] in html
    assert "tip <script>" not in html and "tip &lt;script&gt;" in html
    colours = [s["color"] for s in maps.KIND_STYLES.values()]
    assert len(set(colours)) == len(colours)


def test_unknown_marker_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown marker kind"):
        maps.add_marker(maps.base_map(), 0, 0, "nope")


def test_great_circle_segments_cross_the_antimeridian():
    segs = maps.great_circle_segments(10.0, 170.0, 10.0, -170.0)
    assert len(segs) == 2
    assert segs[0][0][1] == pytest.approx(170.0) and segs[0][-1][1] == pytest.approx(190.0)
    assert segs[1][-1][1] == pytest.approx(-170.0)
    assert len(maps.great_circle_segments(45, 16, 48, 2)) == 1


def test_great_circle_line_is_drawn():
    m = maps.base_map(online_tiles=False)
    lines = maps.add_great_circle(m, 45, 16, 48, 2, tooltip="900 km")
    assert len(lines) == 1 and len(lines[0].locations) == 64
    assert "900 km" in rendered(m)


def test_choropleth_shades_only_given_countries():
    m = maps.base_map(online_tiles=False)
    layer = maps.add_country_choropleth(m, {"fr": 0.6, "ES": 0.3, "XX": 0.2, "DE": 0.0, "MT": 0.1}, min_value=0.0)
    assert sorted(layer.shading) == ["ES", "FR", "MT"]  # Malta: only in the 1:50m borders, still shaded
    assert layer.shading["FR"]["fill"] == "#a63603" and layer.shading["FR"]["value"] == "60.0%"
    assert layer.shading["FR"]["tip"] == "France: P(country) 60.0%"
    html = rendered(maps.finish(m))
    assert '"FR": {"fill": "#a63603"' in html and '"fillOpacity": 0.4' in html  # light: context shows through
    assert maps.add_country_choropleth(m, {"XX": 1.0}) is None
    assert maps.add_country_choropleth(m, {}) is None


def test_mix_color_endpoints_and_clipping():
    assert maps.mix_color(0) == "#fff5eb" and maps.mix_color(1) == "#a63603"
    assert maps.mix_color(-3) == "#fff5eb" and maps.mix_color(7) == "#a63603"
    assert maps.mix_color(0.5, "#000000", "#ffffff") == "#808080"


def test_point_layer_sizes_and_colours_by_value():
    m = maps.base_map(online_tiles=False)
    layer = maps.add_point_layer(m, [1, 2, 3], [4, 5, 6], name="errs", values=[0, 5, 10],
                                 tooltips=["a", "b", "<c>"], scale_radius=(2, 12), show=False)
    feats = layer.data["features"]
    assert [f["properties"]["_style"]["radius"] for f in feats] == [2, 7, 12]
    assert feats[0]["properties"]["_style"]["fillColor"] == "#fff5eb"
    assert feats[2]["properties"]["_tip"] == "&lt;c&gt;" and feats[1]["geometry"]["coordinates"] == [5.0, 2.0]
    html = rendered(maps.finish(m))
    assert "L.circleMarker" in html and '"errs"' in html
    with pytest.raises(ValueError):
        maps.add_point_layer(m, [1], [1, 2], name="bad")


def test_fit_to_and_legend():
    world = maps.base_map(online_tiles=False)
    assert "GeoLayers.fitWorld(" in rendered(world) and "fitBounds" not in rendered(world)  # the world, any width
    assert maps.fitted_bounds(world) is None
    m = maps.base_map(online_tiles=False)
    assert maps.fit_to(m, [(45, 16), (48, 2)], pad_deg=1) == [[44.0, 1.0], [49.0, 17.0]]
    html = rendered(m)
    assert "fitBounds" in html and "GeoLayers.fitWorld(" not in html  # framed on the points instead
    assert maps.fitted_bounds(m) == [[44.0, 1.0], [49.0, 17.0]]
    maps.fit_to(m, [])  # no-op
    legend = maps.legend_markdown(["truth", "guess"])
    assert "Actual location" in legend and "Your guess" in legend


def test_antimeridian_rings_are_unwrapped():
    ring = [[178, -17], [180, -17], [-180, -16], [-179, -16], [180, -16.5], [178, -17]]
    out = maps.unwrap_ring(ring)
    assert [p[0] for p in out] == [178, 180, 180, 181, 180, 178]
    pole = [[-180, -85], [0, -80], [180, -85], [-180, -85]]
    assert maps.unwrap_ring(pole) == pole  # odd jumps: encloses a pole, unchanged
    gj = maps.countries_geojson("110m")
    for f in gj["features"]:
        if f["properties"]["name"] in ("Fiji", "Russia"):
            polys = f["geometry"]["coordinates"]
            polys = [polys] if f["geometry"]["type"] == "Polygon" else polys
            for poly in polys:
                for r in poly:
                    assert all(abs(b[0] - a[0]) <= 180 for a, b in zip(r, r[1:]))


def test_fit_bounds_widen_tight_groups_to_show_their_surroundings():
    b = maps.fit_bounds_of([(45.8, 15.9), (45.3, 14.4)], pad_deg=1.0, min_span_deg=16)
    (s, w), (n, e) = b
    assert n - s == pytest.approx(16) and e - w == pytest.approx(16)
    assert s < 45.3 < 45.8 < n and w < 14.4 < 15.9 < e
    wide = maps.fit_bounds_of([(-33.9, 151.2), (40.7, -74.0)], pad_deg=2, min_span_deg=16)
    assert wide == [[-35.9, -76.0], [42.7, 153.2]]  # already wide: only padded
    assert maps.fit_bounds_of([(84.5, 179.5)], pad_deg=2) == [[82.5, 177.5], [85.0, 180.0]]  # clipped
    assert maps.fit_bounds_of([]) is None


# ----------------------------------------------------------------------------------- static layers
GEO_FILES = {"geolayers.js": 30_000, "countries-110m.js": 200_000, "countries-50m.json": 1_200_000,
             "admin1.json": 1_200_000, "places.json": 1_500_000}


def load_static(name: str):
    text = maps.static_file(name).read_text(encoding="utf-8")
    if name == "countries-110m.js":
        m = re.fullmatch(r'window\.GEO_DATA=window\.GEO_DATA\|\|\{\};GEO_DATA\["countries-110m"\]=(.*);\s*', text, re.S)
        assert m, "countries-110m.js must only register its topology"
        text = m.group(1)
    return json.loads(text)


@pytest.mark.parametrize("name,limit", sorted(GEO_FILES.items()))
def test_static_geo_files_exist_and_are_small(name, limit):
    size = maps.static_file(name).stat().st_size
    assert 1_000 < size <= limit, f"{name}: {size:,} bytes"
    total = sum(maps.static_file(n).stat().st_size for n in GEO_FILES)
    assert total < 4_000_000


def test_country_topologies_decode_to_the_bundled_borders():
    for name, res, n in (("countries-110m.js", "110m", 177), ("countries-50m.json", "50m", 241)):
        t = load_static(name)
        feats = topo.decode(t, "countries")
        assert len(feats) >= n - 2, name
        by_iso = {f["properties"]["iso"]: f for f in feats}
        src = {f["properties"]["iso_a2"]: f for f in maps.countries_geojson(res)["features"]}
        for iso in ("FR", "HR", "AU", "NZ", "JP", "US", "BR"):
            got = [p for poly in by_iso[iso]["geometry"]["coordinates"] for ring in poly for p in ring]
            g = src[iso]["geometry"]
            polys = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
            want = [p for poly in polys for ring in poly for p in ring]
            for i in (0, 1):  # same extent within the quantization step
                assert min(p[i] for p in got) == pytest.approx(min(p[i] for p in want), abs=0.011), (name, iso)
                assert max(p[i] for p in got) == pytest.approx(max(p[i] for p in want), abs=0.011), (name, iso)
        for f in feats:  # antimeridian-safe: no ring jumps across the world (but Antarctica's, around the pole)
            if f["properties"]["iso"] == "AQ":
                continue
            for poly in f["geometry"]["coordinates"]:
                for ring in poly:
                    assert all(abs(b[0] - a[0]) <= 180 for a, b in zip(ring, ring[1:])), f["properties"]["name"]
                    assert ring[0] == ring[-1] and len(ring) >= 4


def test_admin1_lines_draw_first_level_borders():
    t = load_static("admin1.json")
    assert set(t["objects"]) == {"admin1", "admin1_fine"}
    lines = [line for f in topo.decode(t, "admin1") for line in f["geometry"]["coordinates"]]
    assert 3_000 < len(lines) < 20_000

    def near(lat: float, lon: float, km: float = 12.0) -> bool:  # some segment passes within km of the point
        k = math.cos(math.radians(lat))
        for line in lines:
            for (x1, y1), (x2, y2) in zip(line, line[1:]):
                ax, ay, bx, by = (x1 - lon) * k, y1 - lat, (x2 - lon) * k, y2 - lat
                t = max(0.0, min(1.0, -(ax * (bx - ax) + ay * (by - ay)) / (((bx - ax) ** 2 + (by - ay) ** 2) or 1e-12)))
                if math.hypot(ax + t * (bx - ax), ay + t * (by - ay)) * 111.2 < km:
                    return True
        return False

    # the Utah-Colorado border (109.05 W), the Bavaria-Baden-Wuerttemberg border near Ulm, New South Wales-Victoria
    assert near(39.0, -109.05) and near(48.4, 10.0) and near(-35.9, 147.5)
    assert not near(47.5, -30.0, km=300)  # nothing in the middle of the Atlantic


def test_place_labels_appear_by_zoom_without_overlapping():
    from assets.geo.build_layers import MIN_POP, label_box, mercator_px  # noqa: F401 (thresholds documented there)

    d = load_static("places.json")
    assert d["fields"] == ["name", "lat", "lon", "minzoom", "capital"]
    rows = d["rows"]
    assert [r[3] for r in rows] == sorted(r[3] for r in rows)  # sorted by minzoom: the browser stops early
    capitals = {r[0]: r for r in rows if r[4]}
    for capital in ("Paris", "Tokyo", "Canberra", "Zagreb", "Wellington", "Brasília"):
        assert capitals[capital][3] <= 4, capital
    split = [r for r in rows if r[0] == "Split" and abs(r[1] - 43.51) < 0.1]
    assert len(split) == 1 and split[0][3] >= 5 and split[0][4] == 0  # a 160k town: only when zoomed in
    assert 20_000 < len(rows) < 40_000 and min(r[3] for r in rows) == 2
    assert sum(1 for r in rows if r[3] == 2) < 150  # a readable world map
    for z in (3, 5, 7):  # no two labels shown at zoom z overlap (same boxes as the build)
        boxes = sorted(label_box(r[0], *mercator_px(r[1], r[2], z), bool(r[4])) for r in rows if r[3] <= z)
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:i + 40]:
                if b[0] >= a[2] - 0.5:
                    break
                assert not (a[1] + 0.5 < b[3] and b[1] + 0.5 < a[3]), (z, a, b)  # 0.5 px: coordinates rounded


def test_topology_round_trip():
    feats = [{"type": "Feature", "properties": {"iso": "XX"}, "geometry": {"type": "Polygon", "coordinates": [
        [[10.0, 40.0], [11.004, 40.0], [11.0, 41.0], [10.0, 40.0]], [[10.2, 40.1], [10.2, 40.1], [10.2, 40.1]]]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}]
    t = topo.encode({"x": feats}, 0.01)
    out = topo.decode(t, "x")
    assert out[0]["properties"] == {"iso": "XX"} and out[0]["geometry"]["type"] == "MultiPolygon"
    assert out[0]["geometry"]["coordinates"] == [[[[10.0, 40.0], [11.0, 40.0], [11.0, 41.0], [10.0, 40.0]]]]  # hole gone
    assert out[1]["geometry"] == {"type": "LineString", "coordinates": [[0.0, 0.0], [1.0, 1.0]]}
    assert t["arcs"][0][1] == [100, 0]  # delta-encoded
    with pytest.raises(ValueError):
        topo.encode({"x": [{"geometry": {"type": "Point", "coordinates": [0, 0]}}]}, 0.01)


# ----------------------------------------------------------------------------------- map HTML size
def test_map_html_carries_no_borders():
    """The borders were inlined into every map (~200 KB for the base layer, more with shading): now a map's
    HTML is its own data only, and the geometry comes from files the browser caches."""
    m = maps.base_map()
    maps.add_country_choropleth(m, {f["properties"]["iso_a2"]: 0.5 for f in maps.countries_geojson("50m")["features"]
                                    if f["properties"]["iso_a2"]})
    maps.add_marker(m, 45.0, 16.0, "model", "M")
    html = rendered(maps.finish(m))
    assert len(html) < 60_000, len(html)
    assert "MultiPolygon" not in html and "coordinates" not in html
    assert len(rendered(maps.finish(maps.base_map()))) < 12_000


# ----------------------------------------------------------------------------------- pins
def boxes_overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_callout_pin_clears_a_pin_on_the_same_point():
    m_box = maps.icon_box("model", 24)
    e_box = maps.icon_box("best", 24, callout=True)
    assert not boxes_overlap(m_box, e_box)
    assert boxes_overlap(m_box, maps.icon_box("best", 24))  # centred, it would hide under M
    assert not boxes_overlap(maps.icon_box("truth", 26), e_box)
    m = maps.base_map(online_tiles=False)
    maps.add_marker(m, 45.0, 16.0, "best", "E", callout=True)
    html = rendered(m)
    assert "geo-marker-best geo-marker-callout" in html and "\\u003csvg" in html and '"iconAnchor": [3,' in html


def test_you_pin_is_wide_enough_for_its_label():
    w = maps.pin_width("You", 24)
    assert w >= 8 * 3 + 14  # bold 11-px glyphs are ~7-8 px wide; 2-px border and 3-px padding on each side
    html = rendered(maps.add_marker(maps.base_map(online_tiles=False), 1, 2, "guess").get_root())
    assert f"width:{w}px" in html and "border-radius:12px" in html  # a pill, not an ellipse that clips "Y"


def test_marker_tooltips_sit_above_the_pin_on_hover():
    m = maps.base_map(online_tiles=False)
    maps.add_marker(m, 45.0, 16.0, "guess", "Your pin")
    html = rendered(m)
    assert re.search(r'"direction": "top",\s*"offset": \[0, -1\d\],\s*"sticky": false', html)
    assert ":focus:not(:focus-visible)" in html and "outline:none" in html  # no black box on a clicked country


# ----------------------------------------------------------------------------------- the Predict map
def fake_pred(m_latlon, e_latlon, guesses):
    top = [SimpleNamespace(name=f"P{i}", country_code="HR", country="Croatia", admin1="", lat=a, lon=b, prob=0.3 / (i + 1),
                           cell_id=i) for i, (a, b) in enumerate(guesses)]
    return SimpleNamespace(top=top, lat=m_latlon[0], lon=m_latlon[1], best_lat=e_latlon[0], best_lon=e_latlon[1],
                           country_code="HR", country="Croatia", country_probs=[("HR", "Croatia", 0.7), ("SI", "Slovenia", 0.2)],
                           expected_km=100.0, refined=False)


def test_prediction_map_frames_every_guess_with_surroundings():
    from app.common import result_map as rmap
    from app.common.results import Truth

    guesses = [(45.81, 15.98), (45.33, 14.44), (43.51, 16.44), (42.65, 18.09), (46.05, 14.51)]
    pred = fake_pred(guesses[0], (45.5, 15.5), guesses)
    truth = Truth(44.87, 13.85, "test")
    m = rmap.prediction_map(pred, truth, 5)
    (s, w), (n, e) = maps.fitted_bounds(m)
    for lat, lon in guesses + [(pred.lat, pred.lon), (pred.best_lat, pred.best_lon), (truth.lat, truth.lon)]:
        assert s < lat < n and w < lon < e
    assert n - s >= rmap.MAP_MIN_SPAN_DEG and e - w >= rmap.MAP_MIN_SPAN_DEG  # not a close-up of Croatia
    html = rendered(m)
    assert f'maxZoom: {rmap.MAP_MAX_ZOOM}' in html
    far = rmap.prediction_map(fake_pred((-33.9, 151.2), (-33.9, 151.2), [(-33.9, 151.2), (40.7, -74.0)]), None, 2)
    (s, w), (n, e) = maps.fitted_bounds(far)
    assert s < -33.9 and n > 40.7 and w < -74.0 and e > 151.2


def test_prediction_map_e_pin_does_not_hide_under_m():
    from app.common import result_map as rmap

    same = (45.81, 15.98)
    html = rendered(rmap.prediction_map(fake_pred(same, same, [same]), None, 1))
    assert "geo-marker-best geo-marker-callout" in html  # E on a stem, up and right of its point
    assert html.index("geo-marker-best") < html.index("geo-marker-model")  # and M drawn last, on its point
