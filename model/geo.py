"""Geodesy helpers: great-circle distances, unit vectors, GeoGuessr scores.

All latitudes/longitudes are WGS-84 degrees; all distances are kilometres.
Functions accept scalars or NumPy arrays and broadcast like NumPy.
"""
from __future__ import annotations

import math

import numpy as np

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
GEOSCORE_MAX = 5000.0
GEOSCORE_WORLD_DECAY_KM = 1492.7  # GeoGuessr world map: 5000*exp(-d/1492.7)
REFERENCE_ACC_DECAY_KM = 1160.0  # "accuracy" exp(-d/1160) of one reference project (US/Canada)
WORLD_DIAGONAL_KM = 10 * GEOSCORE_WORLD_DECAY_KM  # the world map size S for which 10/S = 1/1492.7


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray | float:
    """Great-circle distance in km between points given in degrees (broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    d = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return float(d) if np.ndim(d) == 0 else d


def pairwise_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Distance matrix in km, shape (len(lat1), len(lat2))."""
    return haversine_km(np.asarray(lat1)[:, None], np.asarray(lon1)[:, None],
                        np.asarray(lat2)[None, :], np.asarray(lon2)[None, :])


def to_xyz(lat, lon) -> np.ndarray:
    """Unit vectors on the sphere, shape (..., 3), from degrees."""
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


def from_xyz(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`to_xyz` (vectors need not be unit length): (lat, lon) in degrees."""
    xyz = np.asarray(xyz, dtype=float)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
    lon = np.degrees(np.arctan2(y, x))
    return lat, lon


def spherical_mean(lat, lon, weights=None) -> tuple[float, float]:
    """Weighted mean position on the sphere (degrees), robust across the antimeridian."""
    v = to_xyz(np.asarray(lat, float), np.asarray(lon, float))
    w = np.ones(len(v)) if weights is None else np.asarray(weights, float)
    m = (v * w[:, None]).sum(0)
    la, lo = from_xyz(m)
    return float(la), float(lo)


def geoscore(d_km, map_size_km: float | None = None) -> np.ndarray | float:
    """GeoGuessr points for an error of ``d_km``.

    World map (``map_size_km`` None): 5000*exp(-d/1492.7). A smaller map of bounding-box
    diagonal S km scales the decay with its size: 5000*exp(-10*d/S).
    """
    d = np.asarray(d_km, dtype=float)
    decay = GEOSCORE_WORLD_DECAY_KM if map_size_km is None else max(map_size_km, 1e-6) / 10.0
    s = GEOSCORE_MAX * np.exp(-d / decay)
    return float(s) if np.ndim(s) == 0 else s


def reference_accuracy(d_km) -> np.ndarray | float:
    """The exp(-d/1160) "accuracy" of the US/Canada reference project, in 0..1."""
    s = np.exp(-np.asarray(d_km, dtype=float) / REFERENCE_ACC_DECAY_KM)
    return float(s) if np.ndim(s) == 0 else s


def bbox_diagonal_km(lats, lons) -> float:
    """Diagonal in km of the lat/lon bounding box of a set of points (the map size S)."""
    lats, lons = np.asarray(lats, float), np.asarray(lons, float)
    return float(haversine_km(lats.min(), lons.min(), lats.max(), lons.max()))


def destination(lat: float, lon: float, bearing_deg: float, dist_km: float) -> tuple[float, float]:
    """Point reached from (lat, lon) after ``dist_km`` along initial bearing (degrees)."""
    d = dist_km / EARTH_RADIUS_KM
    b = math.radians(bearing_deg)
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), (math.degrees(l2) + 540.0) % 360.0 - 180.0


def great_circle_points(lat1: float, lon1: float, lat2: float, lon2: float, n: int = 64) -> list[tuple[float, float]]:
    """``n`` points along the great circle between two points (degrees), for drawing lines.

    Longitudes are unwrapped so that a line crossing the antimeridian stays continuous on a map.
    """
    a, b = to_xyz(lat1, lon1), to_xyz(lat2, lon2)
    omega = math.acos(float(np.clip(np.dot(a, b), -1.0, 1.0)))
    if omega < 1e-9:
        return [(lat1, lon1), (lat2, lon2)]
    t = np.linspace(0.0, 1.0, n)[:, None]
    pts = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / math.sin(omega)
    lat, lon = from_xyz(pts)
    lon = np.degrees(np.unwrap(np.radians(lon)))
    return [(float(x), float(y)) for x, y in zip(lat, lon)]
