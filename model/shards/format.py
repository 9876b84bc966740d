"""The shard folder's layout: names, keys, the index file and sample paths.

A shard folder holds ``shard-000000.tar``, ``shard-000001.tar``, ... (WebDataset tar shards: per sample
``<key>.jpg`` then ``<key>.json``), ``index.json`` (see :mod:`model.shards.writer`) and
``samples.parquet`` (one row per sample, no pixels). A sample's key is its row id, zero-padded to
``KEY_DIGITS`` digits (no dots, so WebDataset's ``base_plus_ext`` splits ``000000042.jpg`` into key
``000000042`` and extension ``jpg``). A sample path is ``"<abs dir>/<shard file>#<key>"``.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

FORMAT = "geoloc-webdataset-shards"
VERSION = 1
INDEX = "index.json"
TABLE = "samples.parquet"
PARTS = ".parts"  # per-shard tables while a write is in progress (merged into TABLE at the end)
IMAGE_EXT = "jpg"
META_EXT = "json"
KEY_DIGITS = 9
TMP_SUFFIX = ".tmp"
# Table columns added by the writer (a manifest may not use these names).
RESERVED = ("shard", "key", "row", "source_row", "byte_offset", "byte_size", "path")


class ShardError(ValueError):
    """A shard folder that cannot be used or written; the message names the folder or file and why."""


def shard_name(i: int) -> str:
    """File name of shard number ``i`` (0-based): ``shard-000003.tar``."""
    return f"shard-{i:06d}.tar"


def key_of(row: int) -> str:
    """A sample's key: its row id zero-padded (``42 -> '000000042'``)."""
    return f"{int(row):0{KEY_DIGITS}d}"


def row_of(key: str) -> int:
    """The row id a key stands for (inverse of :func:`key_of`); ValueError if it is not one."""
    if not key.isdigit():
        raise ValueError(f"{key!r} is not a sample key (digits only)")
    return int(key)


def is_shard_dir(path: str | os.PathLike) -> bool:
    """True if ``path`` is a folder holding a shard index (``index.json``)."""
    p = Path(path).expanduser()
    return p.is_dir() and (p / INDEX).is_file()


def parse_sample_path(path: str | os.PathLike) -> tuple[Path, str, str]:
    """``"<dir>/<shard>.tar#<key>"`` -> (dir, shard file name, key); ValueError if not such a path."""
    s = str(path)
    head, sep, key = s.rpartition("#")
    if not sep or not head.endswith(".tar") or not key:
        raise ValueError(f"{s}: not a shard sample path ('<folder>/<shard>.tar#<key>')")
    p = Path(head)
    return p.parent, p.name, key


def load_index(folder: str | os.PathLike, *, complete: bool = True) -> dict:
    """The folder's ``index.json``; ShardError if it is missing, unreadable, of another format or
    (with ``complete``) from a write that has not finished."""
    p = Path(folder).expanduser() / INDEX
    if not p.is_file():
        raise ShardError(f"{p.parent}: not a shard folder (no {INDEX}); write one with "
                         "'python -m model.shards write --data MANIFEST --out DIR'")
    try:
        index = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ShardError(f"{p}: unreadable shard index ({e})") from e
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise ShardError(f"{p}: not a {FORMAT} index")
    if index.get("version") != VERSION:
        raise ShardError(f"{p}: format version {index.get('version')}; this code reads version {VERSION}")
    if complete and not index.get("complete"):
        raise ShardError(f"{p.parent}: the shard write has not finished ({len(index.get('shards', []))} shard(s) "
                         "so far); run the same 'python -m model.shards write' command again to complete it")
    return index


def save_json(path: Path, obj: dict) -> None:
    """Write ``obj`` as JSON atomically (temp file in the same folder, then rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=TMP_SUFFIX)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=1, allow_nan=False)
        f.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; the index is as readable as the shards
    os.replace(tmp, path)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
