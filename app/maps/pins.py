"""Pins on the offline maps (no Streamlit): ``DivIcon`` markers of a few kinds (colour, glyph and shape shared
by every page, so that a colour means the same thing everywhere), circle markers, and the legend.

Re-exported by :mod:`app.maps.builders`; use that module. Sizes are screen pixels; coordinates degrees.
"""
from __future__ import annotations

import html
from typing import Sequence

import folium

CALLOUT_PX = 16  # a callout marker's body sits this far up and right of its point, on a stem

# Marker kinds: colour, glyph and shape. Shared by every page so that a colour means the same thing.
KIND_STYLES: dict[str, dict[str, str]] = {
    "truth": {"color": "#1a9641", "glyph": "&#9733;", "shape": "50%", "label": "Actual location"},
    "model": {"color": "#d7191c", "glyph": "M", "shape": "50%", "label": "Model's predicted place"},
    "best": {"color": "#7b3294", "glyph": "E", "shape": "4px", "label": "Model's expected-score guess"},
    "guess": {"color": "#2c7bb6", "glyph": "You", "shape": "50%", "label": "Your guess"},
    "candidate": {"color": "#fdae61", "glyph": "", "shape": "50%", "label": "Other top-N guesses"},
}


def _callout_html(body: str, width: int, size: int, color: str) -> tuple[str, tuple[int, int], tuple[int, int]]:
    """A marker body set ``CALLOUT_PX`` up and right of its point, joined to it by a stem ending in a dot.
    Returns (html, icon size, icon anchor) in pixels."""
    w, h = width + CALLOUT_PX, size + CALLOUT_PX
    ax, ay = 3, h - 3  # the point: bottom-left, inside the icon box
    svg = (f'<svg width="{w}" height="{h}"><line x1="{ax}" y1="{ay}" x2="{CALLOUT_PX + 3}" y2="{size - 3}" '
           f'stroke="{color}" stroke-width="2"/><circle cx="{ax}" cy="{ay}" r="3" fill="{color}" '
           f'stroke="#fff" stroke-width="1"/></svg>')
    return (f'<div class="geo-callout" style="width:{w}px;height:{h}px;">{svg}{body}</div>', (w, h), (ax, ay))


def pin_width(glyph_text: str, size: int) -> int:
    """Width in pixels of a pin showing ``glyph_text`` (bold 11-px sans-serif, 3-px padding, 2-px border):
    a circle of ``size`` for one character, a pill wide enough for longer text ("You")."""
    n = len(glyph_text)
    return size if n <= 1 else max(size, 8 * n + 14)


def icon_box(kind: str, size: int = 24, text: str | None = None, *, callout: bool = False) -> tuple[float, float, float, float]:
    """The pin body's box (x0, y0, x1, y1) in pixels relative to its point (y down), as :func:`add_marker`
    draws it: centred on the point, or up and right of it for a ``callout``."""
    st = KIND_STYLES[kind]
    glyph = html.unescape(st["glyph"] if text is None else text)
    w = pin_width(glyph, size)
    if callout:
        return (CALLOUT_PX - 3, -(size + CALLOUT_PX - 3), CALLOUT_PX - 3 + w, -(CALLOUT_PX - 3))
    return (-w / 2, -size / 2, w / 2, size / 2)


def _div_icon(kind: str, size: int, text: str | None = None, callout: bool = False) -> folium.DivIcon:
    st = KIND_STYLES[kind]
    glyph = st["glyph"] if text is None else html.escape(text)
    width = pin_width(html.unescape(glyph), size)
    radius = f"{size // 2}px" if st["shape"] == "50%" else st["shape"]  # a pill, not an ellipse, for long text
    body = (f'<div class="geo-pin geo-{kind}" style="width:{width}px;height:{size}px;'
            f'background:{st["color"]};border-radius:{radius};">{glyph}</div>')
    if callout:
        body, icon_size, anchor = _callout_html(body, width, size, st["color"])
        return folium.DivIcon(html=body, icon_size=icon_size, icon_anchor=anchor,
                              class_name=f"geo-marker geo-marker-{kind} geo-marker-callout")
    return folium.DivIcon(html=body, icon_size=(width, size), icon_anchor=(width // 2, size // 2),
                          class_name=f"geo-marker geo-marker-{kind}")


def _tooltip(text: str | None, up_px: float) -> folium.Tooltip | None:
    """A hover tooltip above the marker (not over it, not following the cursor)."""
    if not text:
        return None
    return folium.Tooltip(html.escape(text), sticky=False, direction="top", offset=(0, -int(up_px)))


def add_marker(m: folium.Map | folium.FeatureGroup, lat: float, lon: float, kind: str,
               tooltip: str | None = None, *, popup: str | None = None, text: str | None = None,
               size: int = 24, callout: bool = False) -> folium.Marker:
    """A DivIcon marker of a kind in :data:`KIND_STYLES` (truth, model, best, guess, candidate).

    ``tooltip``/``popup`` are plain text (escaped); the tooltip shows on hover, above the pin. ``text``
    overrides the glyph drawn in the pin. ``callout`` draws the pin up and right of its point on a stem
    (see :func:`icon_box`), so that it stays visible when another pin sits on the same point.
    """
    if kind not in KIND_STYLES:
        raise ValueError(f"unknown marker kind {kind!r}; use one of {sorted(KIND_STYLES)}")
    box = icon_box(kind, size, text, callout=callout)
    mk = folium.Marker(location=[float(lat), float(lon)], icon=_div_icon(kind, size, text, callout),
                       tooltip=_tooltip(tooltip, -box[1] + 2),
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


def legend_markdown(kinds: Sequence[str]) -> str:
    """HTML legend for the given marker kinds (render with ``st.markdown(..., unsafe_allow_html=True)``)."""
    items = []
    for k in kinds:
        st = KIND_STYLES[k]
        items.append(f'<span style="display:inline-block;width:12px;height:12px;background:{st["color"]};'
                     f'border-radius:{st["shape"]};margin:0 4px 0 10px;vertical-align:middle"></span>'
                     f'{html.escape(st["label"])}')
    return '<div style="font-size:0.85rem">' + "".join(items) + "</div>"
