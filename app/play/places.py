"""Names a round's place for the reveal (no Streamlit): "near Split, Splitsko-Dalmatinska, Croatia".

Offline reverse geocoding (``model.data.revgeo``: the nearest GeoNames place of more than 1,000 people,
and its first-level region). Near a border the nearest town can be across it; the country named
last is then still the place's own (the manifest's label) and the town's country is added.
Called only after the guess, so nothing here can give a round away.
"""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1024)
def place_words(lat: float, lon: float, country_code: str, country: str) -> str:
    """'near Split, Splitsko-Dalmatinska, Croatia' for a point (degrees) in ``country`` (its name;
    ``country_code`` ISO alpha-2); 'near Brezice (Slovenia), Croatia' when the nearest town is across
    the border; just the country when the reverse geocoder cannot answer."""
    try:
        from model.data.revgeo import reverse_geocode

        r = reverse_geocode([lat], [lon])[0]
    except Exception:  # noqa: BLE001 - the name is a nicety: the reveal still says the country
        return country
    town, region = (r.get("place") or "").strip(), (r.get("admin1") or "").strip()
    if not town:
        return country
    if (r.get("country_code") or "").upper() != (country_code or "").upper():
        return f"near {town} ({r.get('country') or r.get('country_code')}), {country}"
    parts = [town] + ([region] if region and region != town else []) + [country]
    return "near " + ", ".join(parts)
