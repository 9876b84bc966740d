"""Folium map builders that work offline (no Streamlit import: unit-testable).

Every map is an :class:`OfflineMap`: Leaflet is loaded from the app's own static files
(``/app/static/leaflet/``, served by Streamlit's ``server.enableStaticServing``). The base layer (Natural
Earth countries), the first-level admin borders and the place labels are drawn in the browser by
``/app/static/geo/geolayers.js`` from static files the browser caches (``app/static/geo/``, built by
``assets/geo/build_layers.py``), so a map's HTML carries only its own data (markers, lines, shading
values): kilobytes, not the world's borders. OpenStreetMap tiles are an optional layer, hidden by
default, for users who are online. Markers use ``DivIcon`` (inline HTML/CSS) or ``CircleMarker`` so
nothing is fetched from a CDN; do not add ``folium.Icon``, plugins or branca colormaps (they pull CDN
scripts, and one failing script leaves a streamlit-folium map blank).

A new map frames the inhabited world at its real width (fractional zoom); :func:`fit_to` frames given
points instead.

Typical use::

    m = base_map()
    add_country_choropleth(m, {"FR": 0.6, "ES": 0.3})
    add_marker(m, 48.85, 2.35, "truth", "Actual location")
    add_marker(m, 40.4, -3.7, "model", "Model guess")
    add_great_circle(m, 40.4, -3.7, 48.85, 2.35, tooltip="1,054 km")
    fit_to(m, [(48.85, 2.35), (40.4, -3.7)], min_span_deg=20)
    finish(m)  # adds the layer switcher; call last

All coordinates are WGS-84 degrees (lat, lon); distances are km.
"""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Callable, Iterable, Sequence

import folium

from app.maps.layers import (ADMIN1_MIN_ZOOM, GEO_URL, PLACES_MIN_ZOOM, STATIC_URL, GeoJsLayer,  # noqa: F401
                             FitFrame, IconPath, JsonLayer, MetricScale, WorldFit, admin1_layer, countries_geojson,
                             countries_layer, country_names, fix_antimeridian, places_layer, static_file, unwrap_ring)
from app.maps.pins import (CALLOUT_PX, KIND_STYLES, add_circle, add_marker, icon_box, legend_markdown,  # noqa: F401
                           pin_width)
from model.geo import great_circle_points

ROOT = Path(__file__).resolve().parents[2]
LEAFLET_JS = f"{STATIC_URL}/leaflet/leaflet.js"
LEAFLET_CSS = f"{STATIC_URL}/leaflet/leaflet.css"
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTR = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
OCEAN = "#dbe9f4"
LAND = "#f4f1ea"
BORDER = "#9a9486"
# Leaflet's own SVG/marker focus ring drew a black box around a clicked country (or pin) in Chromium; keyboard focus
# (:focus-visible) keeps its ring. Tooltips are small and set off from the cursor/pin so they do not hide the subject.
MAP_CSS = (
    f"html .leaflet-container{{background:{OCEAN};}}"
    ".leaflet-container :focus:not(:focus-visible),.leaflet-container:focus:not(:focus-visible){outline:none;}"
    ".geo-pin{display:flex;align-items:center;justify-content:center;color:#fff;font:bold 11px/1 sans-serif;"
    "border:2px solid #fff;box-shadow:0 0 3px rgba(0,0,0,.6);box-sizing:border-box;white-space:nowrap;"
    "padding:0 3px;}"
    ".geo-callout{position:relative;}.geo-callout .geo-pin{position:absolute;right:0;top:0;}"
    ".geo-callout svg{position:absolute;left:0;top:0;overflow:visible;}"
    ".geo-place i{position:absolute;left:-3px;top:-3px;width:5px;height:5px;border-radius:50%;background:#4a4a4a;"
    "border:1px solid #fff;}"
    ".geo-place.geo-capital i{border-radius:1px;background:#222;}"
    ".geo-place span{position:absolute;left:6px;top:-8px;white-space:nowrap;font:11px/14px sans-serif;color:#2b2b2b;"
    "text-shadow:0 0 2px #fff,0 0 2px #fff,0 0 3px #fff,0 0 4px #fff;}"
    ".geo-place.geo-capital span{font-weight:bold;color:#111;}"
    ".leaflet-tooltip.geo-tip{padding:2px 6px;font-size:12px;}")

