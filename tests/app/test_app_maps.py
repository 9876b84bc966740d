"""Map builders: offline assets only, markers, great circles, choropleth, point layers."""
from __future__ import annotations

import re

import folium
import pytest

from app.maps import builders as maps

CDN = re.compile(r"https?://(?!tile\.openstreetmap\.org)[^\"' )]+\.(?:js|css)", re.I)


def rendered(m: folium.Map) -> str:
    return maps.map_html(m)


def test_base_map_loads_only_vendored_leaflet():
    m = maps.finish(maps.base_map())
    html = rendered(m)
    assert maps.LEAFLET_JS in html and maps.LEAFLET_CSS in html
    assert not CDN.findall(html), CDN.findall(html)[:3]
    assert "Country borders (offline)" in html
    assert '"_tip":"France"' in html and "L.geoJson" in html
    assert maps.OfflineMap.default_js == [("leaflet", "/app/static/leaflet/leaflet.js")]


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
    layer = maps.add_country_choropleth(m, {"fr": 0.6, "ES": 0.3, "XX": 0.2, "DE": 0.0}, min_value=0.0)
    feats = layer.data["features"]
    assert sorted(f["properties"]["iso_a2"] for f in feats) == ["ES", "FR"]
    fr = next(f for f in feats if f["properties"]["iso_a2"] == "FR")
    assert fr["properties"]["fill"] == "#a63603" and fr["properties"]["value"] == "60.0%"
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
    m = maps.base_map(online_tiles=False)
    maps.fit_to(m, [(45, 16), (48, 2)], pad_deg=1)
    assert "fitBounds" in rendered(m)
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
