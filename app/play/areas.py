"""Where a region lies on the ground (no Streamlit): its land polygons, a point-in-region test and
the nearest point inside it, so that the model's pin in a regional game stays in the region.

Polygons come from the bundled Natural Earth countries (``assets/geo/countries-50m.geojson``,
1:50 million, public domain), indexed by ISO code in ``model.data.countries``: a country region is the
union of the features with its code, a continent the union of its member countries (``app.play.regions``). Coastlines at
that scale are a few km coarse, so a place on a small island or a jetty can fall just outside.
Coordinates are WGS-84 degrees; the rings are the file's own (cut at +-180 degrees), so tests of
longitudes in -180..180 are exact.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from app.play.regions import CONTINENT_OF, WORLD, parse_region
from model.data.countries import country_features

INSET_DEG = (0.01, 0.003, 0.001)  # how far (degrees, ~1 km first) past the border a snapped point is put


@lru_cache(maxsize=256)
def _country_shape(code: str) -> BaseGeometry | None:
    """The land of one country (ISO alpha-2: all its 1:50m features, invalid rings repaired), None if not
    in the file."""
    geoms = [shape(f["geometry"]) for f in country_features("50m").get(code, [])]
    geoms = [g if g.is_valid else shapely.make_valid(g) for g in geoms]
    return shapely.union_all(geoms) if geoms else None


@lru_cache(maxsize=64)
def region_shape(region: str) -> BaseGeometry | None:
    """The land of a region id (``"country:HR"``, ``"continent:EU"``) as one prepared geometry; None
    for the world, and for a region none of whose countries is in the bundled file."""
    kind, code = parse_region(region)
    if kind == WORLD:
        return None
    codes = [code] if kind == "country" else [c for c, cont in CONTINENT_OF.items() if cont == code]
    geoms = [g for g in (_country_shape(c) for c in codes) if g is not None]
    if not geoms:
        return None
    g = shapely.union_all(geoms)
    shapely.prepare(g)
    return g


def has_shape(region: str) -> bool:
    """Whether :func:`region_shape` knows the region's land (the world counts as known)."""
    return parse_region(region)[0] == WORLD or region_shape(region) is not None


def contains(region: str, lats: Sequence[float] | float, lons: Sequence[float] | float) -> np.ndarray:
    """(N,) bool: which points (degrees) lie inside the region's land. The world contains every point;
    a region without a polygon (see :func:`region_shape`) contains none."""
    la, lo = np.atleast_1d(np.asarray(lats, float)), np.atleast_1d(np.asarray(lons, float))
    if parse_region(region)[0] == WORLD:
        return np.ones(len(la), bool)
    g = region_shape(region)
    if g is None:
        return np.zeros(len(la), bool)
    return np.asarray(shapely.contains_xy(g, lo, la), bool)


def nearest_inside(region: str, lat: float, lon: float) -> tuple[float, float]:
    """The point itself if it lies in the region, else the nearest point of the region's land, put
    about 1 km inside the border (distances measured with longitudes scaled by cos(latitude), good
    to a few percent away from the poles). Raises ValueError for a region without a polygon."""
    lat, lon = float(lat), float(lon)
    if contains(region, lat, lon)[0]:
        return lat, lon
    g = region_shape(region)
    if g is None:
        raise ValueError(f"no polygon for region {region!r}")
    k = max(math.cos(math.radians(lat)), 0.05)
    parts = list(getattr(g, "geoms", [g]))
    polys = [p for p in parts if p.geom_type in ("Polygon", "MultiPolygon")] or parts
    q = Point(lon * k, lat)
    scaled = [shapely.affinity.scale(p, xfact=k, yfact=1.0, origin=(0, 0)) for p in polys]
    i = int(np.argmin([s.distance(q) for s in scaled]))
    edge = nearest_points(scaled[i], q)[0]
    dx, dy = edge.x - q.x, edge.y - q.y
    norm = math.hypot(dx, dy) or 1.0
    for eps in INSET_DEG:  # a step past the border, along the line from the point to the border
        x, y = (edge.x + dx / norm * eps) / k, edge.y + dy / norm * eps
        if contains(region, y, x)[0]:
            return float(y), float(x)
    p = polys[i].representative_point()  # a sliver thinner than the steps: a point surely inside it
    return float(p.y), float(p.x)
