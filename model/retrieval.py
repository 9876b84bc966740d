"""Retrieval refinement among training places (the "nearest photos you have seen" step of
PIGEON / OSV-5M baselines), stored in the checkpoint as a small gallery.

The classifier says *which cells*; the gallery says *where inside them*. For a query (one image or
fused views) the candidates are the training locations inside the ``top_cells`` most probable
cells; each gets the weight ``p(cell) * exp((cos - max cos) / temperature)`` from the cosine
similarity of head embeddings; the answer is the candidate that maximises the expected GeoGuessr
score under those weights (so a lone look-alike in an unlikely cell does not win on its own).

Gallery: one L2-normalised mean embedding ``(H,)`` per training location with coordinates,
its lat/lon (degrees) and cell id. About 2,000 x 512 float16 = 2 MB for the shared set.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .geo import geoscore, pairwise_km

DEFAULT_TOP_CELLS = 10
DEFAULT_TEMPERATURE = 0.03


@dataclass
class Gallery:
    """Training places: ``embed`` (M, H) float32 unit rows, ``lat``/``lon`` (M,) degrees, ``cell`` (M,) ids."""

    embed: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    cell: np.ndarray
    top_cells: int = DEFAULT_TOP_CELLS
    temperature: float = DEFAULT_TEMPERATURE

    def __len__(self) -> int:
        return len(self.lat)

    def to_state(self) -> dict:
        """Tensors and numbers only (loads with ``torch.load(weights_only=True)``); embeddings in float16."""
        return {"embed": torch.from_numpy(self.embed.astype(np.float16)),
                "lat": torch.from_numpy(self.lat.astype(np.float32)),
                "lon": torch.from_numpy(self.lon.astype(np.float32)),
                "cell": torch.from_numpy(self.cell.astype(np.int32)),
                "top_cells": int(self.top_cells), "temperature": float(self.temperature)}

    @classmethod
    def from_state(cls, s: dict) -> "Gallery":
        return cls(s["embed"].float().numpy(), s["lat"].double().numpy(), s["lon"].double().numpy(),
                   s["cell"].long().numpy(), int(s["top_cells"]), float(s["temperature"]))


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero). (N, H) -> (N, H)."""
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def build_gallery(embed: np.ndarray, rows: pd.DataFrame, cells, top_cells: int = DEFAULT_TOP_CELLS,
                  temperature: float = DEFAULT_TEMPERATURE) -> Gallery:
    """Gallery from per-image head embeddings ``embed`` (N, H) of manifest ``rows`` (aligned).

    Rows without coordinates are left out; views of a location are averaged (then normalised).
    """
    rows = rows.reset_index(drop=True)
    keep = rows["lat"].notna().to_numpy()
    e = unit(np.asarray(embed, np.float32))
    groups = rows[keep].groupby("location_id", sort=True).indices
    idx = np.flatnonzero(keep)
    first = np.array([idx[v[0]] for v in groups.values()], dtype=int)
    g = unit(np.stack([e[idx[v]].mean(0) for v in groups.values()])) if groups else np.zeros((0, e.shape[1]))
    lat, lon = rows["lat"].to_numpy(float)[first], rows["lon"].to_numpy(float)[first]
    cell = cells.assign(lat, lon, rows["country_code"].to_numpy()[first], rows["admin1"].to_numpy()[first])
    return Gallery(g.astype(np.float32), lat, lon, np.asarray(cell, int), top_cells, temperature)


def refine(probs: np.ndarray, query: np.ndarray, gallery: Gallery, map_size_km: float | None = None) -> dict | None:
    """Best guess among training places for cell probabilities ``probs`` (C,) and a query embedding (H,)
    (the mean of the views' embeddings). Returns ``lat``, ``lon`` (degrees), ``expected_score``
    (points under the candidate weights), ``neighbours`` (gallery indices, best first, up to 5) and
    their ``weights``; None when no training place lies in the top cells.
    """
    top = np.argsort(-probs)[: gallery.top_cells]
    m = np.flatnonzero(np.isin(gallery.cell, top))
    if len(m) == 0:
        return None
    q = unit(np.asarray(query, np.float32)[None])[0]
    sims = gallery.embed[m] @ q
    w = probs[gallery.cell[m]] * np.exp((sims - sims.max()) / gallery.temperature)
    w = w / w.sum()
    d = pairwise_km(gallery.lat[m], gallery.lon[m], gallery.lat[m], gallery.lon[m])  # (K, K) km
    exp_score = geoscore(d, map_size_km) @ w
    b = int(exp_score.argmax())
    order = np.argsort(-w)[:5]
    return {"lat": float(gallery.lat[m[b]]), "lon": float(gallery.lon[m[b]]), "expected_score": float(exp_score[b]),
            "neighbours": m[order].tolist(), "weights": w[order].tolist()}
