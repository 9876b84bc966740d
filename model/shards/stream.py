"""Stream decoded samples from a shard folder: :class:`ShardStream`, built on WebDataset's pipeline.

Per epoch the shards that hold kept rows are put in order (index order, or a permutation drawn from
``(seed, epoch)``, the same on every rank), dealt to ranks (``order[rank::world]``, as WebDataset's
``split_by_node``) and within a rank to DataLoader workers (``[worker::workers]``, as ``split_by_worker``):
every kept sample is read by exactly one rank and worker per epoch. Each worker reads its shards with
``webdataset.tarfile_to_samples`` (only the kept ``.jpg`` members are read), optionally shuffles in a
buffer of raw bytes (``webdataset.shuffle``, seeded by ``(seed, epoch, rank, worker)``), then decodes
(``model.data.images.open_image``), crops the bottom band and applies ``transform``.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import random
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import webdataset as wds
from PIL import Image
from torch.utils.data import IterableDataset, get_worker_info

from model.data.images import ImageLoadError, open_image
from model.data.transforms import check_crop, crop_bottom
from .format import IMAGE_EXT, ShardError, load_index

log = logging.getLogger("model.shards")


def resolve_rank(rank: int | None, world: int | None) -> tuple[int, int]:
    """(rank, world): the arguments when given, else torch.distributed's when initialised, else (0, 1)."""
    if rank is None and world is None:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank(), torch.distributed.get_world_size()
        return 0, 1
    if rank is None or world is None:
        raise ValueError("give both rank and world, or neither")
    if not (int(world) >= 1 and 0 <= int(rank) < int(world)):
        raise ValueError(f"rank {rank} is not in 0..world-1 (world {world})")
    return int(rank), int(world)


class _Reporter:
    """WebDataset exception handler that names the shard being read (once per shard) and continues."""

    def __init__(self) -> None:
        self.current = "?"
        self.reported: set[str] = set()

    def track(self, src):
        for s in src:
            self.current = Path(s["url"]).name
            yield s

    def __call__(self, exn: Exception) -> bool:
        if self.current not in self.reported:
            self.reported.add(self.current)
            msg = str(exn.args[0]).split(" @ ")[0] if exn.args else type(exn).__name__
            log.warning("%s: corrupt or truncated shard (%s: %s); skipped the rest of it", self.current,
                        type(exn).__name__, msg)
        return True