class OfflineMap(folium.Map):
    """A ``folium.Map`` whose only external assets are the vendored Leaflet JS and CSS (and the static geo
    layers of ``app/static/geo/``)."""

    default_js = [("leaflet", LEAFLET_JS)]
    default_css = [("leaflet_css", LEAFLET_CSS)]


def base_map(center: tuple[float, float] = (20.0, 0.0), zoom: float = 1.5, *, online_tiles: bool = True,
             show_tiles: bool = False, height: str | int = "100%", min_zoom: float = 0, context: bool = True,
             world: bool = True, resolution: str | None = None) -> folium.Map:
    """A map whose base layer is the bundled country borders (works offline), with the context layers
    (state/province borders from zoom 3, place labels from zoom 2) unless ``context=False``.

    ``world`` frames the inhabited world at the map's real width (``GeoLayers.fitWorld``; :func:`fit_to`
    replaces it); otherwise the map opens at ``center`` (lat, lon degrees) and ``zoom`` (a Leaflet zoom,
    fractional: the map snaps to quarter zooms). ``online_tiles`` adds OpenStreetMap tiles as an optional
    layer (shown if ``show_tiles``). ``resolution`` is ignored (kept for old callers: the browser picks
    1:110m or 1:50m borders by zoom).
    """
    # keyboard=False: Leaflet's keyboard handler focuses the map on mousedown, and focusing the map's iframe
    # scrolls a partly hidden map into view between mousedown and mouseup, so the first click landed ~70 px
    # off its target (a missed dot on Explore, a misplaced pin in Play). Panning and zooming stay on the mouse.
    # zoomSnap 0.25: a 368-px frame shows the whole world at zoom 0.5 (whole zooms give 256 or 512 px).
    # maxBounds keeps the poles in reach but not beyond; east-west panning stays free (worldCopyJump).
    m = OfflineMap(location=list(center), zoom_start=zoom, tiles=None, min_zoom=min_zoom, keyboard=False,
                   world_copy_jump=True, control_scale=False, height=height, prefer_canvas=False,
                   zoom_snap=0.25, zoom_delta=0.5, max_bounds=True, min_lat=-85, max_lat=85, min_lon=-540,
                   max_lon=540)
    IconPath(f"{STATIC_URL}/leaflet/images/").add_to(m)
    MetricScale().add_to(m)
    m.get_root().header.add_child(folium.Element(f"<style>{MAP_CSS}</style>"), name="geo_css")
    if online_tiles:
        folium.TileLayer(OSM_TILES, attr=OSM_ATTR, name="OpenStreetMap (online)", overlay=True,
                         control=True, show=show_tiles, max_zoom=19).add_to(m)
    countries_layer(name="Country borders (offline)",
                    style={"fillColor": LAND, "color": BORDER, "weight": 0.7, "fillOpacity": 0.85}).add_to(m)
    if context:
        admin1_layer().add_to(m)
        places_layer().add_to(m)
    if world:
        wf = WorldFit()
        wf.add_to(m)
        m._geo_world_fit = wf  # removed by fit_to
    return m


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
                           fill_opacity: float = 0.4, show: bool = True, resolution: str | None = None) -> GeoJsLayer | None:
    """Shade countries by ``values`` ({ISO 3166-1 alpha-2: value}); others are left to the base layer.

    Colour runs from ``low`` (0) to ``high`` (``vmax``, default the largest value); countries with a
    value <= ``min_value`` are omitted. ``fill_opacity`` is light enough (0.4) for the borders and labels
    below to show. Tooltip: country name and ``fmt(value)``. The geometry comes from the static country
    files in the browser: the map carries only ``layer.shading`` ({ISO2: {"fill", "value", "tip"}}).
    Returns the layer, or None if no country qualifies (``resolution`` is ignored, kept for old callers).
    """
    vals = {str(k).upper(): float(v) for k, v in values.items() if v is not None and float(v) > min_value}
    names = country_names()
    vals = {k: v for k, v in vals.items() if k in names}
    if not vals:
        return None
    top = vmax if vmax and vmax > 0 else max(vals.values())
    shading = {}
    for code, v in sorted(vals.items(), key=lambda kv: -kv[1]):
        fill = mix_color(v / top, low, high)
        shading[code] = {"fill": fill, "value": fmt(v),
                         "tip": f"{html.escape(names[code])}: {html.escape(name)} {html.escape(fmt(v))}"}
    layer = countries_layer(name=name, show=show, values=shading,
                            style={"color": "#7f2704", "weight": 0.8, "fillOpacity": fill_opacity})
    layer.shading = shading
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


