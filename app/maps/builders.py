"""Folium map builders that work offline (no Streamlit import: unit-testable).

Every map is an :class:`OfflineMap`: Leaflet is loaded from the app's own static files
(``/app/static/leaflet/``, served by Streamlit's ``server.enableStaticServing``), the base layer is
the bundled Natural Earth country GeoJSON, and OpenStreetMap tiles are an optional layer, hidden
by default, for users who are online. Markers use ``DivIcon`` (inline HTML/CSS) or ``CircleMarker``
so nothing is fetched from a CDN; do not add ``folium.Icon``, plugins or branca colormaps (they pull
CDN scripts, and one failing script leaves a streamlit-folium map blank).

Typical use::

    m = base_map()
    add_country_choropleth(m, {"FR": 0.6, "ES": 0.3})
    add_marker(m, 48.85, 2.35, "truth", "Actual location")
    add_marker(m, 40.4, -3.7, "model", "Model guess")
    add_great_circle(m, 40.4, -3.7, 48.85, 2.35, tooltip="1,054 km")
    fit_to(m, [(48.85, 2.35), (40.4, -3.7)])
    finish(m)  # adds the layer switcher; call last

All coordinates are WGS-84 degrees (lat, lon); distances are km.
"""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Callable, Iterable, Sequence

import folium

from app.maps.layers import (IconPath, JsonLayer, _base_text, countries_geojson, fix_antimeridian,  # noqa: F401
                            unwrap_ring)
from model.geo import great_circle_points

ROOT = Path(__file__).resolve().parents[2]
STATIC_URL = "/app/static"  # where Streamlit serves app/static/ when enableStaticServing is on
LEAFLET_JS = f"{STATIC_URL}/leaflet/leaflet.js"
LEAFLET_CSS = f"{STATIC_URL}/leaflet/leaflet.css"
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTR = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
OCEAN = "#dbe9f4"
LAND = "#f4f1ea"
BORDER = "#9a9486"

# Marker kinds: colour, glyph and shape. Shared by every page so that a colour means the same thing.
KIND_STYLES: dict[str, dict[str, str]] = {
    "truth": {"color": "#1a9641", "glyph": "&#9733;", "shape": "50%", "label": "Actual location"},
    "model": {"color": "#d7191c", "glyph": "M", "shape": "50%", "label": "Model's predicted place"},
    "best": {"color": "#7b3294", "glyph": "E", "shape": "4px", "label": "Model's expected-score guess"},
    "guess": {"color": "#2c7bb6", "glyph": "You", "shape": "50%", "label": "Your guess"},
    "candidate": {"color": "#fdae61", "glyph": "", "shape": "50%", "label": "Other top-N guesses"},
}


class OfflineMap(folium.Map):
    """A ``folium.Map`` whose only external assets are the vendored Leaflet JS and CSS."""

    default_js = [("leaflet", LEAFLET_JS)]
    default_css = [("leaflet_css", LEAFLET_CSS)]


def base_map(center: tuple[float, float] = (20.0, 10.0), zoom: int = 2, *, online_tiles: bool = True,
             show_tiles: bool = False, resolution: str = "110m", height: str | int = "100%",
             min_zoom: int = 1) -> folium.Map:
    """World map with the bundled country borders as the base layer (works offline).

    ``online_tiles`` adds OpenStreetMap tiles as an optional layer (shown if ``show_tiles``).
    ``center`` (lat, lon) in degrees; ``zoom`` a Leaflet zoom level.
    """
    # keyboard=False: Leaflet's keyboard handler focuses the map on mousedown, and focusing the map's iframe
    # scrolls a partly hidden map into view between mousedown and mouseup, so the first click landed ~70 px
    # off its target (a missed dot on Explore, a misplaced pin in Play). Panning and zooming stay on the mouse.
    m = OfflineMap(location=list(center), zoom_start=zoom, tiles=None, min_zoom=min_zoom, keyboard=False,
                   world_copy_jump=True, control_scale=True, height=height, prefer_canvas=False)
    IconPath(f"{STATIC_URL}/leaflet/images/").add_to(m)
    m.get_root().header.add_child(folium.Element(
        f"<style>.leaflet-container{{background:{OCEAN};}}"
        ".geo-pin{display:flex;align-items:center;justify-content:center;color:#fff;font:bold 11px/1 "
        "sans-serif;border:2px solid #fff;box-shadow:0 0 3px rgba(0,0,0,.6);box-sizing:border-box;}</style>"))
    if online_tiles:
        folium.TileLayer(OSM_TILES, attr=OSM_ATTR, name="OpenStreetMap (online)", overlay=True,
                         control=True, show=show_tiles, max_zoom=19).add_to(m)
    JsonLayer(_base_text(resolution), name="Country borders (offline)",
              style={"fillColor": LAND, "color": BORDER, "weight": 0.7, "fillOpacity": 0.85}).add_to(m)
    return m


