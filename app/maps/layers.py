"""Leaflet layers for offline maps (no Streamlit): a fast pre-serialised GeoJSON layer, the bundled
Natural Earth countries (antimeridian-safe), and the default-icon path of the vendored Leaflet.

Re-exported by :mod:`app.maps.builders`; use that module.
"""
from __future__ import annotations

import html
import json
from functools import lru_cache
from pathlib import Path

from branca.element import MacroElement
from folium.map import Layer
from jinja2 import Template

GEO_DIR = Path(__file__).resolve().parents[2] / "assets" / "geo"


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


@lru_cache(maxsize=2)
def _base_text(resolution: str) -> str:
    gj = json.loads(_countries_text(resolution))
    for f in gj["features"]:
        f["properties"] = {"_tip": html.escape(f["properties"].get("name", ""))}
    return json.dumps(gj, separators=(",", ":"))


def countries_geojson(resolution: str = "110m") -> dict:
    """A fresh copy of the bundled world GeoJSON (properties: name, iso_a2, iso_n3)."""
    return json.loads(_countries_text(resolution))
