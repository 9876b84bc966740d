"""Shard a manifest: ``python -m model.shards write --data MANIFEST --out DIR``.

The manifest is read and normalised by :func:`model.data.manifest.read_manifest` (so reverse-geocoded labels
and defaults are stored), its images are read, checked and (optionally) resized in ``workers`` processes,
in manifest order, and written by :class:`model.shards.writer.ShardSetWriter`. The data set's identity is
the manifest file's SHA-256: rerunning the same command resumes; another manifest into the same folder
is refused.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time

from tqdm import tqdm

from model.data.manifest import read_manifest, resolve_manifest
from .encode import DEFAULT_QUALITY, load_prepared
from .format import RESERVED, ShardError, sha256_file
from .writer import ShardSetWriter

log = logging.getLogger("model.shards")


def write_manifest_shards(manifest: str | os.PathLike | None, out: str | os.PathLike, *, shard_size: int = 1000,
                          max_side: int | None = None, quality: int = DEFAULT_QUALITY, workers: int = 0,
                          progress: bool = True) -> dict:
    """Write (or resume writing) the shards of ``manifest`` into ``out``; returns the final index.

    ``workers`` > 1 reads and checks images in that many processes (order is kept). Raises
    :class:`model.data.manifest.ManifestError` for a bad manifest and :class:`ShardError` for a refused folder.
    """
    src = resolve_manifest(manifest)
    if src.is_dir():
        raise ShardError(f"{src} is already a shard folder; give a manifest CSV")
    df = read_manifest(src)
    clash = [c for c in df.columns if c in RESERVED and c != "path"]
    if clash:
        raise ShardError(f"{src}: column(s) {clash} are reserved for the shard table; rename them")
    identity = f"manifest sha256:{sha256_file(src)}"
    source = {"kind": "manifest", "path": str(src), "rows": len(df)}
    w = ShardSetWriter(out, identity=identity, source=source, shard_size=shard_size, max_side=max_side,
                       quality=quality)
    if w.complete:
        log.info("%s already holds this data set, complete (%d samples); nothing to do", w.out, w.index["samples"])
        return w.index
    start = w.resume_at
    meta = df.drop(columns="path")
    records = (r for i in range(start, len(df), 10_000) for r in meta.iloc[i:i + 10_000].to_dict("records"))
    jobs = ((p, w.settings["max_side"], w.settings["quality"]) for p in df["path"].iloc[start:])
    t0, pool = time.perf_counter(), None
    try:
        if workers > 1:
            pool = mp.get_context("spawn").Pool(workers)
            results = pool.imap(load_prepared, jobs, chunksize=16)
        else:
            results = map(load_prepared, jobs)
        bar = tqdm(total=len(df), initial=start, unit="img", desc="shards", disable=not progress,
                   mininterval=1.0)
        with w, bar:
            for i, rec, (jpeg, err) in zip(range(start, len(df)), records, results):
                if err is None:
                    w.add_encoded(rec, jpeg, df["path"].iat[i])
                else:
                    w.skip(df["path"].iat[i], err)
                bar.update(1)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    ix = w.index
    dt = time.perf_counter() - t0
    log.info("%s: %d samples in %d shards (%.1f MB), %d skipped; %.1f s for %d inputs (%.0f images/s)",
             w.out, ix["samples"], len(ix["shards"]), ix["bytes"] / 1e6, ix["skipped"], dt, len(df) - start,
             (len(df) - start) / max(dt, 1e-9))
    return ix
