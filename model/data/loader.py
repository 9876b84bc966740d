"""The input pipeline: a torch ``DataLoader`` whose worker processes decode and augment images.

Every consumer (feature extraction, ``--mode full`` training, the streamed fine-tuning, evaluation)
iterates :class:`Loader`, which yields ``(x, rows)``: an image batch ``(B, 3, S, S)`` float32 and the
int64 row ids ``(B,)`` of the samples in it (targets are looked up by row id, so a folder manifest and
a shard folder feed the same loop, in whatever order the shards arrive).

- Folder data (a manifest of image files, or members of shards read by random access):
  :class:`ImageRows`, a map-style dataset driven by :class:`EpochSampler` (shuffled per epoch from
  ``(seed, epoch)``, split across torchrun ranks). Augmentations draw from a generator seeded by
  :func:`sample_seed` ``(seed, stream, row)``, so an image gets the same augmentation whatever the
  worker count, batch size or rank split.
- Shard folders (WebDataset tar shards, :mod:`model.shards`): ``ShardStream`` reads the shards
  sequentially, split across ranks and workers (every kept row once per epoch over all of them).
- Bad images never stop a run: the dataset returns a :class:`Failed` marker, :func:`collate` drops
  it from the batch, and :class:`Loader` logs each failed image once per process (training epochs,
  validation, the gallery and the evaluation of a run name it once), by name.

On CUDA batches are pinned (``pin_memory``) and each worker prefetches ``prefetch_factor`` batches;
map-style loaders keep their workers between epochs (``persistent_workers``), shard streams start
fresh workers each epoch (their epoch number must reach the workers' copies).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler

from model.device import CPU, Runtime
from .images import ImageLoadError, open_image
from .transforms import crop_bottom, eval_transform, train_transform

log = logging.getLogger("model.data.loader")
PREFETCH = 4  # batches each worker keeps ready (CUDA-sized batches take ~0.1-1 s to decode)
STREAM_EXTRACT, STREAM_TRAIN = 0, 1  # seed domains: cached augmented copies, per-epoch training draws
_REPORTED: set[str] = set()  # failures already logged by this process (each bad image is named once per run)


class Failed(NamedTuple):
    """A sample that could not be loaded: its row id and the reason (naming the file)."""

    row: int
    message: str


class Batch(NamedTuple):
    """A collated batch: images ``(B, 3, S, S)`` (None if every sample failed), row ids ``(B,)``, failures."""

    x: torch.Tensor | None
    rows: torch.Tensor
    failed: list


def transform_for(backbone: torch.nn.Module, train: bool) -> Callable:
    """The backbone's own preprocessing (PIL -> ``(3, S, S)``): its evaluation transform, or the training
    augmentations when ``train`` (``model.data.transforms.for_backbone`` where the checkout has it)."""
    try:
        from .transforms import for_backbone
    except ImportError:
        return (train_transform if train else eval_transform)(backbone.input_size, backbone.mean, backbone.std)
    return for_backbone(backbone, train)


def sample_seed(seed: int, stream: int, row: int, domain: int = STREAM_EXTRACT) -> int:
    """A 63-bit seed for one sample's augmentation, from the run's seed, the stream (the augmented copy
    ``k`` of a cache, or the training epoch) and the row: independent of workers, batches and ranks."""
    ss = np.random.SeedSequence([domain, int(seed) & 0xFFFFFFFF, int(stream) & 0xFFFFFFFF, int(row)])
    return int(ss.generate_state(2, np.uint64)[0] >> np.uint64(1))


def seeded(transform: Callable, img, seed: int) -> torch.Tensor:
    """``transform(img)`` with torch's global CPU generator seeded by ``seed`` and restored afterwards
    (torchvision's v2 transforms draw from it), so the caller's random stream (dropout) is untouched.
    Only the CPU generator: ``torch.manual_seed`` would also reseed every GPU's generator (the training
    process's dropout on CUDA, never restored) and costs ~0.15 ms per sample even without a GPU."""
    state = torch.random.get_rng_state()
    try:
        torch.default_generator.manual_seed(seed)
        return transform(img)
    finally:
        torch.random.set_rng_state(state)


class ImageRows(Dataset):
    """Map-style dataset over image files: key ``i`` or ``(i, epoch)`` -> ``(tensor, row)`` or :class:`Failed`.

    ``paths``: every row's image (a file, or ``<dir>/<shard>.tar#<key>``); ``rows``: the row ids to
    serve (default all); ``transform``: PIL -> tensor ``(3, S, S)``; ``crop``: bottom fraction hidden
    first; ``seed``: None for a deterministic transform, else each sample's transform runs under
    :func:`sample_seed` ``(seed, stream, row, domain)`` where ``stream`` is ``stream`` (a cached copy)
    or, when ``per_epoch``, the epoch the sampler passes along.
    """

    def __init__(self, paths: Sequence[str], transform: Callable, rows: Sequence[int] | None = None,
                 crop: float = 0.0, seed: int | None = None, stream: int = 0, per_epoch: bool = False):
        self.paths = list(paths)
        self.rows = np.arange(len(self.paths)) if rows is None else np.asarray(rows, np.int64)
        self.transform, self.crop, self.seed, self.stream, self.per_epoch = transform, crop, seed, stream, per_epoch

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key) -> tuple[torch.Tensor, int] | Failed:
        i, epoch = key if isinstance(key, tuple) else (key, 0)
        row = int(self.rows[i])
        try:
            img = crop_bottom(open_image(self.paths[row]), self.crop)
            if self.seed is None:
                return self.transform(img), row
            domain = STREAM_TRAIN if self.per_epoch else STREAM_EXTRACT
            return seeded(self.transform, img, sample_seed(self.seed, epoch if self.per_epoch else self.stream, row,
                                                           domain)), row
        except ImageLoadError as e:
            return Failed(row, str(e))


