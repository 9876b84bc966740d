"""Write samples into WebDataset tar shards, resumably: :class:`ShardSetWriter`.

Each sample becomes two tar members, ``<key>.jpg`` (the image) and ``<key>.json`` (every manifest
column, normalised as :func:`model.data.manifest.normalise` does, plus ``row`` and ``source_row``). A shard is
written to ``shard-NNNNNN.tar.tmp`` and renamed when complete; ``index.json`` is rewritten after every
complete shard, so an interrupted write keeps its complete shards and redoes only the partial one.

``index.json``::

    {"format": "geoloc-webdataset-shards", "version": 1, "complete": true,
     "identity": "manifest sha256:...", "source": {...}, "settings": {"shard_size", "max_side", "quality", "image"},
     "samples": N, "inputs": M, "skipped": M - N, "skipped_samples": [{"input", "name", "reason"}, ...],
     "splits": {"train": .., "val": .., "test": .., "none": ..}, "bytes": .., "table": "samples.parquet",
     "columns": [...], "shards": [{"file", "samples", "splits", "bytes", "sha256", "first_row", "inputs": [a, b]}]}
"""
from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
from webdataset import TarWriter

from model.data.images import ImageLoadError
from model.data.manifest import COLUMNS, SPLITS, normalise
from .encode import DEFAULT_QUALITY, prepare_image
from .format import (FORMAT, IMAGE_EXT, INDEX, META_EXT, PARTS, RESERVED, TABLE, TMP_SUFFIX, VERSION, ShardError,
                     key_of, load_index, save_json, sha256_file, shard_name)
from .table import image_locations, merge_parts, part_path, write_part

log = logging.getLogger("model.shards")
TAR_MTIME = 0  # fixed member times: the same samples give byte-identical shards (and checksums)


def split_counts(splits: pd.Series) -> dict[str, int]:
    """``{"train": n, "val": n, "test": n, "none": n}`` (only splits that occur; "none" = empty)."""
    vc = splits.replace("", "none").value_counts()
    return {k: int(vc[k]) for k in (*SPLITS, "none") if k in vc.index}


