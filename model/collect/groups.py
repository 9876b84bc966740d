"""Location ids, 1 km location groups and grouped, country-stratified train/val/test splits.

``group_id``: locations closer than ``GROUP_KM`` (1 km, great-circle) to each other, directly or
through a chain, share a group, so a split never puts near-identical places on both sides.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from model.geo import haversine_km

GROUP_KM = 1.0


def location_id(key: str) -> str:
    """A 16-hex-digit id derived from a panorama id / path (stable, reveals no coordinates)."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def group_ids(location_ids: list[str], lats, lons, km: float = GROUP_KM) -> list[str]:
    """Group id per location (12 hex digits); locations without coordinates form their own group.

    Union-find over pairs closer than ``km`` kilometres, found through H3 cells (resolution 6,
    edge ~3.2 km, searched with their neighbours), so it scales to millions of points.
    """
    import h3

    n = len(location_ids)
    lats, lons = np.asarray(lats, float), np.asarray(lons, float)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    cells: dict[str, list[int]] = {}
    for i in range(n):
        if np.isfinite(lats[i]) and np.isfinite(lons[i]):
            cells.setdefault(h3.latlng_to_cell(lats[i], lons[i], 6), []).append(i)
    for cell, members in cells.items():
        near = [j for c in h3.grid_disk(cell, 1) for j in cells.get(c, [])]
        cand = np.array(near)
        for i in members:
            d = haversine_km(lats[i], lons[i], lats[cand], lons[cand])
            for j in cand[np.asarray(d) < km]:
                ri, rj = find(i), find(int(j))
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    # name each group after its smallest location id, so ids do not depend on row order
    members_of: dict[int, list[str]] = {}
    for i in range(n):
        members_of.setdefault(find(i), []).append(location_ids[i])
    name = {root: hashlib.sha1(min(ids).encode()).hexdigest()[:12] for root, ids in members_of.items()}
    return [name[find(i)] for i in range(n)]


def grouped_split(df: pd.DataFrame, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
                  seed: int = 0, strata: str = "country_code") -> pd.Series:
    """A ``split`` value per row: whole groups go to train/val/test, stratified by ``strata``.

    Within each stratum the groups are shuffled (seeded) and cut by cumulative fraction, so small
    strata keep their groups in train first. Deterministic for a given set of groups and seed.
    """
    f = np.asarray(fractions, float)
    if len(f) != 3 or (f < 0).any() or f.sum() <= 0:
        raise ValueError(f"split fractions must be three non-negative numbers, got {fractions}")
    cum = np.cumsum(f / f.sum())
    out = pd.Series("", index=df.index, dtype=object)
    groups = df.groupby("group_id", sort=True)[strata].first()
    for _, gids in groups.groupby(groups.fillna(""), sort=True):
        ids = sorted(gids.index)
        rng = np.random.default_rng([seed, int(hashlib.sha1(str(_).encode()).hexdigest()[:8], 16)])
        ids = [ids[k] for k in rng.permutation(len(ids))]
        for k, gid in enumerate(ids):
            pos = (k + 0.5) / len(ids)
            out[df["group_id"] == gid] = ("train", "val", "test")[int(np.searchsorted(cum, pos, side="right"))
                                                                  if pos < cum[-1] else 2]
    return out


def parse_fractions(spec: str) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` or ``"80/10/10"`` -> normalised (train, val, test) fractions."""
    parts = [p for p in spec.replace("/", ",").split(",") if p.strip()]
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"--split wants three numbers like 0.8,0.1,0.1, got {spec!r}") from None
    if len(vals) != 3 or min(vals) < 0 or sum(vals) <= 0:
        raise ValueError(f"--split wants three non-negative numbers like 0.8,0.1,0.1, got {spec!r}")
    s = sum(vals)
    return vals[0] / s, vals[1] / s, vals[2] / s
