"""Geographic cells: the classification targets.

A cell table is a DataFrame with one row per cell: ``key`` (str), ``name``, ``country_code``,
``country``, ``admin1``, ``lat``/``lon`` (centroid = mean training coordinate, degrees) and
``n_train`` (training locations). Schemes (``SCHEMES``):

- ``country``: one cell per ISO country code.
- ``admin1``: one cell per first-level region (state, province).
- ``grid``: hexagonal H3 cells at a chosen resolution over the data's area.
- ``geocells``: adaptive cells that follow country/admin1 borders: regions with fewer than
  ``min_size`` training locations are merged into the nearest region of the same country,
  regions with more than ``max_size`` are split by k-means on the sphere (PIGEON-style).

:class:`CellSet` maps coordinates (and, for coordinate-less rows, country codes) to cell ids.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.geo import pairwise_km, spherical_mean, to_xyz
from model.data.revgeo import country_name, reverse_geocode

SCHEMES = ("country", "admin1", "grid", "geocells")


@dataclass
class CellSet:
    """A cell table plus the rules that assign points to cells.

    ``region_cells`` maps a region key (``CC`` or ``CC/admin1``) to the ids of the cells built
    from it; a point is assigned to the nearest of its region's cells, else (region unseen in
    training) the nearest cell of its country, else the nearest cell overall.
    """

    scheme: str
    table: pd.DataFrame
    region_cells: dict[str, list[int]] = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.table)

    # -- assignment -------------------------------------------------------------------------
    def assign(self, lat, lon, country_code=None, admin1=None) -> np.ndarray:
        """Cell id per point, shape (N,); -1 where neither coordinates nor a known country is given.

        ``lat``/``lon`` may contain NaN (country label only): those rows go to the country's
        most populated cell in ``country`` scheme, else -1 (use :meth:`country_mask` for them).
        """
        lat = np.atleast_1d(np.asarray(lat, float))
        lon = np.atleast_1d(np.asarray(lon, float))
        n = len(lat)
        cc = np.asarray(country_code if country_code is not None else [""] * n, dtype=object)
        a1 = np.asarray(admin1 if admin1 is not None else [""] * n, dtype=object)
        out = np.full(n, -1, dtype=np.int64)
        has = ~np.isnan(lat)
        if self.scheme == "grid":
            import h3

            res = int(self.params["resolution"])
            keys = {k: i for i, k in enumerate(self.table["key"])}
            for i in np.flatnonzero(has):
                out[i] = keys.get(h3.latlng_to_cell(lat[i], lon[i], res), -1)
            miss = has & (out < 0)
            out[miss] = self._nearest(lat[miss], lon[miss], None)
        elif has.any():
            idx = np.flatnonzero(has)
            need_geo = [i for i in idx if not cc[i] or (self.scheme != "country" and not a1[i])]
            if need_geo:
                geo = reverse_geocode(lat[need_geo], lon[need_geo])
                for i, g in zip(need_geo, geo):
                    cc[i] = cc[i] or g["country_code"]
                    a1[i] = a1[i] or g["admin1"]
            for i in idx:
                key = cc[i] if self.scheme == "country" else f"{cc[i]}/{a1[i]}"
                cand = self.region_cells.get(key) or self.region_cells.get(str(cc[i])) \
                    or self._country_cells(str(cc[i]))
                out[i] = self._nearest(lat[[i]], lon[[i]], cand)[0]
        if self.scheme == "country":
            keys = {k: i for i, k in enumerate(self.table["key"])}
            for i in np.flatnonzero(~has):
                out[i] = keys.get(str(cc[i]).upper(), -1)
        return out

    def _country_cells(self, cc: str) -> list[int] | None:
        ids = np.flatnonzero(self.table["country_code"].to_numpy() == cc)
        return ids.tolist() if len(ids) else None

    def _nearest(self, lat: np.ndarray, lon: np.ndarray, cand: list[int] | None) -> np.ndarray:
        ids = np.arange(len(self.table)) if not cand else np.asarray(cand)
        c = self.table.iloc[ids]
        d = pairwise_km(lat, lon, c["lat"].to_numpy(), c["lon"].to_numpy())
        return ids[d.argmin(1)]

    def country_mask(self, codes) -> np.ndarray:
        """Boolean matrix (N, C): which cells lie in each row's country (for label-only rows)."""
        cell_cc = self.table["country_code"].to_numpy()
        return np.stack([cell_cc == str(c).upper() for c in codes]) if len(codes) else np.zeros((0, len(self)), bool)

    def countries(self) -> list[str]:
        """Sorted country codes that have at least one cell."""
        return sorted(set(self.table["country_code"]))

    # -- serialisation (plain values only, for torch.load(weights_only=True)) ----------------
    def to_state(self) -> dict:
        t = self.table
        return {"scheme": self.scheme, "params": dict(self.params),
                "region_cells": {k: [int(x) for x in v] for k, v in self.region_cells.items()},
                "table": {c: [v.item() if hasattr(v, "item") else v for v in t[c].tolist()] for c in t.columns}}

    @classmethod
    def from_state(cls, state: dict) -> "CellSet":
        return cls(state["scheme"], _named(pd.DataFrame(state["table"])),
                   {k: list(v) for k, v in state["region_cells"].items()}, dict(state["params"]))