def _native(v):
    """A JSON-safe Python value (NaN -> None, numpy scalars -> Python)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def check_row(row: dict) -> str | None:
    """Why a sample's metadata cannot be used (the checks :func:`model.data.manifest.normalise` would fail
    on), or None. Cheap enough to run on every sample."""
    bad = [k for k in row if k in RESERVED]
    if bad:
        return f"column(s) {bad} are reserved for the shard table"
    coords = []
    for c in ("lat", "lon", "heading"):
        v = row.get(c)
        if v is None or (isinstance(v, str) and not v.strip()):
            coords.append(None)
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            return f"{c}={v!r} is not a number"
        coords.append(None if math.isnan(f) else f)
    lat, lon = coords[0], coords[1]
    if (lat is None) != (lon is None):
        return "lat and lon must both be given or both empty"
    if lat is not None and (abs(lat) > 90 or abs(lon) > 180):
        return f"coordinates out of range ({lat}, {lon})"
    split = row.get("split")
    if split not in (None, "", *SPLITS) and not (isinstance(split, float) and math.isnan(split)):
        return f"split={split!r}; use train, val, test or empty"
    return None


class ShardSetWriter:
    """Stream samples into a shard folder; resumes an interrupted write of the same data.

    ``identity`` names the data set (e.g. ``"manifest sha256:<hex>"`` or ``"hf:osv5m/osv5m:train"``): a
    folder holding another identity, or the same one with other settings, is refused (ShardError).
    ``source`` is free information stored in the index. After construction, ``resume_at`` inputs are
    already in complete shards (0 for a new folder): feed the inputs from number ``resume_at`` on.
    ``complete`` is True when the folder already holds the whole set (nothing to do).

    Per input call exactly one of :meth:`add` (image file bytes, any format; decoded and checked),
    :meth:`add_encoded` (bytes from :func:`model.shards.encode.prepare_image`) or :meth:`skip` (an input
    the caller could not get). Then :meth:`close` (or use it as a context manager; an exception leaves
    the folder resumable). Memory: one shard of encoded images.
    """

    def __init__(self, out: str | os.PathLike, *, identity: str, source: dict | None = None,
                 shard_size: int = 1000, max_side: int | None = None, quality: int = DEFAULT_QUALITY):
        if int(shard_size) < 1:
            raise ShardError(f"shard size must be at least 1, got {shard_size}")
        if max_side is not None and int(max_side) < 8:
            raise ShardError(f"max side must be at least 8 pixels, got {max_side}")
        if not 1 <= int(quality) <= 100:
            raise ShardError(f"JPEG quality must be 1..100, got {quality}")
        self.out = Path(out).expanduser().resolve()
        self.identity = identity
        self.settings = {"shard_size": int(shard_size), "max_side": int(max_side) if max_side else None,
                         "quality": int(quality), "image": IMAGE_EXT}
        self._buf: list[tuple[int, dict, bytes]] = []  # (input number, row, jpeg) of the shard being filled
        self._bad: list[dict] = []  # skipped inputs not yet in the index
        self.index = self._open(source or {})
        self.complete = bool(self.index["complete"])
        self.resume_at = int(self.index["inputs"])
        self.inputs = self.resume_at  # inputs consumed so far
        self._next_row = int(self.index["samples"])

    # -- opening: new folder, resume, refuse ---------------------------------------------------------
    def _open(self, source: dict) -> dict:
        out = self.out
        if out.exists() and not out.is_dir():
            raise ShardError(f"{out}: exists and is not a folder")
        if (out / INDEX).is_file():
            index = load_index(out, complete=False)
            if index.get("identity") != self.identity:
                raise ShardError(
                    f"{out} already holds a different data set ({index.get('identity')}, from "
                    f"{index.get('source', {}).get('path', '?')}); this write is {self.identity}. "
                    "Write into a new or empty folder, or delete that one first.")
            if index.get("settings") != self.settings:
                raise ShardError(f"{out} was written with settings {index.get('settings')}; this write asks for "
                                 f"{self.settings}. Resume with the same settings or write into another folder.")
            if not index["complete"]:
                self._resume(index)
            return index
        if out.is_dir() and any(out.iterdir()):
            raise ShardError(f"{out}: the folder is not empty and holds no shard index ({INDEX}); "
                             "write shards into a new or empty folder")
        out.mkdir(parents=True, exist_ok=True)
        index = {"format": FORMAT, "version": VERSION, "complete": False, "identity": self.identity,
                 "source": source, "settings": self.settings, "samples": 0, "inputs": 0, "skipped": 0,
                 "skipped_samples": [], "splits": {}, "bytes": 0, "table": TABLE, "columns": [], "shards": []}
        save_json(out / INDEX, index)
        return index

    def _resume(self, index: dict) -> None:
        """Keep the complete shards whose size and checksum match the index; drop everything after."""
        kept = []
        for e in index["shards"]:
            p = self.out / e["file"]
            why = None
            if not p.is_file():
                why = "missing"
            elif p.stat().st_size != e["bytes"]:
                why = f"{p.stat().st_size} bytes, the index says {e['bytes']}"
            elif sha256_file(p) != e["sha256"]:
                why = "checksum differs from the index"
            elif not part_path(self.out, e["file"]).is_file():
                why = "its table part is missing"
            if why:
                log.warning("%s: %s; rewriting from this shard on", e["file"], why)
                break
            kept.append(e)
        end = kept[-1]["inputs"][1] if kept else 0
        index["shards"] = kept
        index["samples"] = sum(e["samples"] for e in kept)
        index["inputs"] = end
        index["skipped_samples"] = [s for s in index["skipped_samples"] if s["input"] < end]
        index["skipped"] = len(index["skipped_samples"])
        names = {e["file"] for e in kept}
        for p in list(self.out.iterdir()) + (list((self.out / PARTS).iterdir()) if (self.out / PARTS).is_dir() else []):
            stem = p.name.removesuffix(TMP_SUFFIX).removesuffix(".parquet")
            if p.is_file() and (p.name.endswith(TMP_SUFFIX) or (p.name.startswith("shard-") and stem not in names)):
                p.unlink()
        save_json(self.out / INDEX, index)
        log.info("%s: resuming after %d complete shard(s), %d sample(s), %d input(s)",
                 self.out, len(kept), index["samples"], end)

    # -- adding samples -------------------------------------------------------------------------------
    def add(self, row: dict, image: bytes, name: str | None = None) -> bool:
        """Add one sample: ``row`` (manifest columns; ``image`` defaults to the key) and the image file's
        bytes. Returns False (logged by name, counted in the index) when the image or row is unusable."""
        label = name or str(row.get("image") or f"input {self.inputs}")
        try:
            jpeg, _ = prepare_image(image, label, self.settings["max_side"], self.settings["quality"])
        except ImageLoadError as e:
            self.skip(label, str(e))
            return False
        return self.add_encoded(row, jpeg, label)

    def add_encoded(self, row: dict, jpeg: bytes, name: str | None = None) -> bool:
        """Add one sample whose JPEG bytes :func:`model.shards.encode.prepare_image` made (not re-checked)."""
        if self.complete:
            raise ShardError(f"{self.out}: already complete; nothing more can be added")
        label = name or str(row.get("image") or f"input {self.inputs}")
        why = check_row(row)
        if why:
            self.skip(label, f"{label}: {why}")
            return False
        row = dict(row)
        if not str(row.get("image") or "").strip():
            row["image"] = f"{key_of(self._next_row)}.{IMAGE_EXT}"
        self._buf.append((self.inputs, row, jpeg))
        self.inputs += 1
        self._next_row += 1
        if len(self._buf) >= self.settings["shard_size"]:
            self._flush()
        return True

    def skip(self, name: str, reason: str) -> None:
        """Record an input that is not written (its name and why); it counts as one input."""
        log.warning("skipped %s", reason if name in reason else f"{name}: {reason}")
        self._bad.append({"input": self.inputs, "name": name, "reason": reason})
        self.inputs += 1

    # -- shards ---------------------------------------------------------------------------------------
    def _flush(self) -> None:
        """Write the buffered samples as the next shard (temp file, table part, rename, index)."""
        if not self._buf:
            return
        shard = shard_name(len(self.index["shards"]))
        first = int(self.index["samples"])
        df = normalise(pd.DataFrame([r for _, r, _ in self._buf]), Path("."), where=shard).drop(columns="path")
        df = df[[c for c in COLUMNS if c in df.columns] + [c for c in df.columns if c not in COLUMNS]]
        rows = np.arange(first, first + len(df))
        keys = [key_of(r) for r in rows]
        tmp = self.out / (shard + TMP_SUFFIX)
        with open(tmp, "wb") as f:
            with TarWriter(f, encoder=False, mtime=TAR_MTIME, user="geoloc", group="geoloc") as tw:
                for (inp, _, jpeg), key, r, rec in zip(self._buf, keys, rows, df.to_dict("records")):
                    meta = {k: _native(v) for k, v in rec.items()} | {"row": int(r), "source_row": int(inp)}
                    tw.write({"__key__": key, IMAGE_EXT: jpeg, META_EXT: json.dumps(meta, allow_nan=False).encode()})
            f.flush()
            os.fsync(f.fileno())
        offsets, sizes = image_locations(tmp, keys)
        part = df.assign(shard=shard, key=keys, row=rows, source_row=[i for i, _, _ in self._buf],
                         byte_offset=offsets, byte_size=sizes)
        write_part(self.out, shard, part)
        os.replace(tmp, self.out / shard)
        start = self.index["shards"][-1]["inputs"][1] if self.index["shards"] else 0
        entry = {"file": shard, "samples": len(df), "splits": split_counts(df["split"]),
                 "bytes": (self.out / shard).stat().st_size, "sha256": sha256_file(self.out / shard),
                 "first_row": first, "inputs": [start, self.inputs]}
        self._commit(entry)
        self._buf = []

    def _commit(self, entry: dict | None) -> None:
        ix = self.index
        if entry is not None:
            ix["shards"].append(entry)
            ix["samples"] += entry["samples"]
        ix["inputs"] = self.inputs if entry is None else entry["inputs"][1]
        ix["skipped_samples"] += [b for b in self._bad if b["input"] < ix["inputs"]]
        self._bad = [b for b in self._bad if b["input"] >= ix["inputs"]]
        ix["skipped"] = len(ix["skipped_samples"])
        save_json(self.out / INDEX, ix)

    def close(self) -> dict:
        """Write the last (partial) shard, the sample table and the final index; returns the index.
        ShardError when no input could be written at all."""
        if self.complete:
            return self.index
        self._flush()
        if self._bad:
            self._commit(None)  # inputs skipped after the last shard
        ix = self.index
        if not ix["shards"]:
            raise ShardError(f"{self.out}: no sample could be written ({ix['inputs']} input(s), all skipped)")
        merge_parts(self.out, [e["file"] for e in ix["shards"]])
        splits: dict[str, int] = {}
        for e in ix["shards"]:
            for k, v in e["splits"].items():
                splits[k] = splits.get(k, 0) + v
        import pyarrow.parquet as pq

        ix.update(complete=True, splits={k: splits[k] for k in (*SPLITS, "none") if k in splits},
                  bytes=sum(e["bytes"] for e in ix["shards"]),
                  columns=[c for c in pq.read_schema(self.out / TABLE).names])
        save_json(self.out / INDEX, ix)
        for e in ix["shards"]:
            part_path(self.out, e["file"]).unlink(missing_ok=True)
        try:
            (self.out / PARTS).rmdir()
        except OSError:
            pass
        self.complete = True
        return ix

    def __enter__(self) -> ShardSetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            log.warning("%s: write interrupted (%s) after %d complete shard(s); the same command resumes it",
                        self.out, exc_type.__name__, len(self.index["shards"]))
