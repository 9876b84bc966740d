"""Data-parallel training and feature extraction with ``torchrun`` (PyTorch DDP).

``torchrun --nproc_per_node N -m model.train ...`` runs N processes (gloo on CPU, NCCL on GPUs,
one GPU per process); :func:`from_env` sees torchrun's ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` and
returns a :class:`DistContext`, which :func:`model.train.fit` uses as follows:

- feature extraction (and pooling cached trunk maps) is sharded: rank r computes a contiguous
  slice of the images (augmentation randomness is replayed so each image gets the augmentation
  it gets in one process), rank 0 gathers the slices and writes the usual feature cache, every
  rank then reads it;
- training: every rank draws the same global batch order (same seed); each takes its slice of
  every global batch (``--batch-size`` is the global batch), the trainable modules are wrapped in
  ``DistributedDataParallel`` and each local loss is scaled by ``n_local * world / n_global``,
  so the averaged gradient equals the single-process gradient of the global batch;
- validation loss parts are summed over ranks; early stopping and the LR schedule see the same
  numbers on every rank; only rank 0 writes files.

Results equal a single-process run up to numerical noise when the head has no dropout (dropout
masks are drawn per process) and no BatchNorm (batch statistics are per process on CPU; on GPUs
the head's BatchNorm layers are converted to ``SyncBatchNorm``).
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

    # -- model ---------------------------------------------------------------------------------
    def wrap(self, net: nn.Module, method: str) -> nn.Module:
        """DDP-wrap ``net`` so that calling the result runs ``net.<method>(x)`` with synchronised gradients."""
        if self.device.type == "cuda":
            net.head = nn.SyncBatchNorm.convert_sync_batchnorm(net.head)
        mod = _Method(net, method)
        ids = [self.device.index] if self.device.type == "cuda" else None
        # every output enters the loss (run_epoch adds 0 * each), so every trainable parameter gets a gradient
        return nn.parallel.DistributedDataParallel(mod, device_ids=ids)

    def extract(self, backbone: nn.Module, paths: list[str], **kw) -> tuple[np.ndarray, np.ndarray]:
        """:func:`model.features.extract` with the images split over the ranks; same result and cache."""
        from .features import DEFAULT_CACHE, cache_file, extract, load_cache, save_cache

        root = kw.pop("cache_root", DEFAULT_CACHE)
        file = cache_file(backbone, paths, kw.get("start_block", 0), kw.get("crop", 0.0), kw.get("variant", "clean"),
                          root)
        if file is not None and (hit := load_cache(file)) is not None:
            return hit
        part = self.shard(len(paths))
        out, ok = extract(backbone, paths, cache_root=None, rows=(part.start, part.stop), **kw)
        mine = out[part] if out.ndim > 1 and out.shape[1] != 0 else np.zeros((part.stop - part.start, 0), out.dtype)
        full = self.gather_rows(mine, to_all=file is None)
        oks = self.gather_rows(ok[part].astype(np.uint8), to_all=file is None)
        if file is None:
            return full, oks.astype(bool)
        if self.is_main:
            save_cache(file, full, oks.astype(bool))
        self.barrier()
        return load_cache(file)


    def pooled(self, backbone: nn.Module, maps: np.ndarray, start_block: int, source: Path | None = None,
               **kw) -> np.ndarray:
        """:func:`model.features.pooled` split over the ranks; rank 0 writes its ``*.pooled.npy`` cache."""
        from .features import pooled

        if start_block == 0:
            return np.asarray(maps, np.float32)
        file = source.with_suffix(".pooled.npy") if source is not None else None
        if file is not None and file.exists():
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
        return np.load(file)


class _Method(nn.Module):
    """``forward(x) = net.<method>(x)``: gives DDP a module whose forward is the training entry point."""

    def __init__(self, net: nn.Module, method: str):
        super().__init__()
        self.net, self.method = net, method

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return getattr(self.net, self.method)(x)


def from_env() -> DistContext | None:
    """Join the process group that ``torchrun`` describes in the environment; None outside torchrun
    (or with ``WORLD_SIZE`` 1). Backend: NCCL when CUDA is available, else gloo."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and os.environ.get("GEOLOC_DDP_BACKEND", "") != "gloo"
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

    from .backbones import BACKBONES, create_model
    from .features import DEFAULT_CACHE, extract
    from .manifest import read_manifest

    ap = argparse.ArgumentParser(prog="torchrun --nproc_per_node N -m model.distributed", description=main.__doc__)
    ap.add_argument("--data")
    ap.add_argument("--backbone", default="efficientnet_lite2", choices=sorted(BACKBONES))
    ap.add_argument("--start-block", type=int, default=0)
    ap.add_argument("--crop", type=float, default=0.0)
    ap.add_argument("--variants", default="clean", help="comma-separated: clean, aug1, aug2, ...")
    ap.add_argument("--split", default="", help="only rows of this split ('' = all; aug variants: train)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default=str(DEFAULT_CACHE))
    args = ap.parse_args(argv)
    ctx = from_env()
    df = read_manifest(args.data)
    bb = create_model(args.backbone)
    for v in args.variants.split(","):
        split = args.split or ("train" if v != "clean" else "")
        paths = (df[df["split"] == split] if split else df)["path"].tolist()
        kw = dict(start_block=args.start_block, crop=args.crop, variant=v, seed=args.seed, cache_root=Path(args.cache))
        out, ok = ctx.extract(bb, paths, **kw) if ctx else extract(bb, paths, **kw)
        if ctx is None or ctx.is_main:
            print(f"{v}: {int(ok.sum())}/{len(paths)} images, features {tuple(out.shape)}")
    shutdown(ctx)


if __name__ == "__main__":
    main()
