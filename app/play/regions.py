"""Regions a game can be restricted to (no Streamlit): the world, a continent, or one country.

A region is named by an id string: ``"world"``, ``"continent:EU"`` or ``"country:HR"`` (ISO 3166-1
alpha-2). The prefix matters: two-letter continent codes collide with country codes (``AS`` is
Asia and American Samoa). Continents follow the common seven-continent convention of
``pycountry_convert`` (Russia in Europe, Turkey, Cyprus and the Caucasus in Asia), kept here as a
small hand table so that the app needs no extra package.

Map size: a game restricted to a region is scored with ``5000*exp(-10*d/S)``, ``S`` the diagonal in
km of the bounding box of the region's playable locations (:func:`map_size_km`), as GeoGuessr
scales scores for smaller maps. The world uses ``5000*exp(-d/1492.7)`` (``S`` = None).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from model.geo import WORLD_DIAGONAL_KM, haversine_km

WORLD = "world"
CONTINENT_NAMES: dict[str, str] = {
    "AF": "Africa", "AN": "Antarctica", "AS": "Asia", "EU": "Europe",
    "NA": "North America", "OC": "Oceania", "SA": "South America",
}
_CONTINENT_MEMBERS: dict[str, str] = {
    "AF": "DZ AO BJ BW BF BI CV CM CF TD KM CD CG CI DJ EG GQ ER SZ ET GA GM GH GN GW KE LS LR LY MG MW ML "
          "MR MU YT MA MZ NA NE NG RE RW SH ST SN SC SL SO ZA SS SD TZ TG TN UG EH ZM ZW",
    "AN": "AQ BV GS HM TF",
    "AS": "AF AM AZ BH BD BT BN KH CN CX CC CY GE HK IN ID IR IQ IL JP JO KZ KW KG LA LB MO MY MV MN MM NP "
          "KP OM PK PS PH QA SA SG KR LK SY TW TJ TH TL TR TM AE UZ VN YE IO",
    "EU": "AX AL AD AT BY BE BA BG HR CZ DK EE FO FI FR DE GI GR GG VA HU IS IE IM IT JE XK LV LI LT LU MT "
          "MD MC ME NL MK NO PL PT RO RU SM RS SK SI ES SJ SE CH UA GB",
    "NA": "AI AG AW BS BB BZ BM BQ VG CA KY CR CU CW DM DO SV GL GD GP GT HT HN JM MQ MX MS NI PA PR BL KN "
          "LC MF PM VC SX TT TC US VI UM",
    "OC": "AS AU CK FJ PF GU KI MH FM NR NC NZ NU NF MP PW PG PN WS SB TK TO TV VU WF",
    "SA": "AR BO BR CL CO EC FK GF GY PY PE SR UY VE",
}
CONTINENT_OF: dict[str, str] = {cc: cont for cont, members in _CONTINENT_MEMBERS.items() for cc in members.split()}

MIN_COUNTRY_LOCATIONS = 10   # a country needs this many playable locations to be offered as a region
MIN_CONTINENT_LOCATIONS = 5  # same for a continent
MIN_MAP_SIZE_KM = 100.0      # floor of S: a map of a single town would make every metre cost points


class RegionIdError(ValueError):
    """An unknown or malformed game region id (``"continent:XX"``...). Not ``model.collect.regions.RegionError``,
    which is a country label or area the collectors cannot sample."""


def continent_of(country_code: str) -> str | None:
    """Continent code (AF, AN, AS, EU, NA, OC, SA) of an ISO alpha-2 country code, or None if unknown."""
    return CONTINENT_OF.get((country_code or "").strip().upper())


def parse_region(region: str) -> tuple[str, str]:
    """``"world"`` -> ("world", ""), ``"continent:EU"`` -> ("continent", "EU"), ``"country:hr"`` ->
    ("country", "HR"). Raises :class:`RegionIdError` for anything else."""
    r = (region or "").strip()
    if r.lower() == WORLD:
        return WORLD, ""
    kind, _, code = r.partition(":")
    kind, code = kind.strip().lower(), code.strip().upper()
    if kind == "continent" and code in CONTINENT_NAMES:
        return kind, code
    if kind == "country" and len(code) == 2 and code.isalpha():
        return kind, code
    raise RegionIdError(f"unknown region {region!r}: use 'world', 'continent:EU' (AF, AS, EU, NA, OC, SA) "
                      "or 'country:HR' (ISO 3166-1 alpha-2)")


def in_region(country_code: str, region: str) -> bool:
    """Whether a location in ``country_code`` belongs to ``region`` (an id, see :func:`parse_region`)."""
    kind, code = parse_region(region)
    cc = (country_code or "").strip().upper()
    if kind == WORLD:
        return True
    if kind == "continent":
        return continent_of(cc) == code
    return cc == code


def region_label(region: str, country_names: dict[str, str] | None = None) -> str:
    """Human name of a region id: 'World', 'Europe', 'Croatia' (from ``country_names`` by code)."""
    kind, code = parse_region(region)
    if kind == WORLD:
        return "World"
    if kind == "continent":
        return CONTINENT_NAMES[code]
    return (country_names or {}).get(code) or code


@dataclass(frozen=True)
class RegionOption:
    """A region that can be played, with how many playable locations it has."""

    region: str
    label: str
    n_locations: int


def region_options(country_codes: Sequence[str], country_names: dict[str, str] | None = None, *,
                   min_country: int = MIN_COUNTRY_LOCATIONS,
                   min_continent: int = MIN_CONTINENT_LOCATIONS) -> list[RegionOption]:
    """Playable regions given the country code of every playable location: the world first, then
    continents with at least ``min_continent`` locations, then countries with at least ``min_country``
    (each group by decreasing count, then name)."""
    codes = [(c or "").strip().upper() for c in country_codes]
    out = [RegionOption(WORLD, "World", len(codes))] if codes else []
    conts = Counter(c for c in (continent_of(x) for x in codes) if c)
    out += sorted((RegionOption(f"continent:{k}", CONTINENT_NAMES[k], n) for k, n in conts.items() if n >= min_continent),
                  key=lambda o: (-o.n_locations, o.label))
    countries = Counter(c for c in codes if c)
    out += sorted((RegionOption(f"country:{k}", region_label(f"country:{k}", country_names), n)
                   for k, n in countries.items() if n >= min_country), key=lambda o: (-o.n_locations, o.label))
    return out


def _lon_span(lons: Iterable[float]) -> tuple[float, float]:
    """Smallest longitude interval (west edge, width) in degrees covering all ``lons`` on the circle:
    the complement of the widest gap between sorted longitudes (handles the antimeridian)."""
    xs = sorted(((float(x) + 180.0) % 360.0) - 180.0 for x in lons)
    if len(xs) == 1:
        return xs[0], 0.0
    gaps = [(xs[i + 1] - xs[i], i) for i in range(len(xs) - 1)] + [(xs[0] + 360.0 - xs[-1], len(xs) - 1)]
    gap, i = max(gaps)
    return xs[(i + 1) % len(xs)], 360.0 - gap


def map_size_km(lats: Sequence[float], lons: Sequence[float], *, floor_km: float = MIN_MAP_SIZE_KM) -> float:
    """Map size S in km: the diagonal of the smallest lat/lon bounding box of the points (degrees),
    crossing the antimeridian when that makes the box narrower. Clamped to ``floor_km`` .. the world
    value (``WORLD_DIAGONAL_KM``, for which the scaled score equals the world formula)."""
    if len(lats) == 0 or len(lats) != len(lons):
        raise ValueError("map_size_km needs the same number (>= 1) of latitudes and longitudes")
    west, width = _lon_span(lons)
    if width >= 180.0:
        return WORLD_DIAGONAL_KM
    d = float(haversine_km(min(lats), west, max(lats), west + width))
    return min(WORLD_DIAGONAL_KM, max(floor_km, d))
