"""The one "reload when the file changes" stamp that every cache of the app keys on.

A stamp is ``resolved path|size|mtime_ns``: it changes whenever a file is replaced or edited (a new
size, or a new modification time to the nanosecond), and it names the file, so that two paths to one
file share a cache entry. The on-disk caches derive their folder and file names from it (Explore's
evaluations and thumbnails), so its text must stay as it is.
"""
from __future__ import annotations

import os
from pathlib import Path


def file_stamp(path: str | os.PathLike) -> str:
    """``resolved path|size|mtime_ns`` of a file (or folder). Raises OSError when it cannot be read."""
    p = Path(path).expanduser().resolve()
    st = p.stat()
    return f"{p}|{st.st_size}|{st.st_mtime_ns}"


def file_stamp_or_none(path: str | os.PathLike) -> str | None:
    """:func:`file_stamp`, or None when the file cannot be read (its reader then says why)."""
    try:
        return file_stamp(path)
    except OSError:
        return None