def fit_bounds_of(points: Iterable[tuple[float, float]], *, pad_deg: float = 2.0,
                  min_span_deg: float = 0.0) -> list[list[float]] | None:
    """[[south, west], [north, east]] (degrees) around ``points`` (lat, lon): their box plus ``pad_deg`` on each
    side, widened about its centre to at least ``min_span_deg`` in both directions (so that a tight group of
    points is shown with its surroundings), clipped to the map. None if there are no points."""
    pts = [(float(a), float(b)) for a, b in points]
    if not pts:
        return None
    lats, lons = [p[0] for p in pts], [p[1] for p in pts]
    s, n, w, e = min(lats) - pad_deg, max(lats) + pad_deg, min(lons) - pad_deg, max(lons) + pad_deg
    if n - s < min_span_deg:
        c = (n + s) / 2
        s, n = c - min_span_deg / 2, c + min_span_deg / 2
    if e - w < min_span_deg:
        c = (e + w) / 2
        w, e = c - min_span_deg / 2, c + min_span_deg / 2
    return [[max(-85.0, s), max(-180.0, w)], [min(85.0, n), min(180.0, e)]]


PIN_PAD_PX = 30  # pixels kept free around the framed points: a pin or a "You" label at a point stays inside


def fit_to(m: folium.Map, points: Iterable[tuple[float, float]], *, pad_deg: float = 2.0,
           max_zoom: int = 7, min_span_deg: float = 0.0) -> list[list[float]] | None:
    """Zoom the map to show all ``points`` (lat, lon) with ``pad_deg`` degrees of margin, at least
    ``min_span_deg`` degrees across, at most ``max_zoom`` (replaces the world framing of :func:`base_map`).
    Returns the bounds (see :func:`fit_bounds_of`), or None (no points: the map is left as it is)."""
    b = fit_bounds_of(points, pad_deg=pad_deg, min_span_deg=min_span_deg)
    if b is None:
        return None
    wf = getattr(m, "_geo_world_fit", None)
    if wf is not None:
        m._children.pop(wf.get_name(), None)
        m._geo_world_fit = None
    for old in [c for c in m._children.values() if isinstance(c, FitFrame)]:
        m._children.pop(old.get_name(), None)
    FitFrame(b, max_zoom, PIN_PAD_PX).add_to(m)  # pins drawn whole, framed again if the frame is resized
    return b


def fitted_bounds(m: folium.Map) -> list[list[float]] | None:
    """The bounds the map was last framed on by :func:`fit_to` (None: the world framing, or none)."""
    fb = [c for c in m._children.values() if isinstance(c, FitFrame)]
    return [list(map(float, p)) for p in fb[-1].bounds] if fb else None


def finish(m: folium.Map) -> folium.Map:
    """Add the layer switcher (call once, after all layers). Returns ``m``."""
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    return m


def map_html(m: folium.Map) -> str:
    """The full standalone HTML of a map (for tests and downloads)."""
    return m.get_root().render()
