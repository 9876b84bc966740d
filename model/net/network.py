"""The geolocation network: backbone trunk (frozen) -> tail (optionally fine-tuned) -> GeoHead.

``GeoHead`` maps pooled features ``(B, D)`` to cell logits ``(B, C)`` and a coordinate
regression: either an in-cell offset per cell ``(B, C, 2)`` (OSV-5M style: predict the cell, then
the offset from its centroid, in units of 1000 km east/north) or direct unit-vector regression
``(B, 3)``. Heads are small registries of plain modules.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model.geo import EARTH_RADIUS_KM, from_xyz

OFFSET_UNIT_KM = 1000.0
REGRESSIONS = ("offset", "direct", "none")


class GeoHead(nn.Module):
    """MLP head: features (B, D) -> dict(logits (B, C), offset (B, C, 2) | xyz (B, 3), embed (B, H),
    country_logits (B, K) when ``n_countries``)."""

    def __init__(self, in_dim: int, n_cells: int, hidden: int = 512, dropout: float = 0.3,
                 regression: str = "offset", n_countries: int = 0):
        super().__init__()
        if regression not in REGRESSIONS:
            raise ValueError(f"regression must be one of {REGRESSIONS}")
        self.regression = regression
        self.n_cells = n_cells
        self.trunk = nn.Sequential(nn.Dropout(dropout / 2), nn.Linear(in_dim, hidden), nn.LayerNorm(hidden),
                                   nn.GELU(), nn.Dropout(dropout))
        self.cls = nn.Linear(hidden, n_cells)
        if regression == "offset":
            self.reg = nn.Linear(hidden, n_cells * 2)
            nn.init.zeros_(self.reg.weight)
            nn.init.zeros_(self.reg.bias)
        elif regression == "direct":
            self.reg = nn.Linear(hidden, 3)
        # Optional country classifier (K countries of the cell table, sorted): a direct country signal
        # that re-weights the cells' country marginals at inference (see inference.combine_country).
        self.country = nn.Linear(hidden, n_countries) if n_countries else None

    def forward(self, f: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.trunk(f)
        out = {"logits": self.cls(h), "embed": h}
        if self.regression == "offset":
            out["offset"] = self.reg(h).view(-1, self.n_cells, 2)
        elif self.regression == "direct":
            out["xyz"] = self.reg(h)
        if self.country is not None:
            out["country_logits"] = self.country(h)
        return out


class GeoNet(nn.Module):
    """Backbone + head. ``start_block`` splits the backbone: blocks before it are the frozen trunk
    (cacheable), blocks from it on are the tail (fine-tuned when ``finetune``).

    ``forward(x)`` images (B, 3, S, S) -> head outputs; ``forward_cached(h)`` trunk maps
    (B, C', h, w) -> head outputs; ``forward_features(f)`` pooled (B, D) -> head outputs.
    """

    def __init__(self, backbone: nn.Module, head: GeoHead, start_block: int = 0):
        super().__init__()
        self.backbone, self.head, self.start_block = backbone, head, start_block

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self.backbone, "forward_trunk"):
            return self.backbone.forward_tail(self.backbone.forward_trunk(x, self.start_block), self.start_block)
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.head(self.features(x))

    def forward_cached(self, h: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.start_block == 0:
            return self.head(h)
        return self.head(self.backbone.forward_tail(h, self.start_block))

    def forward_features(self, f: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.head(f)


def offset_to_latlon(c_lat: np.ndarray, c_lon: np.ndarray, off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply offsets ``off`` (..., 2) in units of 1000 km (east, north) to centroids (degrees)."""
    north_km = off[..., 1] * OFFSET_UNIT_KM
    east_km = off[..., 0] * OFFSET_UNIT_KM
    lat = c_lat + np.degrees(north_km / EARTH_RADIUS_KM)
    coslat = np.maximum(np.cos(np.radians(c_lat)), 0.05)
    lon = c_lon + np.degrees(east_km / (EARTH_RADIUS_KM * coslat))
    lat = np.clip(lat, -89.9, 89.9)
    lon = (lon + 180.0) % 360.0 - 180.0
    return lat, lon


def latlon_to_offset(c_lat: np.ndarray, c_lon: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Offsets (..., 2) in units of 1000 km (east, north) from centroids to points (degrees)."""
    dlon = (np.asarray(lon) - c_lon + 180.0) % 360.0 - 180.0
    coslat = np.maximum(np.cos(np.radians(c_lat)), 0.05)
    east = np.radians(dlon) * EARTH_RADIUS_KM * coslat / OFFSET_UNIT_KM
    north = np.radians(np.asarray(lat) - c_lat) * EARTH_RADIUS_KM / OFFSET_UNIT_KM
    return np.stack([east, north], axis=-1)


def xyz_to_latlon(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Direct-regression output (..., 3) -> (lat, lon) degrees."""
    return from_xyz(xyz)
