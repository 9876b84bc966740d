"""Location ids, 1 km location groups and grouped, country-stratified train/val/test splits.

``group_id``: locations closer than ``GROUP_KM`` (1 km, great-circle) to each other, directly or
through a chain, share a group, so a split never puts near-identical places on both sides.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from model.geo import EARTH_RADIUS_KM

GROUP_KM = 1.0


def location_id(key: str) -> str:
    """A 16-hex-digit id derived from a panorama id / path (stable, reveals no coordinates)."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def group_ids(location_ids: list[str], lats, lons, km: float = GROUP_KM) -> list[str]:
    """Group id per location (12 hex digits); locations without coordinates form their own group.

    Connected components of the "closer than ``km`` kilometres" graph (great-circle distance,
    found as chord distance between unit vectors with a k-d tree, so it scales to millions).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(location_ids)
    lats, lons = np.asarray(lats, float), np.asarray(lons, float)
    ok = np.flatnonzero(np.isfinite(lats) & np.isfinite(lons))
    pairs = np.zeros((0, 2), int)
    if len(ok) > 1:
        la, lo = np.radians(lats[ok]), np.radians(lons[ok])
        xyz = np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])
        chord = 2 * np.sin(km / (2 * EARTH_RADIUS_KM))
        found = cKDTree(xyz).query_pairs(chord * (1 - 1e-12), output_type="ndarray")
        pairs = ok[found] if len(found) else pairs
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    # name each group after its smallest location id, so ids do not depend on row order
    first: dict[int, str] = {}
    for c, lid in zip(comp, location_ids):
        if c not in first or lid < first[c]:
            first[c] = lid
    name = {c: hashlib.sha1(lid.encode()).hexdigest()[:12] for c, lid in first.items()}
    return [name[c] for c in comp]


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
    assign: dict[str, str] = {}
    groups = df.groupby("group_id", sort=True)[strata].first()
    for stratum, gids in groups.groupby(groups.fillna(""), sort=True):
        ids = sorted(gids.index)
        rng = np.random.default_rng([seed, int(hashlib.sha1(str(stratum).encode()).hexdigest()[:8], 16)])
        for k, idx in enumerate(rng.permutation(len(ids))):
            pos = (k + 0.5) / len(ids)
            assign[ids[idx]] = ("train", "val", "test")[min(2, int(np.searchsorted(cum, pos, side="right")))]
    return df["group_id"].map(assign).astype(object)


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
