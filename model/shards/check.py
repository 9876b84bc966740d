"""Check a shard folder (``verify``) and summarise it (``info``).

``verify`` compares every shard's size and SHA-256 with the index, then reads each shard with WebDataset's
tar reader and decodes every image with :func:`model.data.images.open_image`, checking keys, metadata and
counts against the index and the sample table. Problems come back as one line each, naming the shard
(``shard-000003.tar: ...``) or the sample (``shard-000003.tar#000000042: ...``).
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path

import webdataset as wds

from model.data.images import ImageLoadError, open_image
from .format import IMAGE_EXT, META_EXT, TABLE, key_of, load_index, sha256_file
from .table import read_table


def check_shard(job: tuple[str, dict, bool]) -> list[str]:
    """Problems of one shard (``(folder, index entry, decode images?)``); [] when it is sound."""
    folder, e, decode = job
    p, name = Path(folder) / e["file"], e["file"]
    if not p.is_file():
        return [f"{name}: missing"]
    problems = []
    size = p.stat().st_size
    if size != e["bytes"]:
        problems.append(f"{name}: {size} bytes, the index says {e['bytes']} (truncated or changed)")
    elif sha256_file(p) != e["sha256"]:
        problems.append(f"{name}: checksum differs from the index (corrupt or changed)")
    expected = [key_of(r) for r in range(e["first_row"], e["first_row"] + e["samples"])]
    seen = []
    try:
        for s in wds.tarfile_samples([{"url": str(p)}], handler=wds.reraise_exception):
            key = s["__key__"]
            seen.append(key)
            if IMAGE_EXT not in s or META_EXT not in s:
                problems.append(f"{name}#{key}: members {sorted(k for k in s if not k.startswith('__'))}, "
                                f"expected .{IMAGE_EXT} and .{META_EXT}")
                continue
            try:
                meta = json.loads(s[META_EXT])
                if meta.get("row") != int(key):
                    problems.append(f"{name}#{key}: metadata row {meta.get('row')} does not match the key")
            except (ValueError, AttributeError) as x:
                problems.append(f"{name}#{key}: unreadable metadata ({x})")
            if decode:
                try:
                    open_image(s[IMAGE_EXT], name=f"{name}#{key}")
                except ImageLoadError as x:
                    problems.append(str(x))
    except Exception as x:  # noqa: BLE001 - any tar-level failure is this shard's problem, reported by name
        msg = str(x.args[0]).split(" @ ")[0] if x.args else type(x).__name__
        problems.append(f"{name}: unreadable tar after {len(seen)} sample(s) ({type(x).__name__}: {msg})")
    if not problems and seen != expected:
        problems.append(f"{name}: holds {len(seen)} sample(s), the index lists {len(expected)}"
                        + ("" if len(seen) != len(expected) else " (keys differ)"))
    return problems


def verify(folder: str | os.PathLike, decode: bool = True, workers: int = 0, progress=None) -> list[str]:
    """All problems found in a shard folder ([] = sound). ``workers`` > 1 checks shards in parallel;
    ``progress(done, total)`` is called after each shard."""
    folder = Path(folder).expanduser().resolve()
    index = load_index(folder)
    problems: list[str] = []
    try:
        table = read_table(folder)
        per_shard = table.groupby("shard", sort=False).size().to_dict()
        for e in index["shards"]:
            if per_shard.get(e["file"], 0) != e["samples"]:
                problems.append(f"{TABLE}: {per_shard.get(e['file'], 0)} row(s) for {e['file']}, "
                                f"the index lists {e['samples']}")
    except ValueError as x:
        problems.append(str(x))
    listed = {e["file"] for e in index["shards"]}
    problems += [f"{p.name}: a shard file the index does not list" for p in sorted(folder.glob("shard-*.tar"))
                 if p.name not in listed]
    jobs = [(str(folder), e, decode) for e in index["shards"]]
    pool = mp.get_context("spawn").Pool(workers) if workers > 1 else None
    try:
        results = pool.imap(check_shard, jobs) if pool else map(check_shard, jobs)
        for i, r in enumerate(results):
            problems += r
            if progress:
                progress(i + 1, len(jobs))
    finally:
        if pool:
            pool.terminate()
            pool.join()
    return problems


def info(folder: str | os.PathLike, shards: bool = False) -> str:
    """A few lines about a shard folder: samples per split, shards, bytes, source and settings."""
    folder = Path(folder).expanduser().resolve()
    ix = load_index(folder, complete=False)
    splits = ", ".join(f"{k} {v:,}" for k, v in ix["splits"].items()) or "-"
    st = ix["settings"]
    lines = [f"{folder}: {ix['samples']:,} samples in {len(ix['shards'])} shard(s), {ix['bytes'] / 1e6:,.1f} MB"
             + ("" if ix["complete"] else " (write not finished: rerun the write command to resume)"),
             f"  splits: {splits}" if ix["complete"] else
             f"  written so far: {ix['inputs']:,} input(s) of {ix['source'].get('rows', '?')}",
             f"  skipped while writing: {ix['skipped']:,}"
             + (f" (e.g. {ix['skipped_samples'][0]['reason']})" if ix["skipped_samples"] else ""),
             f"  source: {ix['identity']}" + (f" ({ix['source']['path']})" if "path" in ix["source"] else ""),
             f"  settings: shard size {st['shard_size']}, max side {st['max_side'] or 'none (original bytes)'}, "
             f"JPEG quality {st['quality']} (re-encoded images only)"]
    if shards:
        lines += [f"  {e['file']}: {e['samples']:,} samples ({', '.join(f'{k} {v}' for k, v in e['splits'].items())}), "
                  f"{e['bytes'] / 1e6:.1f} MB, sha256 {e['sha256'][:12]}" for e in ix["shards"]]
    return "\n".join(lines)
