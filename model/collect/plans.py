"""Sampling plans: where to look for panoramas. A plan is a list of :class:`PlanPoint`.

Kinds (all deterministic for a given seed, lat/lon in degrees):

* ``countries``: ``per_region`` points uniform (equal-area) in each country polygon.
* ``admin1``: ``per_region`` points in each first-level region (state, province) of the given
  countries. Natural Earth admin-1 polygons are not bundled, so points are drawn uniformly in the
  country polygon and bucketed by the offline reverse geocoder's admin1 label until every region
  has ``per_region`` (regions still short after ``max_draw_factor`` draws are reported).
* ``grid``: cells over the given countries (H3 hexagons of ``cell_km`` edge, or a ``grid_deg``
  lat/lon grid), ``per_cell`` points uniform within each cell's land part.
* ``world``: ``n`` random land points worldwide.

Plans are written to ``plan.csv`` in the collection folder so that a resumed run uses exactly the
same points.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Polygon, box

from model.collect import regions


@dataclass(frozen=True)
class PlanPoint:
    """One place to ask for the nearest panorama. ``region``: the region or cell it was drawn for."""

    point_id: str
    lat: float
    lon: float
    region: str


def countries_plan(countries: list[str], per_region: int, seed: int = 0) -> list[PlanPoint]:
    """``per_region`` uniform points inside each country polygon."""
    out: list[PlanPoint] = []
    for k, code in enumerate(countries):
        area = regions.country_area(code)
        rng = np.random.default_rng([seed, k, 1])
        pts = regions.sample_in(area.geom, per_region, rng)
        out += [PlanPoint(f"{area.name}-{i:05d}", round(float(la), 6), round(float(lo), 6), area.name)
                for i, (la, lo) in enumerate(pts)]
    return out


def admin1_plan(countries: list[str], per_region: int, seed: int = 0, max_draw_factor: int = 60,
                warn=print) -> list[PlanPoint]:
    """``per_region`` points in each first-level region of each country (see module doc)."""
    from model.data.revgeo import reverse_geocode

    out: list[PlanPoint] = []
    for k, code in enumerate(countries):
        area = regions.country_area(code)
        names = regions.admin1_names(area.name)
        if not names:
            raise regions.RegionError(f"no first-level regions known for {area.name}")
        rng = np.random.default_rng([seed, k, 2])
        buckets: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
        budget = max_draw_factor * per_region * len(names)
        drawn = 0
        while drawn < budget and any(len(b) < per_region for b in buckets.values()):
            batch = regions.sample_in(area.geom, min(20_000, max(500, 2 * per_region * len(names))), rng)
            drawn += len(batch)
            labels = reverse_geocode(batch[:, 0], batch[:, 1])
            for (la, lo), lab in zip(batch, labels):
                b = buckets.get(lab["admin1"]) if lab["country_code"] == area.name else None
                if b is not None and len(b) < per_region:
                    b.append((round(float(la), 6), round(float(lo), 6)))
        short = {n: len(b) for n, b in buckets.items() if len(b) < per_region}
        if short:
            warn(f"{area.name}: {len(short)} region(s) got fewer than {per_region} points after "
                 f"{drawn} draws (too small or mostly labelled as a neighbour): "
                 + ", ".join(f"{n} ({c})" for n, c in sorted(short.items())[:12])
                 + (" ..." if len(short) > 12 else ""))
        for name in names:
            out += [PlanPoint(f"{area.name}:{name}-{i:05d}", la, lo, f"{area.name}:{name}")
                    for i, (la, lo) in enumerate(buckets[name])]
    return out


def h3_res_for(cell_km: float) -> int:
    """H3 resolution whose average hexagon edge is closest to ``cell_km`` kilometres."""
    import h3

    return min(range(0, 16), key=lambda r: abs(math.log(h3.average_hexagon_edge_length(r, "km") / cell_km)))


def grid_cells(countries: list[str], *, cell_km: float | None = None, h3_res: int | None = None,
               grid_deg: float | None = None) -> list[tuple[str, Polygon]]:
    """Cells over the countries, each clipped to land: ``[(cell_id, polygon)]``."""
    geom = shapely.union_all([regions.country_area(c).geom for c in countries])
    cells: list[tuple[str, Polygon]] = []
    if grid_deg:
        minx, miny, maxx, maxy = geom.bounds
        for i in range(math.floor(miny / grid_deg), math.ceil(maxy / grid_deg)):
            for j in range(math.floor(minx / grid_deg), math.ceil(maxx / grid_deg)):
                cell = box(j * grid_deg, i * grid_deg, (j + 1) * grid_deg, (i + 1) * grid_deg)
                part = cell.intersection(geom)
                if not part.is_empty and part.area > 0:
                    cells.append((f"g{grid_deg:g}:{i}:{j}", part))
        return cells
    import h3

    res = h3_res if h3_res is not None else h3_res_for(cell_km or 25.0)
    ids = set()
    for part in getattr(geom, "geoms", [geom]):
        ids |= set(h3.geo_to_cells(part, res))
        # small parts may contain no cell centre: add the cells of their representative points
        ids.add(h3.latlng_to_cell(part.representative_point().y, part.representative_point().x, res))
    for cid in sorted(ids):
        hexagon = Polygon([(lo, la) for la, lo in h3.cell_to_boundary(cid)])
        part = hexagon.intersection(geom)
        if not part.is_empty and part.area > 0:
            cells.append((cid, part))
    return cells


def grid_plan(countries: list[str], per_cell: int = 1, seed: int = 0, **cell_kw) -> list[PlanPoint]:
    """``per_cell`` uniform points in the land part of each grid cell (see :func:`grid_cells`)."""
    out: list[PlanPoint] = []
    for k, (cid, part) in enumerate(grid_cells(countries, **cell_kw)):
        rng = np.random.default_rng([seed, k, 3])
        pts = regions.sample_in(part, per_cell, rng, max_batches=20)
        out += [PlanPoint(f"{cid}-{i:03d}", round(float(la), 6), round(float(lo), 6), cid)
                for i, (la, lo) in enumerate(pts)]
    return out


def world_plan(n: int, seed: int = 0) -> list[PlanPoint]:
    """``n`` random land points worldwide (uniform on the sphere)."""
    pts = regions.sample_land(n, np.random.default_rng([seed, 4]))
    return [PlanPoint(f"world-{i:06d}", round(float(la), 6), round(float(lo), 6), "world")
            for i, (la, lo) in enumerate(pts)]


def write_plan(points: list[PlanPoint], path: Path) -> None:
    """Write a plan CSV atomically and durably (whole or not at all, also after a power cut)."""
    from .journal import atomic_write_text

    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=["point_id", "lat", "lon", "region"])
    w.writeheader()
    for p in points:
        w.writerow(asdict(p))
    atomic_write_text(Path(path), buf.getvalue())


def read_plan(path: Path) -> list[PlanPoint]:
    with open(path, newline="", encoding="utf-8") as f:
        return [PlanPoint(r["point_id"], float(r["lat"]), float(r["lon"]), r["region"]) for r in csv.DictReader(f)]
