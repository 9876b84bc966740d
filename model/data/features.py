"""Feature cache: run the frozen part of a backbone once per image and keep the result on disk.

A cache is keyed by backbone, input size, bottom crop, the block it stops at (``start_block``;
0 = full pooled features) and the augmentation round, and by the list of image files, so trying
a new head or fine-tuning the last blocks takes minutes instead of re-running the whole network.

Layout: ``<cache_root>/<backbone>-s<size>-c<crop>-b<block>[-<precision>][-<identity>]/<variant>-<hash>.npy`` holding
float16 arrays of shape ``(N, C, h, w)`` (trunk maps) or ``(N, D)`` (pooled features), with a
``.ok.npy`` mask of the images that loaded (bad images are reported and skipped, never fatal).
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from model.device import CPU, Runtime
from .images import ImageLoadError
from .loader import path_loader, transform_for
from model.paths import DATA

log = logging.getLogger(__name__)
DEFAULT_CACHE = Path(os.environ.get("GEOLOC_CACHE", DATA / "cache"))


def _file_digest(p: str) -> tuple[int, str]:
    """(size, digest of the first and last 4 KiB) of a file; (-1, "-") if unreadable."""
    try:
        size = os.path.getsize(p)
        with open(p, "rb") as f:
            head = f.read(4096)
            if size > 8192:
                f.seek(-4096, os.SEEK_END)
            tail = f.read(4096)
        return size, hashlib.sha1(head + tail).hexdigest()[:12]
    except OSError:
        return -1, "-"


def _key(paths: list[str]) -> str:
    """Cache key of an ordered list of image files: path, size and a digest of the first and last 4 KiB.

    Content rather than mtime, so a data set copied afresh to the same place (which resets mtimes, as
    happens to ``../shared`` on a new machine) keeps its cache, while replacing an image invalidates it.
    Members of a shard (``<dir>/<shard>.tar#<key>``) take their tar file's size and digest.
    """
    h = hashlib.sha1()
    tars: dict[str, tuple[int, str]] = {}
    for p in paths:
        if ".tar#" in p:
            tar = p.split("#", 1)[0]
            size, digest = tars[tar] if tar in tars else tars.setdefault(tar, _file_digest(tar))
        else:
            size, digest = _file_digest(p)
        h.update(f"{p}|{size}|{digest}\n".encode())
    return h.hexdigest()[:16]


def _identity(backbone: torch.nn.Module) -> str:
    """What else tells two backbones of one registry name apart, as a short tag ('' for the common case).

    A pretrained backbone with its registry preprocessing keeps the plain folder name (existing caches
    stay valid). Another resize mode, interpolation or centre-crop margin, architecture overrides
    (``--backbone-config``) and random weights (``--no-pretrained``: a digest of the weights themselves,
    since every random draw differs) each give the folder a suffix, so such runs never read each
    other's features.
    """
    parts = []
    pre = (getattr(backbone, "resize", "shortest"), getattr(backbone, "interpolation", "bilinear"),
           float(getattr(backbone, "crop_pct", 1.0)))
    if pre != ("shortest", "bilinear", 1.0):
        parts.append(repr(pre))
    if getattr(backbone, "backbone_config", None):
        parts.append(repr(sorted(backbone.backbone_config.items())))
    if not getattr(backbone, "pretrained", True):
        h = hashlib.sha1()
        for name, v in backbone.state_dict().items():
            h.update(name.encode())
            h.update(v.detach().float().cpu().contiguous().numpy().tobytes())
        parts.append("random:" + h.hexdigest())
    if not parts:
        return ""
    return "-" + hashlib.sha1("|".join(parts).encode()).hexdigest()[:8]


def cache_file(backbone: torch.nn.Module, paths: list[str], start_block: int, crop: float, variant: str,
               cache_root: Path | None, precision_tag: str = "") -> Path | None:
    """Where :func:`extract` caches these features (None without a cache root).

    Augmented copies are named ``aug<k>_ps-<hash>``: since the DataLoader pipeline each image's
    augmentation is seeded per image (``_ps``), so caches written by the earlier sequential seeding
    (``aug<k>-<hash>``) are not reused (they are recomputed once). Features computed under bf16/fp16
    autocast go to their own folder (``precision_tag``, e.g. ``-bf16``).
    """
    if cache_root is None:
        return None
    tag = f"{backbone.name}-s{backbone.input_size}-c{crop:g}-b{start_block}{precision_tag}{_identity(backbone)}"
    name = variant if variant == "clean" else f"{variant}_ps"
    return Path(cache_root) / tag / f"{name}-{_key(paths)}.npy"


def load_cache(file: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """Cached (features memory-mapped, ok mask) or None if not (completely) written."""
    if file.exists() and file.with_suffix(".ok.npy").exists():
        return np.load(file, mmap_mode="r"), np.load(file.with_suffix(".ok.npy"))
    return None


def save_cache(file: Path, out: np.ndarray, ok: np.ndarray) -> None:
    """Write features and mask; the features file appears last (atomic rename), so readers never see a partial one."""
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp.npy")
    np.save(tmp, out)
    np.save(file.with_suffix(".ok.npy"), ok)
    os.replace(tmp, file)


def extract(backbone: torch.nn.Module, paths: list[str], *, start_block: int = 0, crop: float = 0.0,
            variant: str = "clean", seed: int = 0, batch_size: int | None = None,
            cache_root: Path | None = DEFAULT_CACHE, desc: str = "features", rows: tuple[int, int] | None = None,
            runtime: Runtime = CPU) -> tuple[np.ndarray, np.ndarray]:
    """Frozen features for ``paths``: ``(N, D)`` pooled if ``start_block == 0`` (full network),
    else trunk maps ``(N, C, h, w)`` up to ``start_block``; plus ``ok`` mask ``(N,)``.

    Images are decoded by the DataLoader pipeline (:mod:`model.data.loader`, ``runtime.workers`` worker
    processes) and run on ``runtime``'s device under its autocast; the result is float16 on the CPU.
    ``variant`` "clean" uses the evaluation transform; "aug<k>" applies the training augmentations,
    each image's drawn from :func:`model.data.loader.sample_seed` ``(seed, k, row)``: one fixed augmented
    copy per image per round, the same whatever the worker count or batch size.
    Rows of images that fail to load are zeros with ``ok`` False; each failure is logged once.

    ``rows=(lo, hi)`` (one shard of a data-parallel job, see :mod:`model.distributed`) computes only
    rows ``[lo, hi)``, without the cache; each row gets the augmentation it gets in a full run.
    ``batch_size`` None: 32 on the CPU, 128 on a GPU.
    """
    file = cache_file(backbone, paths, start_block, crop, variant, cache_root if rows is None else None, runtime.tag)
    if file is not None and (hit := load_cache(file)) is not None:
        return hit
    aug = variant != "clean"
    lo, hi = rows or (0, len(paths))
    bs = batch_size or (32 if runtime.device.type == "cpu" else 128)
    loader = path_loader(paths, transform_for(backbone, train=aug), bs, runtime, rows=np.arange(lo, hi), crop=crop,
                         seed=seed if aug else None, stream_id=int(variant[3:] or 0) if aug else 0)
    backbone.eval()
    out, ok = None, np.zeros(len(paths), bool)
    with tqdm(total=hi - lo, desc=desc, unit="img", leave=False, disable=None) as bar:
        for x, idx in loader:
            with torch.inference_mode(), runtime.autocast():
                x = runtime.to_device(x)
                y = backbone(x) if start_block == 0 else backbone.forward_trunk(x, start_block)
            y = y.float().cpu().contiguous().numpy().astype(np.float16)
            if out is None:
                out = np.zeros((len(paths),) + y.shape[1:], np.float16)
            idx = idx.numpy()
            out[idx] = y
            ok[idx] = True
            bar.update(len(idx))
    if out is None:
        if rows is not None:  # a shard without any loadable image: no rows, no feature shape
            return np.zeros((len(paths), 0), np.float16), ok
        raise ImageLoadError(f"none of the {len(paths)} images could be loaded")
    if file is not None:
        save_cache(file, out, ok)
    return out, ok


def pooled(backbone: torch.nn.Module, maps: np.ndarray, start_block: int, source: Path | None = None,
           batch_size: int = 128, desc: str = "pooling", runtime: Runtime = CPU) -> np.ndarray:
    """Run the frozen tail over cached trunk maps ``(N, C, h, w)`` -> pooled features ``(N, D)`` float32.

    With ``source`` (the trunk-map cache file) the result is cached beside it as ``*.pooled.npy``.
    """
    if start_block == 0:
        return np.asarray(maps, np.float32)
    file = source.with_suffix(".pooled.npy") if source is not None else None
    if file is not None and file.exists():
        return np.load(file)
    out = []
    backbone.eval()
    with torch.inference_mode(), runtime.autocast():
        for s in tqdm(range(0, len(maps), batch_size), desc=desc, unit="batch", leave=False, disable=None):
            h = runtime.to_device(torch.from_numpy(np.asarray(maps[s:s + batch_size], np.float32)))
            out.append(backbone.forward_tail(h, start_block).float().cpu().numpy())
    res = np.concatenate(out)
    if file is not None:
        tmp = file.with_suffix(".tmp.npy")
        np.save(tmp, res)
        os.replace(tmp, file)
    return res