def _div_icon(kind: str, size: int, text: str | None = None) -> folium.DivIcon:
    st = KIND_STYLES[kind]
    glyph = st["glyph"] if text is None else html.escape(text)
    width = max(size, 9 * len(html.unescape(glyph)) + 8) if len(html.unescape(glyph)) > 1 else size
    body = (f'<div class="geo-pin geo-{kind}" style="width:{width}px;height:{size}px;'
            f'background:{st["color"]};border-radius:{st["shape"]};">{glyph}</div>')
    return folium.DivIcon(html=body, icon_size=(width, size), icon_anchor=(width // 2, size // 2),
                          class_name=f"geo-marker geo-marker-{kind}")


def add_marker(m: folium.Map | folium.FeatureGroup, lat: float, lon: float, kind: str,
               tooltip: str | None = None, *, popup: str | None = None, text: str | None = None,
               size: int = 24) -> folium.Marker:
    """A DivIcon marker of a kind in :data:`KIND_STYLES` (truth, model, best, guess, candidate).

    ``tooltip``/``popup`` are plain text (escaped); ``text`` overrides the glyph drawn in the pin.
    """
    if kind not in KIND_STYLES:
        raise ValueError(f"unknown marker kind {kind!r}; use one of {sorted(KIND_STYLES)}")
    mk = folium.Marker(location=[float(lat), float(lon)], icon=_div_icon(kind, size, text),
                       tooltip=html.escape(tooltip) if tooltip else None,
                       popup=folium.Popup(html.escape(popup), max_width=300) if popup else None)
    mk.add_to(m)
    return mk


def add_circle(m: folium.Map | folium.FeatureGroup, lat: float, lon: float, *, radius: float = 6.0,
               color: str = KIND_STYLES["candidate"]["color"], fill_opacity: float = 0.8,
               tooltip: str | None = None, weight: float = 1.0) -> folium.CircleMarker:
    """A CircleMarker (``radius`` in screen pixels) with a dark outline."""
    cm = folium.CircleMarker(location=[float(lat), float(lon)], radius=float(radius), color="#333333",
                             weight=weight, fill=True, fill_color=color, fill_opacity=fill_opacity,
                             tooltip=html.escape(tooltip) if tooltip else None)
    cm.add_to(m)
    return cm


def _shifted(points: Sequence[tuple[float, float]], dlon: float) -> list[tuple[float, float]]:
    return [(la, lo + dlon) for la, lo in points]


def great_circle_segments(lat1: float, lon1: float, lat2: float, lon2: float,
                          n: int = 64) -> list[list[tuple[float, float]]]:
    """Polylines (lists of (lat, lon)) drawing the great circle from point 1 to point 2.

    Longitudes are continuous (they may leave -180..180 when the path crosses the antimeridian); in
    that case a copy shifted by 360 degrees is added so that the line meets both markers.
    """
    pts = great_circle_points(lat1, lon1, lat2, lon2, n=n)
    segs = [pts]
    lons = [p[1] for p in pts]
    if max(lons) > 180:
        segs.append(_shifted(pts, -360.0))
    elif min(lons) < -180:
        segs.append(_shifted(pts, 360.0))
    return segs


def add_great_circle(m: folium.Map | folium.FeatureGroup, lat1: float, lon1: float, lat2: float,
                     lon2: float, *, color: str = "#333333", weight: float = 2.5, dash_array: str | None = "6 6",
                     tooltip: str | None = None, opacity: float = 0.9) -> list[folium.PolyLine]:
    """Great-circle line(s) from (lat1, lon1) to (lat2, lon2), in degrees."""
    lines = []
    for seg in great_circle_segments(lat1, lon1, lat2, lon2):
        pl = folium.PolyLine(seg, color=color, weight=weight, opacity=opacity, dash_array=dash_array,
                             tooltip=html.escape(tooltip) if tooltip else None)
        pl.add_to(m)
        lines.append(pl)
    return lines


def mix_color(t: float, low: str = "#fff5eb", high: str = "#a63603") -> str:
    """Hex colour at ``t`` in 0..1 on the straight line from ``low`` to ``high`` (clipped)."""
    t = min(1.0, max(0.0, float(t)))
    a = [int(low[i:i + 2], 16) for i in (1, 3, 5)]
    b = [int(high[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


def add_country_choropleth(m: folium.Map, values: dict[str, float], *, name: str = "P(country)",
                           fmt: Callable[[float], str] = lambda v: f"{v:.1%}", vmax: float | None = None,
                           min_value: float = 0.0, low: str = "#fff5eb", high: str = "#a63603",
                           resolution: str = "110m", show: bool = True) -> JsonLayer | None:
    """Shade countries by ``values`` ({ISO 3166-1 alpha-2: value}); others are left to the base layer.

    Colour runs from ``low`` (0) to ``high`` (``vmax``, default the largest value); countries with a
    value <= ``min_value`` are omitted (keeps the map small). Tooltip: country name and ``fmt(value)``.
    Returns the layer, or None if no country qualifies.
    """
    vals = {str(k).upper(): float(v) for k, v in values.items() if v is not None and float(v) > min_value}
    if not vals:
        return None
    top = vmax if vmax and vmax > 0 else max(vals.values())
    feats = []
    for f in countries_geojson(resolution)["features"]:
        code = f["properties"].get("iso_a2", "")
        if code in vals:
            fill = mix_color(vals[code] / top, low, high)
            f["properties"] = {**f["properties"], "value": fmt(vals[code]), "fill": fill,
                               "_tip": f"{html.escape(f['properties'].get('name', code))}: {html.escape(name)} "
                                       f"{html.escape(fmt(vals[code]))}",
                               "_style": {"fillColor": fill, "color": "#7f2704", "weight": 0.8, "fillOpacity": 0.75}}
            feats.append(f)
    if not feats:
        return None
    data = {"type": "FeatureCollection", "features": feats}
    layer = JsonLayer(json.dumps(data, separators=(",", ":")), name=name, show=show, data=data)
    layer.add_to(m)
    return layer


def add_point_layer(m: folium.Map, lats: Sequence[float], lons: Sequence[float], *, name: str,
                    values: Sequence[float] | None = None, tooltips: Sequence[str] | None = None,
                    colors: Sequence[str] | str | None = None, radius: float | Sequence[float] = 5.0,
                    scale_radius: tuple[float, float] | None = None, show: bool = True,
                    fill_opacity: float = 0.75) -> JsonLayer:
    """A toggleable layer of circle markers (e.g. cell probabilities, test-set errors), drawn from
    one GeoJSON collection so thousands of points stay fast.

    ``values`` (optional) colour the points from light to dark (``mix_color``) unless ``colors`` is
    given; ``scale_radius=(rmin, rmax)`` sizes them by value instead of a fixed ``radius`` (pixels).
    ``tooltips`` are plain text (escaped).
    """
    n = len(lats)
    if len(lons) != n:
        raise ValueError("lats and lons differ in length")
    vals = [float(v) for v in values] if values is not None else None
    vmax = max(vals) if vals else 0.0
    vmin = min(vals) if vals else 0.0
    feats = []
    for i in range(n):
        t = (vals[i] - vmin) / (vmax - vmin) if vals and vmax > vmin else 1.0
        if isinstance(colors, str):
            c = colors
        elif colors is not None:
            c = colors[i]
        else:
            c = mix_color(t)
        if scale_radius and vals:
            r = scale_radius[0] + (scale_radius[1] - scale_radius[0]) * t
        elif isinstance(radius, (int, float)):
            r = radius
        else:
            r = radius[i]
        props = {"_style": {"radius": float(r), "fillColor": c, "color": "#333333", "weight": 0.6,
                            "fill": True, "fillOpacity": fill_opacity}}
        if tooltips is not None:
            props["_tip"] = html.escape(str(tooltips[i]))
        feats.append({"type": "Feature", "properties": props,
                      "geometry": {"type": "Point", "coordinates": [float(lons[i]), float(lats[i])]}})
    data = {"type": "FeatureCollection", "features": feats}
    layer = JsonLayer(json.dumps(data, separators=(",", ":")), name=name, show=show, data=data)
    layer.add_to(m)
    return layer


def fit_to(m: folium.Map, points: Iterable[tuple[float, float]], *, pad_deg: float = 2.0,
           max_zoom: int = 7) -> None:
    """Zoom the map to show all ``points`` (lat, lon) with ``pad_deg`` degrees of margin."""
    pts = [(float(a), float(b)) for a, b in points]
    if not pts:
        return
    lats, lons = [p[0] for p in pts], [p[1] for p in pts]
    sw = [max(-85.0, min(lats) - pad_deg), max(-180.0, min(lons) - pad_deg)]
    ne = [min(85.0, max(lats) + pad_deg), min(180.0, max(lons) + pad_deg)]
    m.fit_bounds([sw, ne], max_zoom=max_zoom)


def finish(m: folium.Map) -> folium.Map:
    """Add the layer switcher (call once, after all layers). Returns ``m``."""
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    return m


def legend_markdown(kinds: Sequence[str]) -> str:
    """HTML legend for the given marker kinds (render with ``st.markdown(..., unsafe_allow_html=True)``)."""
    items = []
    for k in kinds:
        st = KIND_STYLES[k]
        items.append(f'<span style="display:inline-block;width:12px;height:12px;background:{st["color"]};'
                     f'border-radius:{st["shape"]};margin:0 4px 0 10px;vertical-align:middle"></span>'
                     f'{html.escape(st["label"])}')
    return '<div style="font-size:0.85rem">' + "".join(items) + "</div>"


def map_html(m: folium.Map) -> str:
    """The full standalone HTML of a map (for tests and downloads)."""
    return m.get_root().render()
