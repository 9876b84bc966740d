"""Guessing without a mouse (no Streamlit): a keyboard crosshair on the guess map, and typed guesses.

* :class:`KeyboardGuess`, added to the guess map: a button in the map's corner, reached with Tab. While it
  has the focus a crosshair marks the map's centre; the arrow keys move the map under it (Shift: further),
  ``+`` / ``-`` zoom, and Enter or Space places the pin at the crosshair, through the same click event a
  mouse click fires (so the page stores it the same way). It is a plain button: the map itself is never
  focused by a mouse click (``app.maps.builders`` turns Leaflet's keyboard handler off for that reason).
* :func:`parse_guess`: a typed guess, coordinates ("45.81, 15.98", "45.81 N 15.98 E", "45°48'N 15°58'E")
  or a place name from the map's own labels ("Zagreb"), to (lat, lon) degrees.
"""
from __future__ import annotations

import json
import math
import re
import unicodedata
from functools import lru_cache

import folium
from branca.element import MacroElement
from jinja2 import Template

from app.play.game import GameError, normalise_point
from model.paths import APP_STATIC

PLACES = APP_STATIC / "geo" / "places.json"
KEYS_HELP = ("Guess with the keyboard: arrow keys move the map under the crosshair (Shift: further), "
             "+ and - zoom, Enter places your pin at the crosshair")
_NUM = r"[-+]?\d+(?:\.\d+)?"
ICON = ('<svg width="22" height="22" viewBox="0 0 22 22" aria-hidden="true" focusable="false" '
        'style="vertical-align:middle"><circle cx="11" cy="11" r="6" fill="none" stroke="#222" stroke-width="2"/>'
        '<path d="M11 1v6M11 15v6M1 11h6M15 11h6" stroke="#222" stroke-width="2"/></svg>')


class KeyboardGuess(MacroElement):
    """The keyboard crosshair of the guess map (module docstring)."""

    _template = Template("""
{% macro header(this, kwargs) %}<style>
.geo-kbd{width:34px;height:34px;line-height:0;background:#fff;border:2px solid rgba(0,0,0,.25);
 border-radius:4px;cursor:pointer;padding:0;color:#222;}
.geo-kbd:focus-visible,.geo-kbd:focus{outline:3px solid #1a73e8;outline-offset:1px;}
.geo-cross{position:absolute;left:50%;top:50%;width:34px;height:34px;margin:-17px 0 0 -17px;z-index:650;
 pointer-events:none;display:none;}
.geo-cross:before,.geo-cross:after{content:"";position:absolute;background:#d93025;box-shadow:0 0 2px #fff;}
.geo-cross:before{left:16px;top:0;width:2px;height:34px;}.geo-cross:after{top:16px;left:0;height:2px;width:34px;}
.leaflet-container.geo-kbd-on .geo-cross{display:block;}
</style>{% endmacro %}
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var box = map.getContainer();
  var cross = L.DomUtil.create("div", "geo-cross", box);
  cross.setAttribute("aria-hidden", "true");
  var Ctl = L.Control.extend({ options: { position: "bottomleft" }, onAdd: function () {
    var b = L.DomUtil.create("button", "geo-kbd");
    b.type = "button"; b.innerHTML = {{ this.icon|tojson }}; b.title = {{ this.help|tojson }};
    b.setAttribute("aria-label", {{ this.help|tojson }});
    L.DomEvent.disableClickPropagation(b);
    L.DomEvent.on(b, "focus", function () { L.DomUtil.addClass(box, "geo-kbd-on"); });
    L.DomEvent.on(b, "blur", function () { L.DomUtil.removeClass(box, "geo-kbd-on"); });
    L.DomEvent.on(b, "click", function (e) { L.DomEvent.stop(e); });
    L.DomEvent.on(b, "keydown", function (e) {
      var step = e.shiftKey ? 240 : 60, k = e.key, moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0],
        ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (moves[k]) { map.panBy(moves[k], { animate: false }); }
      else if (k === "+" || k === "=") { map.zoomIn(); }
      else if (k === "-" || k === "_") { map.zoomOut(); }
      else if (k === "Enter" || k === " ") {
        var c = map.getCenter();
        map.fire("click", { latlng: c, layerPoint: map.latLngToLayerPoint(c),
                            containerPoint: map.latLngToContainerPoint(c) });
      } else { return; }
      L.DomEvent.stop(e);
    });
    return b; } });
  new Ctl().addTo(map);
})();
{% endmacro %}""")

    def __init__(self, help_text: str = KEYS_HELP):
        super().__init__()
        self._name = "KeyboardGuess"
        self.help = help_text
        self.icon = ICON


