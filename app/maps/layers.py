"""Leaflet layers for offline maps (no Streamlit): the static context layers (countries, admin-1 borders,
place labels) drawn by ``app/static/geo/geolayers.js`` from files the browser caches, the world framing, a
fast pre-serialised GeoJSON layer for per-map data, the bundled Natural Earth countries as Python data
(antimeridian-safe), and the default-icon path of the vendored Leaflet.

Re-exported by :mod:`app.maps.builders`; use that module.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from jinja2 import Template

GEO_DIR = Path(__file__).resolve().parents[2] / "assets" / "geo"
STATIC_URL = "/app/static"  # where Streamlit serves app/static/ when enableStaticServing is on
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
GEO_URL = f"{STATIC_URL}/geo"
# zooms at which the context layers appear (the labels' own thresholds are in places.json, from zoom 2)
ADMIN1_MIN_ZOOM = 3
ADMIN1_FINE_ZOOM = 7
PLACES_MIN_ZOOM = 2
FINE_BORDERS_ZOOM = 4  # countries-50m replaces countries-110m from this zoom (geolayers.js FINE_ZOOM)
NE_ATTR = '<a href="https://www.naturalearthdata.com/">Natural Earth</a>'
GEONAMES_ATTR = '<a href="https://www.geonames.org/">GeoNames</a> (CC BY 4.0)'


class IconPath(MacroElement):
    """Points Leaflet's default marker images at the vendored copies (no 404s, no CDN)."""

    _template = Template("""{% macro script(this, kwargs) %}
        L.Icon.Default.imagePath = "{{ this.path }}";
    {% endmacro %}""")

    def __init__(self, path: str):
        super().__init__()
        self._name = "IconPath"
        self.path = path


class JsonLayer(Layer):
    """A GeoJSON layer from a pre-serialised FeatureCollection (fast: no per-feature Python work).

    Per-feature styling comes from the features' own properties: ``_style`` (Leaflet path options;
    for Point features also ``radius`` in pixels: drawn as circle markers) and ``_tip`` (tooltip,
    already HTML-escaped). ``style`` is the default for features without ``_style``.
    ``data`` keeps the parsed collection when the caller built it (for tests), else None.
    """

    _template = Template("""{% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJson({{ this.text }}, {
            style: function (f) { return (f.properties && f.properties._style) || {{ this.style_json }}; },
            pointToLayer: function (f, ll) { return L.circleMarker(ll, (f.properties && f.properties._style) || {{ this.style_json }}); },
            onEachFeature: function (f, l) { if (f.properties && f.properties._tip) { l.bindTooltip(f.properties._tip, {sticky: true}); } },
            interactive: {{ this.interactive_json }}
        });
    {% endmacro %}""")

    def __init__(self, text: str, *, name: str, style: dict | None = None, overlay: bool = True,
                 control: bool = True, show: bool = True, interactive: bool = True, data: dict | None = None):
        super().__init__(name=name, overlay=overlay, control=control, show=show)
        self._name = "JsonLayer"
        self.text = text.replace("</", "<\\/")  # never close the surrounding <script> early
        self.style_json = json.dumps(style or {})
        self.interactive_json = "true" if interactive else "false"
        self.data = data


class GeoJsLayer(JSCSSMixin, Layer):
    """A layer drawn by ``geolayers.js`` (``GeoLayers.<factory>(options)``) from the static geo files.

    The map's HTML carries only the options (a few hundred bytes), not the geometry: the browser loads
    ``geolayers.js`` and ``countries-110m.js`` once (streamlit-folium loads ``default_js`` before the map's
    script, in order) and fetches the larger files when a layer first needs them.
    """

    default_js = [("geolayers", f"{GEO_URL}/geolayers.js"), ("geo_countries_110m", f"{GEO_URL}/countries-110m.js")]
    _template = Template("""{% macro script(this, kwargs) %}
        var {{ this.get_name() }} = GeoLayers.{{ this.factory }}({{ this.options_json }});
    {% endmacro %}""")

    def __init__(self, factory: str, options: dict, *, name: str, overlay: bool = True, control: bool = True,
                 show: bool = True):
        super().__init__(name=name, overlay=overlay, control=control, show=show)
        self._name = "GeoJsLayer"
        self.factory = factory
        self.options = options
        self.options_json = json.dumps(options).replace("</", "<\\/")


def countries_layer(*, name: str, style: dict, values: dict[str, dict] | None = None,
                    tooltip: bool = True, show: bool = True, control: bool = True) -> GeoJsLayer:
    """Country polygons from the static files: the base layer, or (``values`` = {ISO2: {"fill": colour,
    "tip": tooltip HTML, ...}}) a choropleth of those countries only. ``style``: Leaflet path options."""
    opts: dict = {"style": style, "tooltip": tooltip, "attribution": NE_ATTR}
    if values is not None:
        opts["values"] = values
    return GeoJsLayer("countries", opts, name=name, show=show, control=control)


def admin1_layer(*, name: str = "State/province borders", show: bool = True) -> GeoJsLayer:
    """First-level admin borders (Natural Earth 1:10m lines), thin grey, drawn from zoom :data:`ADMIN1_MIN_ZOOM`;
    the short lines of dense meshes of small units (``admin1_fine``) from :data:`ADMIN1_FINE_ZOOM`."""
    levels = [["admin1", ADMIN1_MIN_ZOOM], ["admin1_fine", ADMIN1_FINE_ZOOM]]
    return GeoJsLayer("admin1", {"levels": levels, "attribution": NE_ATTR}, name=name, show=show)


