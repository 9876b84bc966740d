"""The answer's distribution over points on Earth, and the guess that maximises the expected score under it.

A place's answer is a probability per cell (C,). Where is the place inside a cell? At the cell's position
estimate (centroid moved by the predicted offset), or, with a retrieval gallery, at the training places
of that cell that look like it: each of the ``gallery.top_cells`` likeliest cells spreads its probability
over its look-alike places with weights ``exp((cos - max cos) / temperature)`` normalised *within the
cell* (so retrieval moves mass inside a cell, never between cells: the cells' masses stay the answer's
probabilities). The result is a point distribution: positions (K,) in degrees with weights (K,) summing
to 1, over the cells holding 99.9% of the probability (at most 256).

The best guess E is the candidate point with the highest expected GeoGuessr score under that
distribution; the candidates are every support point, M and the top-N cell positions, so E's expected
score is never below M's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.geo import geoscore, pairwise_km

from .inference import mass_cells
from .retrieval import Gallery, unit


@dataclass
class PointDistribution:
    """Points ``lat``/``lon`` (K,) degrees with weights ``w`` (K,) summing to 1; ``cell`` (K,) the cell each
    point's mass comes from; ``place`` (K,) its gallery index, -1 for a cell's position estimate."""

    lat: np.ndarray
    lon: np.ndarray
    w: np.ndarray
    cell: np.ndarray
    place: np.ndarray

    def expected_scores(self, lat, lon, map_size_km: float | None = None) -> np.ndarray:
        """Expected GeoGuessr points (N,) of guessing each of the points ``lat``/``lon`` (N,)."""
        d = pairwise_km(np.atleast_1d(np.asarray(lat, float)), np.atleast_1d(np.asarray(lon, float)),
                        self.lat, self.lon)
        return geoscore(d, map_size_km) @ self.w

    def expected_km(self, lat: float, lon: float) -> float:
        """Expected distance (km) between the point (``lat``, ``lon``) and the place."""
        return float(pairwise_km(np.array([lat]), np.array([lon]), self.lat, self.lon)[0] @ self.w)


def point_distribution(probs: np.ndarray, pos_lat: np.ndarray, pos_lon: np.ndarray,
                       embed: np.ndarray | None = None, gallery: Gallery | None = None) -> PointDistribution:
    """The answer's point distribution (module docstring) from cell probabilities ``probs`` (C,), the cells'
    position estimates ``pos_lat/pos_lon`` (C,), the place's embedding (H,) and the gallery."""
    keep = mass_cells(probs)
    p = probs[keep] / probs[keep].sum()
    lat, lon, w, cell, place = [], [], [], [], []
    spread = set()
    if gallery is not None and embed is not None and len(gallery):
        top = set(np.argsort(-probs)[: gallery.top_cells].tolist())
        q = unit(np.asarray(embed, np.float32)[None])[0]
        for j, pj in zip(keep.tolist(), p):
            m = np.flatnonzero(gallery.cell == j) if j in top else np.empty(0, int)
            if len(m):
                sims = gallery.embed[m] @ q
                v = np.exp((sims - sims.max()) / gallery.temperature)
                lat.append(gallery.lat[m]), lon.append(gallery.lon[m]), w.append(pj * v / v.sum())
                cell.append(np.full(len(m), j)), place.append(m)
                spread.add(j)
    rest = np.array([j for j in keep.tolist() if j not in spread], int)
    if len(rest):
        lat.append(pos_lat[rest]), lon.append(pos_lon[rest]), w.append(p[np.isin(keep, rest)])
        cell.append(rest), place.append(np.full(len(rest), -1))
    w_all = np.concatenate(w)
    return PointDistribution(np.concatenate(lat).astype(float), np.concatenate(lon).astype(float),
                             w_all / w_all.sum(), np.concatenate(cell), np.concatenate(place))


def best_guess(dist: PointDistribution, extra_lat, extra_lon,
               map_size_km: float | None = None) -> tuple[float, float, float]:
    """(lat, lon, expected score) of the candidate with the highest expected score under ``dist``; the
    candidates are ``dist``'s points and the points ``extra_lat/extra_lon`` (M, the top-N positions)."""
    c_lat = np.concatenate([np.atleast_1d(np.asarray(extra_lat, float)), dist.lat])
    c_lon = np.concatenate([np.atleast_1d(np.asarray(extra_lon, float)), dist.lon])
    s = dist.expected_scores(c_lat, c_lon, map_size_km)
    b = int(np.argmax(s))
    return float(c_lat[b]), float(c_lon[b]), float(s[b])