def _named(t: pd.DataFrame) -> pd.DataFrame:
    """Cells of places without an admin1 label (Singapore, Vatican) are named after their country:
    "" -> "Singapore", " (1/2)" -> "Singapore (1/2)" (older checkpoints stored the empty names)."""
    blank = t["name"].astype(str).str.strip().eq("") | t["name"].astype(str).str.startswith(" ")
    if blank.any():
        t = t.copy()
        t.loc[blank, "name"] = [country_name(c) + n for c, n in zip(t.loc[blank, "country_code"],
                                                                    t.loc[blank, "name"].astype(str).str.rstrip())]
    return t


def _finish(rows: list[dict]) -> pd.DataFrame:
    t = pd.DataFrame(rows)
    t["country"] = [country_name(c) for c in t["country_code"]]
    cols = ["key", "name", "country_code", "country", "admin1", "lat", "lon", "n_train"]
    return _named(t[cols].reset_index(drop=True))


def _region_frame(train: pd.DataFrame) -> pd.DataFrame:
    """Training locations with coordinates, one row each, with country_code/admin1 filled."""
    loc = train.drop_duplicates("location_id")
    loc = loc[loc["lat"].notna()].copy()
    miss = (loc["country_code"] == "") | (loc["admin1"] == "")
    if miss.any():
        geo = reverse_geocode(loc.loc[miss, "lat"], loc.loc[miss, "lon"])
        loc.loc[miss, "country_code"] = [g["country_code"] if not c else c
                                         for g, c in zip(geo, loc.loc[miss, "country_code"])]
        loc.loc[miss, "admin1"] = [g["admin1"] if not a else a for g, a in zip(geo, loc.loc[miss, "admin1"])]
    return loc


