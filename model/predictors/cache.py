"""The predictors' disk cache: tensors and tables computed once from fixed weights (GeoCLIP's gallery
embeddings, zero-shot text embeddings, reverse-geocoded candidate tables), keyed by the weights' sha256.

Folder: ``$GEOLOC_CACHE/predictors`` (default ``data/cache/predictors``), read at call time. Writes are
atomic (a temporary file, then a rename), so a killed process never leaves a half-written entry; an
unreadable entry is computed again. Within a process each entry is also kept in memory.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch

from model.paths import DATA

log = logging.getLogger("model.predictors")
_MEMO: dict[str, object] = {}
_GUARD = threading.Lock()


def cache_root() -> Path:
    """``$GEOLOC_CACHE/predictors`` (the feature cache's root), default ``data/cache/predictors``."""
    return Path(os.environ.get("GEOLOC_CACHE") or DATA / "cache") / "predictors"


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def cached_tensors(name: str, build: Callable[[], dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The tensors of cache entry ``name`` (a relative file name carrying its key): from memory, else
    from disk, else ``build()`` (then saved). CPU tensors; loaded with ``weights_only=True``."""
    path = cache_root() / name
    key = str(path)
    with _GUARD:
        if key in _MEMO:
            return _MEMO[key]  # type: ignore[return-value]
    out = None
    if path.is_file():
        try:
            out = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001  (truncated or foreign file: compute again)
            log.warning("unreadable cache entry %s (%s): computing it again", path, e)
    if out is None:
        out = build()
        try:
            _atomic(path, lambda p: torch.save(out, p))
        except OSError as e:  # a read-only cache still answers, only slower next time
            log.warning("could not write cache entry %s: %s", path, e)
    with _GUARD:
        _MEMO[key] = out
    return out


def cached_table(name: str, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """:func:`cached_tensors` for a DataFrame (parquet). Returns a copy the caller may change."""
    path = cache_root() / name
    key = str(path)
    with _GUARD:
        if key in _MEMO:
            return _MEMO[key].copy()  # type: ignore[union-attr]
    out = None
    if path.is_file():
        try:
            out = pd.read_parquet(path)
        except Exception as e:  # noqa: BLE001  (unreadable: compute again)
            log.warning("unreadable cache entry %s (%s): computing it again", path, e)
    if out is None:
        out = build()
        try:
            _atomic(path, lambda p: out.to_parquet(p, index=False))
        except OSError as e:
            log.warning("could not write cache entry %s: %s", path, e)
    with _GUARD:
        _MEMO[key] = out
    return out.copy()


def forget() -> None:
    """Drop the in-memory copies (tests; a process that changed ``$GEOLOC_CACHE``)."""
    with _GUARD:
        _MEMO.clear()


def is_cached(name: str) -> bool:
    """Whether cache entry ``name`` is in memory or on disk (it may still turn out unreadable)."""
    path = cache_root() / name
    with _GUARD:
        return str(path) in _MEMO or path.is_file()