class EpochSampler(Sampler):
    """Keys ``(i, epoch)`` over ``n`` items: in order, or shuffled from ``(seed, epoch)``; under torchrun
    each rank takes every ``world``-th item of the same order (counts differ by at most one)."""

    def __init__(self, n: int, shuffle: bool = False, seed: int = 0, rank: int = 0, world: int = 1):
        self.n, self.shuffle, self.seed, self.rank, self.world, self.epoch = n, shuffle, seed, rank, world, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def order(self) -> np.ndarray:
        if not self.shuffle:
            idx = np.arange(self.n)
        else:
            idx = np.random.default_rng([int(self.seed) & 0xFFFFFFFF, self.epoch]).permutation(self.n)
        return idx[self.rank::self.world]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter([(int(i), self.epoch) for i in self.order()])

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.world))


def collate(samples: list) -> Batch:
    """Stack the loaded samples, drop the :class:`Failed` ones (kept in ``failed`` for reporting)."""
    good = [s for s in samples if not isinstance(s, Failed)]
    failed = [tuple(s) for s in samples if isinstance(s, Failed)]
    x = torch.stack([s[0] for s in good]) if good else None
    return Batch(x, torch.tensor([int(s[1]) for s in good], dtype=torch.long), failed)


def _init_worker(_: int) -> None:
    torch.set_num_threads(1)  # workers decode; the training process keeps the cores' compute threads


class Loader:
    """A ``DataLoader`` over an image dataset yielding ``(x, rows)`` batches (failed samples dropped and
    logged once each, by name). ``set_epoch(e)`` reaches the sampler or the stream before each epoch."""

    def __init__(self, dataset: Dataset, batch_size: int, runtime: Runtime = CPU, sampler: Sampler | None = None,
                 workers: int | None = None, row_map: np.ndarray | None = None):
        self.dataset, self.sampler = dataset, sampler
        self.row_map = None if row_map is None else torch.as_tensor(row_map, dtype=torch.long)
        w = runtime.workers if workers is None else workers
        streaming = isinstance(dataset, IterableDataset)
        self.failed: dict[int, str] = {}
        self.loader = DataLoader(dataset, batch_size=batch_size, sampler=None if streaming else sampler,
                                 num_workers=w, collate_fn=collate, pin_memory=runtime.pin_memory,
                                 prefetch_factor=PREFETCH if w else None,
                                 persistent_workers=bool(w) and not streaming,
                                 worker_init_fn=_init_worker if w else None)

    def set_epoch(self, epoch: int) -> None:
        for obj in (self.sampler, self.dataset):
            if hasattr(obj, "set_epoch"):
                obj.set_epoch(epoch)

    def _batches(self) -> Iterator[Batch]:
        """The DataLoader's batches. Without workers the images are decoded in this process, one thread
        at a time: torch's intra-op threads only slow these small per-image ops down (10x measured on
        2 busy cores, docs/training.md); the caller's thread count is back for its own compute."""
        if self.loader.num_workers:
            yield from self.loader
            return
        it = iter(self.loader)
        while True:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                b = next(it)
            except StopIteration:
                return
            finally:
                torch.set_num_threads(threads)
            yield b

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for b in self._batches():
            for row, msg in b.failed:
                self.failed[row] = msg
                if msg not in _REPORTED:
                    _REPORTED.add(msg)
                    log.warning("skipping bad image: %s", msg)
            if b.x is not None and len(b.rows):
                yield b.x, (b.rows if self.row_map is None else self.row_map[b.rows])

    def __len__(self) -> int:
        return len(self.loader)


