"""Play's page layout helpers (Streamlit): the guess map's size, opening each round at its top, and the
marks a narrow screen needs (a table wider than a phone says it scrolls sideways).

Streamlit keeps the scroll position across reruns, so on a phone a new round (Start / Next sit low on
the page) opened scrolled past its photo: :func:`open_at_top` scrolls the page once per round and phase,
in the browser (a small script, run once per token): to the top, or on a narrow screen to the photo.
"""
from __future__ import annotations

import json

import streamlit as st

MAP_SIZES = ("Normal", "Large")
MAP_HEIGHT = {"Normal": 480, "Large": 600}
NARROW_PX = 640  # below this width the page is a phone's: the scroll hints show
ANCHOR = "geo-play-photo"  # marks where a round's photo starts
VERDICT = "geo-play-verdict"  # marks where a reveal's verdict starts
SCROLL_JS = """<script>(function () {{
  var token = {token}, anchor = {anchor};
  if (window.__geoPlayTop === token) {{ return; }}
  window.__geoPlayTop = token;
  function top() {{
    var m = document.querySelector('[data-testid="stMain"]');
    var a = anchor && window.innerWidth <= {narrow} ? document.getElementById(anchor) : null;
    var y = 0;
    if (m && a) {{ y = Math.max(0, a.getBoundingClientRect().top - m.getBoundingClientRect().top + m.scrollTop - 8); }}
    if (m) {{ m.scrollTo({{ top: y, left: 0, behavior: "instant" }}); }}
    if (!a) {{ window.scrollTo(0, 0); }}
  }}
  top(); setTimeout(top, 150); setTimeout(top, 600); setTimeout(top, 1200);
}})();</script>"""
HINT_CSS = (f"<style>.geo-narrow-hint{{display:none;}}"
            f"@media (max-width:{NARROW_PX}px){{.geo-narrow-hint{{display:inline;}}}}</style>")


def map_height() -> int:
    """The guess map's height in pixels for the size the player chose."""
    return MAP_HEIGHT.get(st.session_state.get("play_map_size") or MAP_SIZES[0], MAP_HEIGHT["Normal"])


def scroll_script(token: str, anchor: str | None = None) -> str:
    """The script that scrolls the page once for ``token`` (a round and phase): to its top, or on a narrow
    screen to the element with id ``anchor`` (the photo, below a header that fills a phone's screen)."""
    return SCROLL_JS.format(token=json.dumps(str(token)), anchor=json.dumps(anchor), narrow=NARROW_PX)


def open_at_top(token: str, anchor: str | None = None) -> None:
    """Open this view (a round, a reveal, the final result) at the top of the page, or on a phone at
    ``anchor`` (see :func:`photo_anchor`), once per ``token``."""
    st.html(scroll_script(token, anchor), unsafe_allow_javascript=True)


def anchor(name: str = ANCHOR) -> None:
    """Mark a place :func:`open_at_top` can scroll a phone to (:data:`ANCHOR`: the round's photo,
    :data:`VERDICT`: a reveal's verdict)."""
    st.html(f"<div id='{name}'></div>")


def narrow_hint(text: str) -> None:
    """A caption shown only on a narrow screen (e.g. "scroll the table sideways for more columns")."""
    st.html(f"{HINT_CSS}<span class='geo-narrow-hint' style='font-size:0.85rem;color:rgba(49,51,63,.7)'>"
            f"{text}</span>")
