"""Retrieval among training places (the nearest-neighbour step of PIGEON / OSV-5M baselines),
stored in the checkpoint as a small gallery. Two uses, both after the classifier:

1. **Country vote** (:func:`reweight`): the training locations of the ``country_top`` likeliest
   countries vote with weights ``p(country) * exp((cos - max cos) / country_temperature)`` (cosine
   similarity of head embeddings; label-only places such as screenshots vote too). The cell
   probabilities are re-weighted so that each country's mass becomes
   ``(1 - country_weight) * p(country) + country_weight * vote(country)``.
2. **Where inside the cells** (:func:`refine`): the candidates are the training locations with
   coordinates inside the ``top_cells`` most probable cells, weighted by
   ``p(cell) * exp((cos - max cos) / temperature)``; the answer is the candidate that maximises the
   expected GeoGuessr score under those weights (a lone look-alike in an unlikely cell does not win).

Gallery: one L2-normalised mean embedding ``(H,)`` per training location, its lat/lon (degrees;
NaN for label-only places), cell id (-1 without coordinates) and country index (into the sorted
country codes of the cell table). About 2,400 x 512 float16 = 2.5 MB for the shared set.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from model.geo import geoscore, pairwise_km

DEFAULT_TOP_CELLS = 10
DEFAULT_TEMPERATURE = 0.03
DEFAULT_COUNTRY_TOP = 10
DEFAULT_COUNTRY_TEMPERATURE = 0.02
DEFAULT_COUNTRY_WEIGHT = 0.5


@dataclass
class Gallery:
    """Training places: ``embed`` (M, H) float32 unit rows, ``lat``/``lon`` (M,) degrees (NaN: label only),
    ``cell`` (M,) ids (-1: no coordinates), ``country`` (M,) indices into the cell table's sorted codes."""

    embed: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    cell: np.ndarray
    country: np.ndarray
    top_cells: int = DEFAULT_TOP_CELLS
    temperature: float = DEFAULT_TEMPERATURE
    country_top: int = DEFAULT_COUNTRY_TOP
    country_temperature: float = DEFAULT_COUNTRY_TEMPERATURE
    country_weight: float = DEFAULT_COUNTRY_WEIGHT

    def __len__(self) -> int:
        return len(self.lat)

    def to_state(self) -> dict:
        """Tensors and numbers only (loads with ``torch.load(weights_only=True)``); embeddings in float16."""
        return {"embed": torch.from_numpy(self.embed.astype(np.float16)),
                "lat": torch.from_numpy(self.lat.astype(np.float32)),
                "lon": torch.from_numpy(self.lon.astype(np.float32)),
                "cell": torch.from_numpy(self.cell.astype(np.int32)),
                "country": torch.from_numpy(self.country.astype(np.int32)),
                "top_cells": int(self.top_cells), "temperature": float(self.temperature),
                "country_top": int(self.country_top), "country_temperature": float(self.country_temperature),
                "country_weight": float(self.country_weight)}

    @classmethod
    def from_state(cls, s: dict) -> "Gallery":
        return cls(s["embed"].float().numpy(), s["lat"].double().numpy(), s["lon"].double().numpy(),
                   s["cell"].long().numpy(), s["country"].long().numpy(), int(s["top_cells"]),
                   float(s["temperature"]), int(s["country_top"]), float(s["country_temperature"]),
                   float(s["country_weight"]))

    @property
    def settings(self) -> dict:
        return {"top_cells": self.top_cells, "temperature": self.temperature, "country_top": self.country_top,
                "country_temperature": self.country_temperature, "country_weight": self.country_weight}


def unit(x: np.ndarray) -> np.ndarray:
    """Rows as float32 scaled to unit length (zero rows stay zero). (N, H) -> (N, H). The gallery's
    embeddings and the out-of-distribution check's features (``model.ood``) are normalised with it."""
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def build_gallery(embed: np.ndarray, rows: pd.DataFrame, cells, **settings) -> Gallery:
    """Gallery from per-image head embeddings ``embed`` (N, H) of manifest ``rows`` (aligned).

    Views of a location are averaged (then normalised). Label-only locations (no coordinates) are
    kept for the country vote when their country has cells; ``settings``: :class:`Gallery` fields.
    """
    rows = rows.reset_index(drop=True)
    codes = sorted(set(cells.table["country_code"]))
    pos = {c: i for i, c in enumerate(codes)}
    e = unit(np.asarray(embed, np.float32))
    keep = (rows["lat"].notna() | rows["country_code"].isin(pos)).to_numpy()
    groups = rows[keep].groupby("location_id", sort=True).indices
    idx = np.flatnonzero(keep)
    first = np.array([idx[v[0]] for v in groups.values()], dtype=int)
    g = unit(np.stack([e[idx[v]].mean(0) for v in groups.values()])) if groups else np.zeros((0, e.shape[1]))
    lat, lon = rows["lat"].to_numpy(float)[first], rows["lon"].to_numpy(float)[first]
    has = ~np.isnan(lat)
    cell = np.full(len(first), -1, int)
    if has.any():
        cell[has] = cells.assign(lat[has], lon[has], rows["country_code"].to_numpy()[first][has],
                                 rows["admin1"].to_numpy()[first][has])
    cc = rows["country_code"].to_numpy()[first]
    country = np.array([pos.get(c, -1) for c in cc], int)
    if has.any():  # a place's country is that of its cell (the reverse-geocoded label may differ at borders)
        cell_cc = cells.table["country_code"].to_numpy()
        country[has] = [pos[c] for c in cell_cc[cell[has]]]
    ok = country >= 0
    return Gallery(g[ok].astype(np.float32), lat[ok], lon[ok], cell[ok], country[ok], **settings)