def add_keyboard(m: folium.Map) -> folium.Map:
    """Add the keyboard crosshair to a guess map; returns ``m``."""
    KeyboardGuess().add_to(m)
    return m


def _fold(text: str) -> str:
    """Lower case without accents or surrounding spaces: 'Bogotá ' -> 'bogota'."""
    s = unicodedata.normalize("NFKD", text or "")
    return " ".join("".join(c for c in s if not unicodedata.combining(c)).lower().split())


@lru_cache(maxsize=1)
def _place_index() -> dict[str, tuple[str, float, float]]:
    """{folded name: (name, lat, lon)} of the map's labelled places, the most prominent (lowest minimum
    zoom, then capitals) kept where names repeat."""
    data = json.loads(PLACES.read_text(encoding="utf-8"))
    f = {k: i for i, k in enumerate(data["fields"])}
    rows = sorted(data["rows"], key=lambda r: (r[f["minzoom"]], -int(r[f["capital"]] or 0)))
    out: dict[str, tuple[str, float, float]] = {}
    for r in rows:
        out.setdefault(_fold(r[f["name"]]), (r[f["name"]], float(r[f["lat"]]), float(r[f["lon"]])))
    return out


def _hemisphere_value(token: str, hemi: str) -> tuple[float, str] | None:
    """'45°48\'30"' and 'N' -> (45.808, 'lat'); None when the token holds no 1-3 numbers."""
    nums = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", token)]
    if not 1 <= len(nums) <= 3 or any(x >= 60 for x in nums[1:]):
        return None
    deg = nums[0] + sum(x / 60 ** (i + 1) for i, x in enumerate(nums[1:]))
    h = hemi.upper()
    return (-deg if h in "SW" else deg), ("lat" if h in "NS" else "lon")


def _coordinates(text: str) -> tuple[float, float] | None:
    """(lat, lon) from typed coordinates: two decimal numbers, latitude first ("45.81, 15.98", "-33.9 151.2"),
    or two values with hemispheres in any order ("45.81 N 15.98 E", "45°48'N, 15°58'E"); None otherwise."""
    plain = re.fullmatch(rf"\s*({_NUM})\s*(?:[,;]\s*|\s+)({_NUM})\s*", text)
    if plain:
        return float(plain.group(1)), float(plain.group(2))
    parts = re.findall(r"([\d.\s°º'′″\"]+?)\s*([NSEWnsew])\b[\s,;]*", text)
    if len(parts) != 2 or "".join(a + b for a, b in parts).replace(" ", "") != re.sub(r"[\s,;]", "", text):
        return None
    got = [_hemisphere_value(a, b) for a, b in parts]
    if not all(got):
        return None
    by = {axis: v for v, axis in got}
    return (by["lat"], by["lon"]) if set(by) == {"lat", "lon"} else None


def parse_guess(text: str) -> tuple[tuple[float, float], str]:
    """A typed guess as ((lat, lon) degrees, words saying what was understood). Coordinates are latitude
    first; a place name is looked up among the map's labels (text after a comma is ignored: "Split,
    Croatia"). Raises :class:`~app.play.game.GameError` with a message for the player."""
    t = (text or "").strip()
    if not t:
        raise GameError("type coordinates (latitude, longitude) or a place name")
    xy = _coordinates(t)
    if xy is not None:
        lat, lon = xy
        if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
            raise GameError(f"{t!r}: latitude must be -90 to 90 and longitude -180 to 180 (latitude first)")
        lat, lon = normalise_point(lat, lon)
        return (lat, lon), f"{lat:.4f}, {lon:.4f}"
    name = _fold(t.split(",")[0])
    hit = _place_index().get(name)
    if hit is None:
        raise GameError(f"{t!r} is neither coordinates (e.g. 45.81, 15.98) nor a place on the map's labels")
    return (hit[1], hit[2]), f"{hit[0]} ({hit[1]:.2f}, {hit[2]:.2f})"