class ShardStream(IterableDataset):
    """Decoded samples of a shard folder as ``(tensor, row_id)`` pairs, for a torch DataLoader.

    ``rows``: the row ids to keep (e.g. ``table.row[table.split == "train"]``; None = all). ``transform``:
    PIL image -> tensor (None: the image as a uint8 tensor (3, H, W)). ``crop``: bottom fraction removed
    first (:func:`model.data.transforms.crop_bottom`). ``shuffle``: buffer size (0 = file order, shards in index
    order); with a buffer the shard order is shuffled too. ``rank``/``world``: this process among the
    torchrun processes (default: torch.distributed when initialised, else 0/1). Call :meth:`set_epoch`
    before each epoch (works with persistent workers: the epoch lives in shared memory). ``len()`` is the
    number of samples this rank yields in the current epoch (ranks can differ by up to a shard).
    A sample that fails to decode is logged as ``shard-000003.tar#000000042: <why>`` and skipped; an
    unreadable or truncated shard is logged by file name and the stream goes on with the next shard.
    """

    def __init__(self, dir: str | os.PathLike, rows: np.ndarray | None = None,
                 transform: Callable[[Image.Image], torch.Tensor] | None = None, crop: float = 0.0,
                 shuffle: int = 0, seed: int = 0, rank: int | None = None, world: int | None = None):
        super().__init__()
        self.dir = Path(dir).expanduser().resolve()
        index = load_index(self.dir)
        self.files = [e["file"] for e in index["shards"]]
        self.bounds = np.array([e["first_row"] for e in index["shards"]] + [index["samples"]], np.int64)
        n = int(index["samples"])
        if rows is None:
            self.keep = np.ones(n, bool)
        else:
            r = np.asarray(rows, dtype=np.int64).ravel()
            if r.size and (r.min() < 0 or r.max() >= n):
                raise ShardError(f"{self.dir}: row ids must be in 0..{n - 1}, got {r.min()}..{r.max()}")
            self.keep = np.zeros(n, bool)
            self.keep[r] = True
        counts = np.add.reduceat(self.keep.astype(np.int64), self.bounds[:-1]) if n else np.zeros(0, np.int64)
        self.shard_counts = np.where(np.diff(self.bounds) > 0, counts, 0)  # kept samples per shard
        self.transform, self.crop = transform, check_crop(crop)
        if int(shuffle) < 0:
            raise ValueError(f"shuffle buffer must be 0 or more, got {shuffle}")
        self.shuffle, self.seed = int(shuffle), int(seed)
        self.rank, self.world = resolve_rank(rank, world)
        self._epoch = mp.Value("q", 0, lock=False)

    # -- epochs and assignment ------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Set the epoch that the next iteration (in every worker) uses for its shard order and buffer."""
        self._epoch.value = int(epoch)

    @property
    def epoch(self) -> int:
        return int(self._epoch.value)

    def shard_order(self, epoch: int | None = None) -> list[int]:
        """Shard numbers holding kept rows, in this epoch's order (identical on every rank)."""
        ids = np.flatnonzero(self.shard_counts > 0)
        if self.shuffle:
            ids = np.random.default_rng([self.seed, self.epoch if epoch is None else int(epoch)]).permutation(ids)
        return [int(i) for i in ids]

    def rank_shards(self, rank: int | None = None, epoch: int | None = None) -> list[int]:
        """Shard numbers read by ``rank`` (default: this one) in ``epoch`` (default: the current one)."""
        return self.shard_order(epoch)[self.rank if rank is None else rank::self.world]

    def samples_per_rank(self, epoch: int | None = None) -> list[int]:
        """How many samples each rank yields in ``epoch`` (default: the current one)."""
        return [int(self.shard_counts[self.rank_shards(r, epoch)].sum()) for r in range(self.world)]

    def __len__(self) -> int:
        return int(self.shard_counts[self.rank_shards()].sum())

    # -- iteration ------------------------------------------------------------------------------------
    def _decode(self, sample: dict) -> tuple[torch.Tensor, int] | None:
        shard, key = Path(sample["__url__"]).name, sample["__key__"]
        try:
            img = open_image(sample[IMAGE_EXT], name=f"{shard}#{key}")
        except ImageLoadError as e:
            log.warning("skipped %s", e)
            return None
        except KeyError:
            log.warning("skipped %s#%s: no .%s member", shard, key, IMAGE_EXT)
            return None
        img = crop_bottom(img, self.crop)
        x = self.transform(img) if self.transform is not None else \
            torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)
        return x, int(key)

    def _selected(self, fname: str) -> bool:
        """Read only the kept samples' image members (the JSON metadata is in the table already)."""
        stem, _, ext = fname.partition(".")
        return ext == IMAGE_EXT and stem.isdigit() and int(stem) < len(self.keep) and bool(self.keep[int(stem)])

    def __iter__(self) -> Iterator[tuple[torch.Tensor, int]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        epoch, mine = self.epoch, self.rank_shards()
        if len(mine) < workers and worker == 0:
            log.warning("%s: rank %d reads %d shard(s) with %d loader workers; %d worker(s) idle (write smaller "
                        "shards: --shard-size)", self.dir, self.rank, len(mine), workers, workers - len(mine))
        urls = [str(self.dir / self.files[i]) for i in mine[worker::workers]]
        if not urls:
            return iter(())
        report = _Reporter()
        stages = [wds.SimpleShardList(urls), report.track,
                  wds.tarfile_to_samples(handler=report, select_files=self._selected)]
        if self.shuffle:
            seed = np.random.SeedSequence([self.seed, epoch, self.rank, worker]).generate_state(1)[0]
            stages.append(wds.shuffle(self.shuffle, initial=min(self.shuffle, 100), rng=random.Random(int(seed))))
        stages.append(wds.map(self._decode))
        return iter(wds.DataPipeline(*stages))