def _kmeans_sphere(lat: np.ndarray, lon: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k-means on unit vectors (spherical clustering); returns labels (N,)."""
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(to_xyz(lat, lon))


def build_cells(train: pd.DataFrame, scheme: str = "geocells", *, min_size: int = 8, max_size: int = 40,
                resolution: int = 2, seed: int = 0, label_only_countries: bool = True) -> CellSet:
    """Build a :class:`CellSet` from training rows (a manifest DataFrame).

    ``min_size``/``max_size`` (geocells) count training *locations*; ``resolution`` is the H3
    resolution for ``grid`` (2: ~87,000 km² hexagons). Countries present only as label-only rows
    get a cell at their training-free reference point when ``label_only_countries`` (country scheme).
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown cell scheme {scheme!r}; choose one of {SCHEMES}")
    loc = _region_frame(train)
    rows: list[dict] = []
    regions: dict[str, list[int]] = {}
    if scheme in ("country", "admin1"):
        key_of = (lambda r: r.country_code) if scheme == "country" else (lambda r: f"{r.country_code}/{r.admin1}")
        loc["key"] = [key_of(r) for r in loc.itertuples()]
        for key, g in loc.groupby("key", sort=True):
            la, lo = spherical_mean(g["lat"], g["lon"])
            cc = g["country_code"].iloc[0]
            a1 = "" if scheme == "country" else g["admin1"].iloc[0]
            regions[key] = [len(rows)]
            rows.append({"key": key, "name": a1 or country_name(cc), "country_code": cc, "admin1": a1,
                         "lat": la, "lon": lo, "n_train": len(g)})
        if scheme == "country" and label_only_countries:
            from model.data.countries import country_centroid

            extra = sorted(set(train.loc[train["lat"].isna(), "country_code"]) - set(regions) - {""})
            for cc in extra:
                c = country_centroid(cc)
                if c is None:
                    continue
                regions[cc] = [len(rows)]
                rows.append({"key": cc, "name": country_name(cc), "country_code": cc, "admin1": "",
                             "lat": c[0], "lon": c[1], "n_train": 0})
    elif scheme == "grid":
        import h3

        loc["key"] = [h3.latlng_to_cell(a, b, resolution) for a, b in zip(loc["lat"], loc["lon"])]
        for key, g in loc.groupby("key", sort=True):
            la, lo = spherical_mean(g["lat"], g["lon"])
            cc = g["country_code"].mode().iloc[0]
            a1 = g["admin1"].mode().iloc[0]
            rows.append({"key": key, "name": f"{a1}, {cc}" if a1 else cc, "country_code": cc, "admin1": a1,
                         "lat": la, "lon": lo, "n_train": len(g)})
    else:
        rows, regions = _geocells(loc, min_size, max_size, seed)
    if not rows:
        n = train["location_id"].nunique() if len(train) else 0
        hint = ("" if scheme == "country" else
                "; a manifest with country labels only (e.g. an ImageFolder import) trains with --cells country")
        raise ValueError(f"no {scheme} cells: none of the {n} training location(s) has "
                         f"{'a country label' if scheme == 'country' else 'coordinates'}{hint}")
    params = {"min_size": min_size, "max_size": max_size, "resolution": resolution, "seed": seed}
    return CellSet(scheme, _finish(rows), regions, params)


def _geocells(loc: pd.DataFrame, min_size: int, max_size: int, seed: int) -> tuple[list[dict], dict]:
    """Adaptive cells from admin1 regions: merge small ones within a country, split big ones."""
    loc = loc.assign(region=[f"{c}/{a}" for c, a in zip(loc["country_code"], loc["admin1"])])
    groups: list[list[str]] = []  # each final pre-split cell = a list of region keys
    for cc, g in loc.groupby("country_code", sort=True):
        sizes = g.groupby("region").size().to_dict()
        cents = {r: spherical_mean(x["lat"], x["lon"]) for r, x in g.groupby("region")}
        clusters = {r: [r] for r in sizes}
        # Merge the smallest cluster into its nearest neighbour until all reach min_size (or one is left).
        while len(clusters) > 1:
            small = [r for r in clusters if sum(sizes[x] for x in clusters[r]) < min_size]
            if not small:
                break
            r = min(small, key=lambda x: sum(sizes[y] for y in clusters[x]))
            others = [o for o in clusters if o != r]
            d = pairwise_km([cents[r][0]], [cents[r][1]], [cents[o][0] for o in others], [cents[o][1] for o in others])[0]
            tgt = others[int(d.argmin())]
            clusters[tgt] += clusters.pop(r)
            sub = g[g["region"].isin(clusters[tgt])]
            cents[tgt] = spherical_mean(sub["lat"], sub["lon"])
        groups += list(clusters.values())
    rows: list[dict] = []
    regions: dict[str, list[int]] = {}
    for members in groups:
        sub = loc[loc["region"].isin(members)]
        k = max(1, math.ceil(len(sub) / max_size))
        labels = _kmeans_sphere(sub["lat"].to_numpy(), sub["lon"].to_numpy(), k, seed) if k > 1 else np.zeros(len(sub), int)
        ids = []
        for j in range(k):
            part = sub[labels == j]
            if part.empty:
                continue
            la, lo = spherical_mean(part["lat"], part["lon"])
            cc = part["country_code"].iloc[0]
            a1 = part["admin1"].mode().iloc[0]
            name = a1 if len(members) == 1 else f"{a1} and around"
            if k > 1:
                name += f" ({j + 1}/{k})"
            ids.append(len(rows))
            rows.append({"key": f"{'+'.join(sorted(members))}#{j}", "name": name, "country_code": cc,
                         "admin1": a1, "lat": la, "lon": lo, "n_train": len(part)})
        for m in members:
            regions[m] = ids
    return rows, regions
