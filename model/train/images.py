"""Image-level training inputs: ``--mode full`` (end to end) and the streamed ``finetune`` (no trunk cache).

Every epoch decodes the images again in DataLoader worker processes (:mod:`model.data.loader`) and applies
fresh training augmentations (the evaluation transform for validation). Sources:

- a folder manifest: a map-style dataset, shuffled per epoch from ``(seed, epoch)``, each image's
  augmentation seeded by ``(seed, epoch, row)`` (the same whatever ``--workers``); under torchrun each
  rank takes every ``world``-th row of the same order;
- a shard folder: ``model.shards.ShardStream`` with a shuffle buffer, shards split across ranks and
  workers (each kept row once per epoch over all of them; ranks may get uneven counts, which the
  epoch loop absorbs with DDP's ``join()``).

With ``--mode finetune`` the frozen trunk runs on the fly under ``no_grad`` (and the run's autocast):
only the tail and the head train, and nothing is cached, which is what data of 10^5-10^7 images needs
(the trunk cache would take ~70 GB per million images at block 13).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import math
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import torch
from torch import nn

from model.device import CPU, Runtime
from model.data.loader import EpochSampler, ImageRows, Loader, stream, transform_for
from .inputs import Method

if TYPE_CHECKING:
    from .config import TrainConfig

SHUFFLE_BUFFER = 2000  # samples ShardStream keeps to shuffle within (per worker)


def shard_source(df: pd.DataFrame) -> Path | None:
    """The shard folder ``df`` was read from (a :func:`model.shards.read_table` table), else None."""
    if not {"shard", "key", "row"} <= set(df.columns) or df.empty:
        return None
    first = str(df["path"].iloc[0])
    return Path(first.split("#", 1)[0]).parent if ".tar#" in first else None


class FrozenTrunk(nn.Module):
    """Images ``(B, 3, S, S)`` -> the frozen trunk (no gradients) -> the trainable tail and head."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            h = self.net.backbone.forward_trunk(x, self.net.start_block)
        return self.net.forward_cached(h)


class ImageInputs:
    """Batches of image tensors ``(B, 3, S, S)`` for rows of ``df`` (positions), from files or shards."""

    pool = False

    def __init__(self, net, df: pd.DataFrame, cfg: TrainConfig, runtime: Runtime = CPU, dist=None):
        bb = net.backbone
        self.paths = df["path"].tolist()
        self.crop, self.seed, self.runtime = cfg.crop, cfg.seed, runtime
        self.train_tf, self.eval_tf = transform_for(bb, True), transform_for(bb, False)
        self.frozen_trunk = cfg.mode == "finetune"
        self.shards = shard_source(df)
        if self.shards is not None:  # the stream yields shard-table row ids: map them to positions in df
            table_rows = df["row"].to_numpy(np.int64)
            self.table_rows = table_rows
            self.to_pos = np.full(int(table_rows.max()) + 1, -1, np.int64)
            self.to_pos[table_rows] = np.arange(len(df))
        self.ok = np.ones(len(df), bool)  # bad images are met (and skipped, named once) while loading
        self._loaders: dict = {}

    def fwd(self, net) -> nn.Module:
        return FrozenTrunk(net) if self.frozen_trunk else Method(net, "forward")

    def _loader(self, idx: np.ndarray, training: bool, dist, batch_size: int) -> Loader:
        """One loader per (rows, train/eval): map-style ones keep their worker processes between epochs."""
        key = (training, len(idx), hash(np.asarray(idx).tobytes()))
        if key in self._loaders:
            return self._loaders[key]
        rank, world = (dist.rank, dist.world) if dist is not None else (0, 1)
        bs = max(1, math.ceil(batch_size / world)) if training else batch_size
        tf = self.train_tf if training else self.eval_tf
        if self.shards is not None:
            ds = stream(self.shards, self.table_rows[idx], tf, self.crop, shuffle=SHUFFLE_BUFFER if training else 0,
                        seed=self.seed, rank=rank, world=world)
            loader = Loader(ds, bs, self.runtime, row_map=self.to_pos)
        else:
            ds = ImageRows(self.paths, tf, idx, self.crop, seed=self.seed if training else None, per_epoch=True)
            loader = Loader(ds, bs, self.runtime, EpochSampler(len(ds), shuffle=training, seed=self.seed,
                                                              rank=rank, world=world))
        self._loaders[key] = loader
        return loader

    def batches(self, idx: np.ndarray, rng: np.random.Generator | None, training: bool, epoch: int = 1, dist=None,
                batch_size: int = 64) -> Iterator[tuple[torch.Tensor, np.ndarray, float | None]]:
        """This rank's batches of rows ``idx`` (``--batch-size`` is the global batch: each of ``world`` ranks
        loads ``ceil(batch_size / world)``); validation rows are split over the ranks too."""
        loader = self._loader(np.asarray(idx), training, dist, batch_size)
        loader.set_epoch(epoch)
        for x, rows in loader:
            yield x, rows.numpy(), None

    def count(self, idx: np.ndarray, dist=None) -> int:
        return len(idx) if dist is None else math.ceil(len(idx) / dist.world)
