"""The sample table: one row per sample, every manifest column plus where the sample lives, no pixels.

``samples.parquet`` holds the normalised manifest columns (as :func:`model.data.manifest.read_manifest`
returns them, without ``path``) plus ``shard`` (file name), ``key``, ``row`` (0..N-1, the sample's
position in the table and its key's number), ``source_row`` (the input it came from: the manifest's
data row, 0-based, or the n-th sample given to the writer), ``byte_offset`` and ``byte_size`` (where the
JPEG member's bytes sit inside the tar: random access is one seek and one read). While a write is in
progress each complete shard has its own part in ``.parts/``; the parts are merged at the end.
"""
from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .format import IMAGE_EXT, PARTS, TABLE, TMP_SUFFIX, ShardError, load_index

SHARD_COLUMNS = ["shard", "key", "row", "source_row", "byte_offset", "byte_size"]


def member_offsets(tar_path: str | os.PathLike) -> dict[str, tuple[int, int]]:
    """``{member name: (byte offset of its data, byte size)}`` read from a tar's headers (no data read)."""
    with tarfile.open(tar_path, "r:") as tf:
        return {m.name: (m.offset_data, m.size) for m in tf.getmembers() if m.isreg()}


def image_locations(tar_path: str | os.PathLike, keys: list[str]) -> tuple[list[int], list[int]]:
    """Byte offsets and sizes of ``<key>.jpg`` for each key, in order; ShardError if one is missing."""
    members = member_offsets(tar_path)
    try:
        locs = [members[f"{k}.{IMAGE_EXT}"] for k in keys]
    except KeyError as e:
        raise ShardError(f"{Path(tar_path).name}: member {e.args[0]} missing") from None
    return [o for o, _ in locs], [s for _, s in locs]


def write_part(folder: Path, shard: str, df: pd.DataFrame) -> Path:
    """Write one shard's table part atomically: ``<folder>/.parts/<shard>.parquet``."""
    parts = folder / PARTS
    parts.mkdir(exist_ok=True)
    p = parts / f"{shard}.parquet"
    tmp = p.with_name(p.name + TMP_SUFFIX)
    df.to_parquet(tmp, index=False)
    os.replace(tmp, p)
    return p


def part_path(folder: Path, shard: str) -> Path:
    return folder / PARTS / f"{shard}.parquet"


def _unified_schema(schemas: list[pa.Schema]) -> pa.Schema:
    """One schema for all parts: columns in first-seen order; int/float/null promoted; a column whose
    types disagree otherwise (a number in one shard, text in another) becomes text."""
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, NotImplementedError):
        fields: dict[str, pa.DataType] = {}
        for s in schemas:
            for f in s:
                t = fields.get(f.name)
                if t is None or pa.types.is_null(t):
                    fields[f.name] = f.type
                elif t != f.type and not pa.types.is_null(f.type):
                    both_num = all(pa.types.is_integer(x) or pa.types.is_floating(x) for x in (t, f.type))
                    fields[f.name] = pa.float64() if both_num else pa.string()
        return pa.schema([pa.field(k, v) for k, v in fields.items()])


def merge_parts(folder: Path, shards: list[str]) -> Path:
    """Concatenate the parts of ``shards`` (in order) into ``samples.parquet`` (atomically), one part in
    memory at a time; columns missing from a part are empty (text) or null."""
    paths = [part_path(folder, s) for s in shards]
    schema = _unified_schema([pq.read_schema(p) for p in paths])
    out = folder / TABLE
    tmp = out.with_name(out.name + TMP_SUFFIX)
    with pq.ParquetWriter(tmp, schema) as w:
        for p in paths:
            t = pq.read_table(p)
            for f in schema:
                if f.name not in t.column_names:
                    fill = pa.array([""] * len(t), pa.string()) if pa.types.is_string(f.type) \
                        or pa.types.is_large_string(f.type) else pa.nulls(len(t), f.type)
                    t = t.append_column(f.name, fill)
            w.write_table(t.select(schema.names).cast(schema))
    os.replace(tmp, out)
    return out


def read_table(folder: str | os.PathLike) -> pd.DataFrame:
    """The sample table of a complete shard folder, in index order, never reading a tar.

    Columns: every normalised manifest column (as :func:`model.data.manifest.read_manifest` gives for a CSV),
    ``path`` = ``"<abs folder>/<shard>#<key>"`` (what :func:`model.data.images.open_image` opens), then
    ``shard``, ``key``, ``row`` (== the DataFrame's position), ``source_row``, ``byte_offset``, ``byte_size``.
    Raises :class:`ShardError` for a folder that is not a complete shard folder.
    """
    folder = Path(folder).expanduser().resolve()
    index = load_index(folder)
    p = folder / index.get("table", TABLE)
    try:
        df = pd.read_parquet(p)
    except (OSError, pa.ArrowException) as e:
        raise ShardError(f"{p}: unreadable sample table ({e}); 'python -m model.shards verify {folder}' "
                         "checks the shards") from e
    if len(df) != index["samples"]:
        raise ShardError(f"{p}: {len(df)} rows, the index lists {index['samples']} samples")
    cols = [c for c in df.columns if c not in SHARD_COLUMNS]
    df["path"] = f"{folder}/" + df["shard"].astype(str) + "#" + df["key"].astype(str)
    return df[cols + ["path"] + SHARD_COLUMNS].reset_index(drop=True)