def country_vote(probs: np.ndarray, query: np.ndarray, gallery: Gallery, cell_cidx: np.ndarray) -> np.ndarray | None:
    """Similarity-weighted vote (K,) of the gallery places of the likeliest countries, summing to 1.

    ``probs`` (C,) cell probabilities, ``query`` (H,) embedding, ``cell_cidx`` (C,) each cell's
    country index. None when no place of those countries is in the gallery.
    """
    k = int(cell_cidx.max()) + 1
    cp = np.bincount(cell_cidx, weights=probs, minlength=k)
    top = np.argsort(-cp)[: gallery.country_top]
    m = np.flatnonzero(np.isin(gallery.country, top))
    if len(m) == 0:
        return None
    q = unit(np.asarray(query, np.float32)[None])[0]
    sims = gallery.embed[m] @ q
    w = cp[gallery.country[m]] * np.exp((sims - sims.max()) / gallery.country_temperature)
    vote = np.bincount(gallery.country[m], weights=w, minlength=k)
    return vote / vote.sum()


def reweight(probs: np.ndarray, query: np.ndarray, gallery: Gallery, cell_cidx: np.ndarray) -> np.ndarray:
    """Cell probabilities (C,) whose country masses are mixed with the gallery's :func:`country_vote`
    (weight ``country_weight``); within a country the cells keep their relative probabilities."""
    if gallery.country_weight <= 0:
        return probs
    vote = country_vote(probs, query, gallery, cell_cidx)
    if vote is None:
        return probs
    cp = np.bincount(cell_cidx, weights=probs, minlength=len(vote))
    mix = (1 - gallery.country_weight) * cp + gallery.country_weight * vote
    out = probs * mix[cell_cidx] / np.maximum(cp[cell_cidx], 1e-300)
    return out / out.sum()


def candidates(probs: np.ndarray, query: np.ndarray, gallery: Gallery) -> tuple[np.ndarray, np.ndarray] | None:
    """The look-alike candidates for cell probabilities ``probs`` (C,) and a query embedding (H,): gallery
    indices (K,) of the training places with coordinates in the ``top_cells`` likeliest cells and their
    weights (K,) ``p(cell) * exp((cos - max cos) / temperature)``, summing to 1; None when there are none."""
    top = np.argsort(-probs)[: gallery.top_cells]
    m = np.flatnonzero(np.isin(gallery.cell, top))  # label-only places (cell -1) are never candidates
    if len(m) == 0:
        return None
    q = unit(np.asarray(query, np.float32)[None])[0]
    sims = gallery.embed[m] @ q
    w = probs[gallery.cell[m]] * np.exp((sims - sims.max()) / gallery.temperature)
    return m, w / w.sum()


def refine(probs: np.ndarray, query: np.ndarray, gallery: Gallery, map_size_km: float | None = None) -> dict | None:
    """Best guess among training places for cell probabilities ``probs`` (C,) and a query embedding (H,)
    (the mean of the views' embeddings). Returns ``lat``, ``lon`` (degrees), ``expected_score``
    (points under the candidate weights: it ranks the candidates, but those weights are sharp, so as a
    forecast it is far too sure; callers report :func:`model.net.inference.expected_score` instead),
    ``neighbours`` (gallery indices, best first, up to 5) and their ``weights``; None when no training
    place lies in the top cells.
    """
    c = candidates(probs, query, gallery)
    if c is None:
        return None
    m, w = c
    d = pairwise_km(gallery.lat[m], gallery.lon[m], gallery.lat[m], gallery.lon[m])  # (K, K) km
    exp_score = geoscore(d, map_size_km) @ w
    b = int(exp_score.argmax())
    order = np.argsort(-w)[:5]
    return {"lat": float(gallery.lat[m[b]]), "lon": float(gallery.lon[m[b]]), "expected_score": float(exp_score[b]),
            "neighbours": m[order].tolist(), "weights": w[order].tolist()}