# -- shard folders --------------------------------------------------------------------------------
def shard_dir_of(data: str | Path | None) -> Path | None:
    """``data`` as a shard folder (:mod:`model.shards`), or None for a manifest / the default data."""
    if data is None:
        return None
    try:
        from model.shards import is_shard_dir
    except ImportError:  # shard support not installed in this checkout
        return None
    p = Path(data).expanduser()
    return p if is_shard_dir(p) else None


def shard_members(paths: Sequence[str]) -> Path | None:
    """The shard folder when every path is a member ``<dir>/<shard>.tar#<key>`` of one shard folder, else None."""
    if not paths or not all(".tar#" in p for p in paths):
        return None
    dirs = {str(Path(p.split("#", 1)[0]).parent) for p in paths}
    return shard_dir_of(dirs.pop()) if len(dirs) == 1 else None


def stream(shard_dir: Path, rows: Sequence[int], transform: Callable, crop: float = 0.0, shuffle: int = 0,
           seed: int = 0, rank: int = 0, world: int = 1) -> IterableDataset:
    """``model.shards.ShardStream`` over table rows ``rows`` of ``shard_dir`` (yields ``(tensor, row)``).

    Every row of ``rows`` unless ``rank``/``world`` name this process's share: the caller chose the rows
    (a rank's slice of a sharded extraction, rank 0 evaluating after a torchrun job), so the stream never
    splits them again by the process group's rank."""
    from model.shards import ShardStream

    return ShardStream(shard_dir, rows=np.asarray(rows, np.int64), transform=transform, crop=crop, shuffle=shuffle,
                       seed=seed, rank=rank, world=world)


def path_loader(paths: Sequence[str], transform: Callable, batch_size: int, runtime: Runtime = CPU,
                rows: Sequence[int] | None = None, crop: float = 0.0, seed: int | None = None,
                stream_id: int = 0) -> Loader:
    """A :class:`Loader` over ``paths[rows]`` yielding positions in ``paths`` as row ids.

    Members of one shard folder with a deterministic transform (``seed`` None) are streamed shard by
    shard (in shard order; the shard table's row ids are mapped back to positions); anything else is
    read file by file in ``rows`` order (random access), which keeps seeded augmentations per row.
    """
    rows = np.arange(len(paths)) if rows is None else np.asarray(rows, np.int64)
    sd = shard_members([paths[int(i)] for i in rows]) if seed is None else None
    if sd is not None:
        from model.shards import read_table

        table = read_table(sd)
        pos = {p: i for i, p in enumerate(paths)}
        to_pos = np.full(int(table["row"].max()) + 1, -1, np.int64)
        for r, p in zip(table["row"].to_numpy(), table["path"]):
            to_pos[int(r)] = pos.get(p, -1)
        wanted = set(int(i) for i in rows)
        keep = [int(r) for r, p in zip(table["row"].to_numpy(), table["path"]) if pos.get(p, -1) in wanted]
        return Loader(stream(sd, keep, transform, crop), batch_size, runtime, row_map=to_pos)
    ds = ImageRows(paths, transform, rows, crop, seed, stream_id)
    return Loader(ds, batch_size, runtime, EpochSampler(len(ds)))
