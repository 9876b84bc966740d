"""Streaming shards: a data set as WebDataset tar shards plus an index and a pixel-free sample table.

Write (see ``docs/shards.md``)::

    python -m model.shards write --data MANIFEST --out DIR [--shard-size 1000] [--max-side PX] [--workers N]
    python -m model.shards info DIR
    python -m model.shards verify DIR

Public API (stable names; the training and evaluation code builds on these):

``is_shard_dir(path) -> bool``
    True for a folder holding ``index.json``.
``read_table(dir) -> pandas.DataFrame``
    One row per sample in index order, never reading a tar: the normalised manifest columns of
    :func:`model.data.manifest.read_manifest` (image, location_id, group_id, source, view, heading, lat, lon,
    country_code, country, admin1, split, extras), ``path`` = ``"<abs dir>/<shard>#<key>"``, then ``shard``,
    ``key``, ``row`` (0..N-1 == position), ``source_row`` (the manifest's data row / the writer's input
    number), ``byte_offset``, ``byte_size``. ``read_manifest(DIR)`` returns exactly this for a shard folder.
``ShardStream(dir, rows=None, transform=None, crop=0.0, shuffle=0, seed=0, rank=None, world=None)``
    ``torch.utils.data.IterableDataset`` of ``(tensor, row_id: int)``; ``set_epoch(epoch)``; ``len()`` =
    samples this rank yields this epoch; ``samples_per_rank(epoch)``. Every kept row once per epoch over
    all ranks x DataLoader workers. See :mod:`model.shards.stream`.
``open_sample(path) -> PIL.Image.Image``
    One ``"<dir>/<shard>#<key>"`` sample (one seek + read); :func:`model.data.images.open_image` delegates
    such paths here, so code that opens ``df["path"]`` works on shard tables unchanged. Raises
    :class:`model.data.images.ImageLoadError` naming the sample.
``ShardSetWriter(out, *, identity, source=None, shard_size=1000, max_side=None, quality=95)``
    Streaming writer for importers: ``.resume_at``, ``.complete``, ``.add(row, image_bytes, name=None)``,
    ``.add_encoded(row, jpeg, name=None)``, ``.skip(name, reason)``, ``.close() -> index``; a context manager.
``write_manifest_shards(manifest, out, *, shard_size=1000, max_side=None, quality=95, workers=0) -> index``
    What ``python -m model.shards write`` runs.
``verify(dir, decode=True, workers=0) -> list[str]``, ``info(dir) -> str``, ``load_index(dir) -> dict``
``ShardError`` (a ValueError): a refused or unusable shard folder, with a message that says why.
"""
from __future__ import annotations

import importlib

from .format import ShardError, is_shard_dir, load_index

# The rest loads on first use, so that code which only asks "is this a shard folder?" (model.data.manifest)
# does not import torch, webdataset or pyarrow.
_LAZY = {"ShardStream": "stream", "read_table": "table", "info": "check",
         "verify": "check", "write_manifest_shards": "write", "ShardSetWriter": "writer"}
__all__ = ["ShardError", "ShardSetWriter", "ShardStream", "info", "is_shard_dir", "load_index", "open_sample",
           "read_table", "verify", "write_manifest_shards"]


def __getattr__(name: str):
    if name == "open_sample":  # a sample opens like any image file: model.data.images.open_image
        from model.data.images import open_image

        return open_image
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
