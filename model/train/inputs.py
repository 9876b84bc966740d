"""Training targets and the cached training inputs (``--mode frozen`` and the cached ``finetune``).

Every kind of training input (this module's :class:`CachedInputs`, :class:`model.train.images.ImageInputs`)
offers the same three things to the epoch loop of :mod:`model.train.loop`:

- ``batches(idx, rng, training, epoch, dist, batch_size)`` yields ``(x, rows, scale)``: a batch, the row
  ids of its samples (targets are looked up by row id) and the factor that makes a data-parallel
  rank's loss the global batch's mean (None: each rank's local mean, DDP averages);
- ``fwd(net)``: the module that maps such a batch to the head outputs (what DDP wraps and
  ``--compile`` compiles);
- ``count(idx, dist)``: how many samples this process sees in a pass (the progress bar's total).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import torch
from torch import nn

from model.net.cells import CellSet
from model.device import CPU, Runtime
from model.data.features import extract, pooled
from model.net.inference import cell_country_index
from model.data.loader import shard_members
from model.net.network import GeoNet, latlon_to_offset

if TYPE_CHECKING:
    from .config import TrainConfig


def row_targets(df: pd.DataFrame, cells: CellSet) -> dict[str, torch.Tensor]:
    """Per-row tensors (N,): lat/lon (NaN if unknown), cell id, offset from its centroid (N, 2), the row's
    country as an index of the cell table's countries (-1 = none; also the country head's class) and
    whether the row has a country label (``has_country``). The loss's country mask (B, C) is made per
    batch by :func:`batch_targets` (a dense (N, C) mask would not fit 10^6 rows x 10^4 cells)."""
    cell = cells.assign(df["lat"], df["lon"], df["country_code"], df["admin1"])
    t = cells.table
    c = np.clip(cell, 0, None)
    off = latlon_to_offset(t["lat"].to_numpy()[c], t["lon"].to_numpy()[c], df["lat"].to_numpy(), df["lon"].to_numpy())
    off = np.nan_to_num(off)
    codes, _ = cell_country_index(t)
    cpos = {c: i for i, c in enumerate(codes)}
    cidx = np.array([cpos.get(c, -1) for c in df["country_code"]])
    return {"country_idx": torch.tensor(cidx, dtype=torch.long),
            "lat": torch.tensor(df["lat"].to_numpy(), dtype=torch.float32),
            "lon": torch.tensor(df["lon"].to_numpy(), dtype=torch.float32),
            "cell": torch.tensor(c, dtype=torch.long),
            "offset": torch.tensor(off, dtype=torch.float32),
            "has_country": torch.tensor((df["country_code"] != "").to_numpy())}


def batch_targets(tg: dict[str, torch.Tensor], rows: torch.Tensor, cell_cidx: torch.Tensor) -> dict[str, torch.Tensor]:
    """The targets of rows ``rows`` (B,) plus ``country_mask`` (B, C): the cells in each row's country
    (``cell_cidx`` (C,): each cell's country index), as :meth:`model.net.cells.CellSet.country_mask`."""
    b = {k: v[rows] for k, v in tg.items()}
    b["country_mask"] = cell_cidx[None, :] == b["country_idx"][:, None]
    return b


def usable(df: pd.DataFrame, cells: CellSet) -> np.ndarray:
    """Rows that can supervise: coordinates, or a country that has cells."""
    ccs = set(cells.table["country_code"])
    return (df["lat"].notna() | df["country_code"].isin(ccs)).to_numpy()


class Method(nn.Module):
    """``forward(x) = net.<method>(x)``: a module whose forward is a training entry point of the network
    (DDP wraps it, ``torch.compile`` compiles it; the network's own state dict is what gets saved)."""

    def __init__(self, net: nn.Module, method: str):
        super().__init__()
        self.net, self.method = net, method

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return getattr(self.net, self.method)(x)


class CachedInputs:
    """Inputs for cached training: clean maps for every row, augmented rounds for training rows."""

    def __init__(self, net: GeoNet, df: pd.DataFrame, train_idx: np.ndarray, cfg: TrainConfig, pool: bool, dist=None,
                 runtime: Runtime = CPU):
        cache = None if cfg.no_cache else (cfg.cache or None)  # --no-cache: in memory only
        bb, sb = net.backbone, net.start_block
        if pool and shard_members(df["path"].iloc[:1].tolist()) is not None:
            sb = 0  # shard data (any size): pooled features straight away, never the trunk maps (~70 GB/10^6)
        extract_fn, pooled_fn = (dist.extract, dist.pooled) if dist is not None else (extract, pooled)
        self.clean, self.ok = extract_fn(bb, df["path"].tolist(), start_block=sb, crop=cfg.crop, cache_root=cache,
                                         desc="features (clean)", runtime=runtime)
        self.rounds = [extract_fn(bb, df["path"].iloc[train_idx].tolist(), start_block=sb, crop=cfg.crop,
                                  variant=f"aug{k}", seed=cfg.seed, cache_root=cache, desc=f"features (aug{k})",
                                  runtime=runtime)[0]
                       for k in range(1, cfg.aug_rounds + 1)]
        self.pos = {int(i): j for j, i in enumerate(train_idx)}
        self.pool = pool
        if pool:  # frozen mode: run the (frozen) tail once, keep pooled vectors
            self.clean = pooled_fn(bb, self.clean, sb, getattr(self.clean, "filename", None) and Path(self.clean.filename),
                                   runtime=runtime)
            self.rounds = [pooled_fn(bb, r, sb, getattr(r, "filename", None) and Path(r.filename), runtime=runtime)
                           for r in self.rounds]

    def batch(self, idx: np.ndarray, rng: np.random.Generator | None) -> torch.Tensor:
        """Inputs for rows ``idx``; with ``rng``, each training row takes a random round (clean or augmented)."""
        xs = []
        for i in idx:
            r = rng.integers(0, len(self.rounds) + 1) if (rng is not None and self.rounds) else 0
            xs.append(self.clean[i] if r == 0 else self.rounds[r - 1][self.pos[int(i)]])
        x = np.asarray(np.stack(xs), np.float32)
        if rng is not None and not self.pool and x.ndim == 4 and x.shape[-1] >= 6:
            x = _random_map_crop(x, rng)
        return torch.from_numpy(x)

    def batches(self, idx: np.ndarray, rng: np.random.Generator | None, training: bool, epoch: int = 1, dist=None,
                batch_size: int = 64) -> Iterator[tuple[torch.Tensor, np.ndarray, float | None]]:
        """Global batches of ``batch_size`` rows (shuffled by ``rng`` when training). Under torchrun every
        rank draws the same order and augmentation rounds and keeps its slice of each global batch; its
        loss is scaled by ``n_local * world / n_global`` so DDP's average is the global batch's mean."""
        order = rng.permutation(idx) if training else idx
        for s in range(0, len(order), batch_size):
            b = order[s:s + batch_size]
            x = self.batch(b, rng if training else None)
            if dist is None:
                yield x, b, None
            else:
                part = dist.shard(len(b))
                yield x[part], b[part], (part.stop - part.start) * dist.world / len(b)

    def count(self, idx: np.ndarray, dist=None) -> int:
        if dist is None:
            return len(idx)
        return len(idx) // dist.world  # about: each global batch is split over the ranks

    def fwd(self, net: GeoNet) -> nn.Module:
        """The network entry point matching these inputs (pooled features or trunk maps)."""
        return Method(net, "forward_features" if self.pool else "forward_cached")


def _random_map_crop(x: np.ndarray, rng: np.random.Generator, min_frac: float = 0.75) -> np.ndarray:
    """Feature-space random crop: a random window of the trunk maps (B, C, h, w), one size per batch,
    one position per sample (about a random crop of 56-100% of the image area, then resize)."""
    h, w = x.shape[-2:]
    s = int(rng.integers(int(np.ceil(h * min_frac)), h + 1))
    if s == h:
        return x
    oy = rng.integers(0, h - s + 1, len(x))
    ox = rng.integers(0, w - s + 1, len(x))
    return np.stack([m[:, a:a + s, b:b + s] for m, a, b in zip(x, oy, ox)])
