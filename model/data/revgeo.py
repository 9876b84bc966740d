"""Offline reverse geocoding (``reverse_geocoder``, GeoNames places) and country names.

Labels are those of the nearest GeoNames place (population > 1000), so a point near a border may
get its neighbour's label: the same caveat as the shared manifest's labels.
"""
from __future__ import annotations

import contextlib
import io
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def _geocoder():
    import reverse_geocoder as rg

    # mode=1: single process (multiprocessing start-up costs more than it saves here); quiet load.
    with contextlib.redirect_stdout(io.StringIO()):
        return rg.RGeocoder(mode=1, verbose=False)


def reverse_geocode(lats, lons) -> list[dict]:
    """For each point (degrees): ``{"country_code", "country", "admin1", "place"}``."""
    lats, lons = np.atleast_1d(np.asarray(lats, float)), np.atleast_1d(np.asarray(lons, float))
    if len(lats) == 0:
        return []
    res = _geocoder().query(list(zip(lats.tolist(), lons.tolist())))
    return [{"country_code": r["cc"], "country": country_name(r["cc"]), "admin1": r["admin1"],
             "place": r["name"]} for r in res]


@lru_cache(maxsize=512)
def country_name(code: str) -> str:
    """English short name of an ISO 3166-1 alpha-2 code (the code itself if unknown)."""
    code = (code or "").upper()
    if not code:
        return ""
    special = {"XK": "Kosovo"}
    if code in special:
        return special[code]
    import pycountry

    c = pycountry.countries.get(alpha_2=code)
    if c is None:
        return code
    return getattr(c, "common_name", None) or c.name
