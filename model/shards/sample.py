"""Random access to one sample: ``open_sample("<dir>/<shard>.tar#<key>")`` is one seek and one read.

The sample table stores where each ``<key>.jpg`` member's bytes sit in its tar (``byte_offset``,
``byte_size``); the 512-byte tar header in front of them is read too and must name the member, so a
shard rewritten since the table was read is caught instead of returning another image.
"""
from __future__ import annotations

import bisect
import functools
import os
import tarfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from .format import IMAGE_EXT, INDEX, ShardError, load_index, parse_sample_path, row_of


class SampleError(ShardError):
    """One sample that cannot be read; :func:`model.data.images.open_image` raises it as an ImageLoadError."""

HEADER = tarfile.BLOCKSIZE  # 512


@functools.lru_cache(maxsize=8)
def _locator(folder: str, stamp: tuple[int, int]) -> tuple[list[int], list[str], np.ndarray, np.ndarray]:
    """(first row of each shard, shard file names, byte offsets, byte sizes) of a shard folder.
    ``stamp`` (index mtime, size) makes a rewritten folder load afresh."""
    index = load_index(folder)
    t = pq.read_table(Path(folder) / index["table"], columns=["byte_offset", "byte_size"])
    return ([e["first_row"] for e in index["shards"]], [e["file"] for e in index["shards"]],
            t.column("byte_offset").to_numpy(), t.column("byte_size").to_numpy())


def read_sample_bytes(path: str | os.PathLike) -> bytes:
    """The stored JPEG bytes of ``"<dir>/<shard>.tar#<key>"``; :class:`SampleError` naming it on failure."""
    label = str(path)
    try:
        folder, shard, key = parse_sample_path(path)
        row = row_of(key)
        st = (folder / INDEX).stat()
        firsts, names, offsets, sizes = _locator(str(folder.resolve()), (st.st_mtime_ns, st.st_size))
    except FileNotFoundError:
        raise SampleError(f"{label}: no shard folder there (no {INDEX})") from None
    except (ValueError, OSError) as e:  # ShardError is a ValueError
        raise SampleError(f"{label}: {e}") from e
    if not 0 <= row < len(offsets) or names[bisect.bisect_right(firsts, row) - 1] != shard:
        raise SampleError(f"{label}: no such sample in the shard folder")
    off, size = int(offsets[row]), int(sizes[row])
    try:
        with open(folder / shard, "rb") as f:
            f.seek(off - HEADER)
            buf = f.read(HEADER + size)
    except OSError as e:
        raise SampleError(f"{label}: shard unreadable ({e})") from e
    try:
        info = tarfile.TarInfo.frombuf(buf[:HEADER], "utf-8", "surrogateescape")
    except tarfile.TarError as e:
        raise SampleError(f"{label}: corrupt shard or stale table (no tar header at byte {off - HEADER}: "
                             f"{e}); 'python -m model.shards verify {folder}' checks it") from e
    if info.name != f"{key}.{IMAGE_EXT}" or info.size != size or len(buf) < HEADER + size:
        raise SampleError(f"{label}: shard changed or truncated since it was indexed (member "
                             f"{info.name!r}, {len(buf) - HEADER} of {size} bytes)")
    return buf[HEADER:]


__all__ = ["SampleError", "read_sample_bytes"]