def places_layer(*, name: str = "Place names", show: bool = True, max_labels: int = 300) -> GeoJsLayer:
    """Labels of populated places (GeoNames cities over 15,000 people): each from its own zoom (capitals and
    big cities first), only those in view, never overlapping (thinned when the file was built)."""
    return GeoJsLayer("places", {"minZoom": PLACES_MIN_ZOOM, "max": max_labels, "attribution": GEONAMES_ATTR},
                      name=name, show=show)


class WorldFit(JSCSSMixin, MacroElement):
    """Frames the inhabited world at the map's real width (``GeoLayers.fitWorld``: fractional zoom, refit when
    the frame is resized until the user moves the map). Removed by ``builders.fit_to``."""

    default_js = GeoJsLayer.default_js
    _template = Template("""{% macro script(this, kwargs) %}
        GeoLayers.fitWorld({{ this._parent.get_name() }});
    {% endmacro %}""")

    def __init__(self):
        super().__init__()
        self._name = "WorldFit"


class FitFrame(JSCSSMixin, MacroElement):
    """Frames ``bounds`` ([[s, w], [n, e]], degrees) at most at ``max_zoom`` with ``padding_px`` around them,
    and frames them again when the map's frame is resized until the user moves the map
    (``GeoLayers.fitBounds``; folium's one-off ``fit_bounds`` cut pins at the edge of a map resized later)."""

    default_js = GeoJsLayer.default_js
    _template = Template("""{% macro script(this, kwargs) %}
        GeoLayers.fitBounds({{ this._parent.get_name() }}, {{ this.bounds|tojson }},
                            {maxZoom: {{ this.max_zoom }}, padding: [{{ this.padding }}, {{ this.padding }}]});
    {% endmacro %}""")

    def __init__(self, bounds: list[list[float]], max_zoom: int, padding_px: int):
        super().__init__()
        self._name = "FitFrame"
        self.bounds = [[float(v) for v in p] for p in bounds]
        self.max_zoom, self.padding = int(max_zoom), int(padding_px)


class MetricScale(MacroElement):
    """A kilometre scale bar, one line, in the bottom-right corner above the attribution (Leaflet stacks
    controls of one corner; bottom-left, the attribution covered it on Play's 368-px map)."""

    _template = Template("""{% macro script(this, kwargs) %}
        L.control.scale({imperial: false, maxWidth: 100, position: 'bottomright'}).addTo({{ this._parent.get_name() }});
    {% endmacro %}""")

    def __init__(self):
        super().__init__()
        self._name = "MetricScale"


def static_file(name: str) -> Path:
    """Path of a file under ``app/static/geo/``."""
    return STATIC_DIR / "geo" / name


def unwrap_ring(ring: list) -> list:
    """A polygon ring ([lon, lat] points) made continuous across the antimeridian.

    Rings cut at +-180 degrees jump by 360 degrees, which Leaflet draws as a band across the world;
    an even number of jumps is unwrapped (the ring may then pass 180). A ring with an odd number of
    jumps encloses a pole (Antarctica) and is returned unchanged.
    """
    jumps = sum(1 for a, b in zip(ring, ring[1:]) if abs(b[0] - a[0]) > 180)
    if jumps == 0 or jumps % 2:
        return ring
    out, shift = [list(ring[0])], 0.0
    for a, b in zip(ring, ring[1:]):
        d = b[0] - a[0]
        if d > 180:
            shift -= 360.0
        elif d < -180:
            shift += 360.0
        out.append([b[0] + shift, *b[1:]])
    return out


def fix_antimeridian(gj: dict) -> dict:
    """Apply :func:`unwrap_ring` to every ring of a FeatureCollection (in place); returns it."""
    for f in gj.get("features", []):
        g = f.get("geometry") or {}
        if g.get("type") == "Polygon":
            g["coordinates"] = [unwrap_ring(r) for r in g["coordinates"]]
        elif g.get("type") == "MultiPolygon":
            g["coordinates"] = [[unwrap_ring(r) for r in poly] for poly in g["coordinates"]]
    return gj


@lru_cache(maxsize=2)
def _countries_text(resolution: str) -> str:
    raw = json.loads((GEO_DIR / f"countries-{resolution}.geojson").read_text(encoding="utf-8"))
    return json.dumps(fix_antimeridian(raw), separators=(",", ":"))


def countries_geojson(resolution: str = "110m") -> dict:
    """A fresh copy of the bundled world GeoJSON (properties: name, iso_a2, iso_n3)."""
    return json.loads(_countries_text(resolution))


@lru_cache(maxsize=1)
def country_names() -> dict[str, str]:
    """{ISO2: English name} of the 1:50m countries the browser draws (a superset of the 1:110m ones), read
    from the static topology's properties (no geometry work: a few ms)."""
    topo = json.loads(static_file("countries-50m.json").read_text(encoding="utf-8"))
    return {g["properties"]["iso"]: g["properties"].get("name") or g["properties"]["iso"]
            for g in topo["objects"]["countries"]["geometries"] if g.get("properties", {}).get("iso")}
