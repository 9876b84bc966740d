"""How the pages write distances and places for people (no Streamlit)."""
from __future__ import annotations

import math
import re
import unicodedata


def fmt_km(d: float | None) -> str:
    """A distance in km for people: '850 m', '12.3 km', '1,234 km' ('?' if unknown)."""
    if d is None or not math.isfinite(d):
        return "?"
    if d < 1:
        return f"{d * 1000:.0f} m"
    if d < 100:
        return f"{d:.1f} km"
    return f"{d:,.0f} km"


def _words(text: str) -> set[str]:
    """The lower-case ASCII words of a text (accents dropped): what two place names share."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return set(re.findall(r"[a-z0-9]+", plain))


def place_label(name: str, region: str = "", country: str = "") -> str:
    """'Place, Region, Country' without repeats: a part is left out when its words are all already
    said, or when it contains all the words of a part already said ('Iowa, Iowa' -> 'Iowa', 'Grad
    Zagreb, Zagreb' -> 'Grad Zagreb'); 'Split, Splitsko-Dalmatinska' keeps both."""
    parts: list[tuple[str, set[str]]] = []
    for p in (name, region, country):
        p = (p or "").strip()
        w = _words(p)
        if not w or p.lower() in ("nan", "none"):
            continue
        if any(w <= q or q <= w for _, q in parts):
            continue
        parts.append((p, w))
    return ", ".join(p for p, _ in parts)
