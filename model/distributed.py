"""Data-parallel training and feature extraction with ``torchrun`` (PyTorch DDP).

``torchrun --nproc_per_node N -m model.train ...`` runs N processes (NCCL on GPUs, one GPU per
process; gloo on the CPU); several nodes join through torchrun's own rendezvous (``--nnodes 2
--rdzv_backend c10d --rdzv_endpoint HOST:29500``, docs/training.md). :func:`from_env` sees torchrun's
``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` and returns a :class:`DistContext`, which
:func:`model.train.loop.fit` uses as follows:

- feature extraction (and pooling cached trunk maps) is sharded: rank r computes a contiguous
  slice of the images (each image's augmentation is seeded per image, so it is the one it gets in
  one process), rank 0 gathers the slices and writes the usual feature cache, every rank then reads
  it (or receives it over the network when its node does not share the cache folder);
- cached training: every rank draws the same global batch order (same seed); each takes its slice of
  every global batch (``--batch-size`` is the global batch), the trainable modules are wrapped in
  ``DistributedDataParallel`` and each local loss is scaled by ``n_local * world / n_global``,
  so the averaged gradient equals the single-process gradient of the global batch;
- image training (``--mode full``, the streamed ``finetune``, shard data): each rank reads its share
  of the rows (every ``world``-th of a shared order, or its shards) in local batches of
  ``ceil(batch_size / world)``; counts may differ between ranks, DDP's ``join()`` absorbs that;
- validation loss parts and metrics are pooled over ranks; early stopping and the LR schedule see the
  same numbers on every rank; only rank 0 writes files.

Cached runs equal a single-process run up to numerical noise when the head has no dropout (dropout
masks are drawn per process) and no BatchNorm (batch statistics are per process on CPU; on GPUs
the head's BatchNorm layers are converted to ``SyncBatchNorm`` for cached training; image training keeps
them per process, since its uneven batch counts and ``join()`` cannot run SyncBatchNorm).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as td
from torch import nn


@dataclass(frozen=True)
class DistContext:
    """This process's place in a data-parallel job."""

    rank: int
    world: int
    local_rank: int
    backend: str
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def local_world(self) -> int:
        """Processes on this node (torchrun's ``LOCAL_WORLD_SIZE``): they share its cores."""
        return int(os.environ.get("LOCAL_WORLD_SIZE", self.world))

    def shard(self, n: int) -> slice:
        """This rank's contiguous share of ``n`` items (sizes differ by at most one)."""
        return slice(self.rank * n // self.world, (self.rank + 1) * n // self.world)

    # -- collectives ---------------------------------------------------------------------------
    def barrier(self) -> None:
        td.barrier()

    def sum_parts(self, sums: dict[str, float], n: int) -> tuple[dict[str, float], int]:
        """Sum per-rank loss-part totals and row counts over all ranks (keys may differ per rank)."""
        allp: list = [None] * self.world
        td.all_gather_object(allp, (sums, n))
        tot: dict[str, float] = {}
        for s, _ in allp:
            for k, v in s.items():
                tot[k] = tot.get(k, 0.0) + v
        return tot, int(sum(c for _, c in allp))

    def gather_rows(self, part: np.ndarray, to_all: bool) -> np.ndarray | None:
        """Concatenate every rank's rows ``part`` (rank order) on rank 0, or on all ranks if ``to_all``.

        Shapes ``(n_r, ...)`` may differ in ``n_r``; a rank whose part is ``(n_r, 0)`` (nothing
        loaded) contributes zero rows of the common trailing shape.
        """
        meta: list = [None] * self.world
        td.all_gather_object(meta, (part.shape, str(part.dtype)))
        full = [m for m in meta if len(m[0]) > 1 and m[0][1] != 0] or meta
        tail, dtype = tuple(full[0][0][1:]), np.dtype(full[0][1])
        if part.ndim < 1 + len(tail) or part.shape[1:] != tail:
            part = np.zeros((part.shape[0],) + tail, dtype)
        n_max = max(m[0][0] for m in meta)
        buf = np.zeros((n_max,) + tail, dtype)
        buf[: len(part)] = part
        t = torch.from_numpy(buf).to(self.device)
        if to_all:
            outs = [torch.empty_like(t) for _ in range(self.world)]
            td.all_gather(outs, t)
        else:
            outs = [torch.empty_like(t) for _ in range(self.world)] if self.is_main else None
            td.gather(t, outs, dst=0)
            if not self.is_main:
                return None
        return np.concatenate([o.cpu().numpy()[: m[0][0]] for o, m in zip(outs, meta)])

    def gather_objects(self, obj) -> list:
        """Every rank's ``obj`` (picklable), in rank order, on every rank."""
        out: list = [None] * self.world
        td.all_gather_object(out, obj)
        return out

    # -- model ---------------------------------------------------------------------------------
    def wrap(self, entry: nn.Module, net: nn.Module | None = None, even_batches: bool = True) -> nn.Module:
        """DDP-wrap ``entry`` (a module whose forward is the training entry point of ``net``) so that its
        gradients are synchronised; on GPUs ``net``'s head BatchNorm layers become ``SyncBatchNorm`` when
        every rank runs the same number of batches (``even_batches``). With uneven batches (image inputs)
        they stay per-process BatchNorm: DDP's ``join()`` does not shadow SyncBatchNorm's collectives, so a
        rank that ran out of batches would leave the others waiting in their forward pass for good."""
        if self.device.type == "cuda" and net is not None and even_batches:
            net.head = nn.SyncBatchNorm.convert_sync_batchnorm(net.head)
        ids = [self.device.index] if self.device.type == "cuda" else None
        # every output enters the loss (run_epoch adds 0 * each), so every trainable parameter gets a gradient
        return nn.parallel.DistributedDataParallel(entry, device_ids=ids)

    def extract(self, backbone: nn.Module, paths: list[str], **kw) -> tuple[np.ndarray, np.ndarray]:
        """:func:`model.data.features.extract` with the images split over the ranks; same result and cache.

        Rank 0 writes the cache file; a rank that cannot see it afterwards (another node without the
        same ``--cache`` folder) gets the features over the network instead."""
        from .device import CPU
        from .data.features import DEFAULT_CACHE, cache_file, extract, load_cache, save_cache

        root = kw.pop("cache_root", DEFAULT_CACHE)
        tag = kw.get("runtime", CPU).tag
        file = cache_file(backbone, paths, kw.get("start_block", 0), kw.get("crop", 0.0), kw.get("variant", "clean"),
                          root, tag)
        hits = self.gather_objects(file is not None and load_cache(file) is not None)
        if all(hits):
            return load_cache(file)
        part = self.shard(len(paths))
        out, ok = extract(backbone, paths, cache_root=None, rows=(part.start, part.stop), **kw)
        mine = out[part] if out.ndim > 1 and out.shape[1] != 0 else np.zeros((part.stop - part.start, 0), out.dtype)
        if file is not None:
            full = self.gather_rows(mine, to_all=False)
            oks = self.gather_rows(ok[part].astype(np.uint8), to_all=False)
            if self.is_main:
                save_cache(file, full, oks.astype(bool))
            self.barrier()
            if all(self.gather_objects(load_cache(file) is not None)):
                return load_cache(file)
        full = self.gather_rows(mine, to_all=True)
        oks = self.gather_rows(ok[part].astype(np.uint8), to_all=True)
        return full, oks.astype(bool)

    def pooled(self, backbone: nn.Module, maps: np.ndarray, start_block: int, source: Path | None = None,
               **kw) -> np.ndarray:
        """:func:`model.data.features.pooled` split over the ranks; rank 0 writes its ``*.pooled.npy`` cache
        (ranks that cannot see it get the result over the network)."""
        from .data.features import pooled

        if start_block == 0:
            return np.asarray(maps, np.float32)
        file = source.with_suffix(".pooled.npy") if source is not None else None
        if file is not None and all(self.gather_objects(file.exists())):
            return np.load(file)
        part = self.shard(len(maps))
        mine = pooled(backbone, maps[part], start_block, None, **kw) if part.stop > part.start \
            else np.zeros((0, 0), np.float32)
        full = self.gather_rows(mine, to_all=file is None)
        if file is None:
            return full
        if self.is_main:
            tmp = file.with_suffix(".tmp.npy")
            np.save(tmp, full)
            os.replace(tmp, file)
        self.barrier()
        if all(self.gather_objects(file.exists())):
            return np.load(file)
        return self.gather_rows(mine, to_all=True)


def from_env(device: str = "auto") -> DistContext | None:
    """Join the process group that ``torchrun`` describes in the environment; None outside torchrun
    (or with ``WORLD_SIZE`` 1). ``device`` (``--device``): auto/cuda = this process's GPU
    (``LOCAL_RANK``) with NCCL when CUDA is available, else the CPU with gloo (also with ``--device cpu``
    or ``GEOLOC_DDP_BACKEND=gloo``). Several nodes: torchrun's rendezvous sets ``RANK``/``WORLD_SIZE``
    and ``MASTER_ADDR``, so the same call joins them (see docs/training.md)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    want = (device or "auto").strip().lower()
    if want.startswith("mps"):
        raise ValueError("--device mps runs in one process; torchrun needs CUDA GPUs (NCCL) or the CPU (gloo)")
    if want.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA GPU is visible to PyTorch; use --device cpu (gloo)")
    cuda = want != "cpu" and torch.cuda.is_available() and os.environ.get("GEOLOC_DDP_BACKEND", "") != "gloo"
    backend = "nccl" if cuda else "gloo"
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if not td.is_initialized():
        td.init_process_group(backend=backend)
    return DistContext(rank, world, local, backend, device)


def shutdown(ctx: DistContext | None) -> None:
    """Leave the process group (no barrier: rank 0 may still be writing and evaluating)."""
    if ctx is not None and td.is_initialized():
        td.destroy_process_group()


def main(argv=None) -> None:
    """``torchrun --nproc_per_node N -m model.distributed --backbone B [--data M] [--variants clean,aug1]``:
    fill the feature cache with pooled features (or trunk maps with ``--start-block``) in parallel."""
    import argparse

    from .net.backbones import PretrainedWeightsMissing, backbone_arg, create_model
    from .device import add_runtime_args, runtime_for
    from .data.features import DEFAULT_CACHE, extract
    from .data.manifest import read_manifest

    ap = argparse.ArgumentParser(prog="torchrun --nproc_per_node N -m model.distributed", description=main.__doc__)
    ap.add_argument("--data")
    ap.add_argument("--backbone", default="efficientnet_lite2", type=backbone_arg,
                    help="a registry name or timm:<model> (docs/backbones.md); pretrained weights")
    ap.add_argument("--start-block", type=int, default=0)
    ap.add_argument("--crop", type=float, default=0.0)
    ap.add_argument("--variants", default="clean", help="comma-separated: clean, aug1, aug2, ...")
    ap.add_argument("--split", default="", help="only rows of this split ('' = all; aug variants: train)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default=str(DEFAULT_CACHE))
    add_runtime_args(ap, compile_=False)
    args = ap.parse_args(argv)
    try:
        ctx = from_env(args.device)
        rt = runtime_for(args, ctx)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    try:
        df = read_manifest(args.data)
        bb = rt.place(create_model(args.backbone))
    except (ValueError, OSError, PretrainedWeightsMissing) as e:
        raise SystemExit(f"error: {e}") from None
    for v in args.variants.split(","):
        split = args.split or ("train" if v != "clean" else "")
        paths = (df[df["split"] == split] if split else df)["path"].tolist()
        kw = dict(start_block=args.start_block, crop=args.crop, variant=v, seed=args.seed, cache_root=Path(args.cache),
                  runtime=rt)
        out, ok = ctx.extract(bb, paths, **kw) if ctx else extract(bb, paths, **kw)
        if ctx is None or ctx.is_main:
            print(f"{v}: {int(ok.sum())}/{len(paths)} images, features {tuple(out.shape)}")
    shutdown(ctx)


if __name__ == "__main__":
    main()
