"""The geolocation network: backbone trunk (frozen) -> tail (optionally fine-tuned) -> head, and the
decoding of the head's coordinate regression.

The head (``model.net.heads``; the default is ``GeoHead``) maps pooled features ``(B, D)`` to cell
logits ``(B, C)`` and a coordinate regression: either an in-cell offset per cell ``(B, C, 2)`` (OSV-5M
style: predict the cell, then the offset from its centroid, in units of 1000 km east/north:
:func:`offset_to_latlon`) or direct unit-vector regression ``(B, 3)`` (:func:`xyz_to_latlon`).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from model.geo import EARTH_RADIUS_KM, from_xyz

OFFSET_UNIT_KM = 1000.0


class GeoNet(nn.Module):
    """Backbone + head. ``start_block`` splits the backbone: blocks before it are the frozen trunk
    (cacheable), blocks from it on are the tail (fine-tuned when ``finetune``).

    ``forward(x)`` images (B, 3, S, S) -> head outputs; ``forward_cached(h)`` trunk maps
    (B, C', h, w) -> head outputs; ``forward_features(f)`` pooled (B, D) -> head outputs. ``head``: any
    head of ``model.net.heads`` (pooled features (B, D) -> the head output dict).
    """

    def __init__(self, backbone: nn.Module, head: nn.Module, start_block: int = 0):
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
