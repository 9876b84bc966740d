"""Stream a Hugging Face data set straight into WebDataset shards: ``python -m model.collect hf NAME --shards``.

No manifest and no image folder first: each streamed sample is read by the folder import's
:class:`.hf_samples.SampleReader` (the same columns, the same skips with the same names and reasons),
its image is checked and stored by :class:`model.shards.ShardSetWriter` (JPEG bytes unchanged unless
``max_side`` shrinks the image; PNG/WebP stored as JPEG) and its row gets the folder import's labels
(:func:`.hf_samples.fill_labels`: a missing country/admin1 from offline reverse geocoding),
``source``, ``image`` and ``location_id`` (the image's content hash, as in the folder import).

What differs from the folder import, because a stream cannot be seen whole before it is written:

- ``group_id`` is the H3 cell (resolution 7, edge about 1.2 km) of the sample's coordinates instead of
  the folder import's 1-km chains over the whole set; a sample without coordinates is its own group.
- ``--split F,F,F`` sends each group to train/val/test by a seeded hash of its id: the fractions hold
  over the whole set (not per country); one cell never straddles splits, but two places on either side
  of a cell edge can. ``--split NAME`` gives every sample that split (``test`` for a benchmark's test
  split). Without ``--split`` the rows have none and training splits the table
  (:func:`model.data.splits.ensure_split`).
- an image that does not decode is skipped as ``unreadable image`` (the folder import stores the bytes
  without decoding them) and a row with impossible coordinates as ``unusable coordinates``.

Resume: every stream sample is exactly one writer input (added or skipped, in stream order), so the
writer's ``resume_at`` (inputs in complete shards) is the number of stream samples already done. The
stream is moved there with ``IterableDataset.load_state_dict`` (the stream state saved in
``stream_state.json`` when that shard was completed: whole source files are passed over unread) or, when
no such state exists or the stream is shuffled (a state does not restore a shuffle buffer), with
``IterableDataset.skip(resume_at)`` (reads and drops them). Duplicates are still found across the
resume: the content hashes of the samples already written are read back from the shards' table parts.
"""
from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from model.shards.encode import DEFAULT_QUALITY
from model.shards.format import INDEX, ShardError, load_index
from model.shards.table import part_path
from model.shards.writer import ShardSetWriter, check_row

from .decode import prepare
from .hf_samples import HFImportError, SampleReader, Skip, check_columns, fill_labels
from .huggingface import load_stream, split_setting
from .journal import atomic_write_text
from .lock import LOCK_NAME, hold
from .outdir import OutFolderError, check_out, describe, prepare_import, write_import_stamp
from .skips import Skips, stderr_line

STATE = "stream_state.json"
CHUNK = 256          # at most this many stream samples are read, decoded and labelled together
GROUP_RES = 7        # H3 resolution of a location group (average edge 1.2 km)
KEEP_STATES = 8      # stream states kept (one per recently completed shard)
REASONS = ("label is not a country", "not JPEG, PNG or WebP", "unreadable image", "duplicate image",
           "unusable coordinates")
OWN_FILES = (LOCK_NAME, "import.json", STATE, "skipped.csv")
NEW_PREFIX = ".new-"  # a temporary folder in which a new folder's first index is made


@dataclass
class ShardImport:
    """What an import into shards did. ``streamed``: stream samples done over all runs (written +
    skipped); ``resumed_at``: those already done when this run started; ``how``: how it got there."""
    out: Path
    index: dict
    skipped: Skips
    streamed: int
    resumed_at: int
    how: str


def import_hf_shards(name: str, out_dir: str | os.PathLike, n: int | None = None, *, split: str = "train",
                     config: str | None = None, revision: str | None = None,
                     columns: dict[str, str | None] | None = None, source: str | None = None,
                     unknown: str = "skip", shuffle_buffer: int = 0, seed: int = 0,
                     manifest_split: tuple[float, float, float] | str | None = None, shard_size: int = 1000,
                     max_side: int | None = None, quality: int = DEFAULT_QUALITY, workers: int = 0,
                     stream: Iterable[dict] | None = None, progress: Callable[[int], None] | None = None,
                     log: Callable[[str], None] | None = stderr_line) -> ShardImport:
    """Stream the first ``n`` samples (None: all) of split ``split`` of ``name`` into shards in ``out_dir``.

    Options as :func:`.huggingface.import_hf`; ``shard_size``, ``max_side`` (pixels) and ``quality`` as
    :class:`model.shards.ShardSetWriter`; ``workers`` > 1 decodes images in that many processes.
    ``progress(k)`` is called before the k-th stream sample (counting the resumed ones). Every setting
    is fixed for the folder (``import.json``); the same command resumes an interrupted import.
    """
    out = Path(out_dir).expanduser()
    local = Path(str(name)).expanduser()
    src = source or Path(str(name)).name.replace("/", "_")
    settings = {"dataset": str(local.resolve()) if local.exists() else str(name), "config": config,
                "hf_split": split, "revision": revision, "split": split_setting(manifest_split),
                "shards": {"shard_size": int(shard_size), "max_side": int(max_side) if max_side else None,
                           "quality": int(quality)},
                "n": n, "shuffle_buffer": int(shuffle_buffer), "seed": int(seed), "unknown": unknown,
                "source": src, "columns": {k: v for k, v in sorted((columns or {}).items()) if v}}
    with hold(out), _no_double_skip_lines():
        saved = check_out(out, "hf")
        if saved is not None and not saved.get("shards"):
            raise OutFolderError(f"--out {out} holds {describe(out)}: an hf import into an image folder, and "
                                 f"--shards writes a shard folder. Choose another --out (e.g. {out}_shards).")
        fixed = prepare_import(out, "hf", settings)
        msplit = fixed["split"] if isinstance(fixed["split"], str) else \
            tuple(fixed["split"]) if fixed["split"] else None
        ix = load_index(out, complete=False) if (out / INDEX).is_file() else None
        if ix and ix["complete"] and ix["identity"] == _identity(fixed):  # nothing to do: no stream opened
            return ShardImport(out, ix, _skips_so_far(ix, log), int(ix["inputs"]), int(ix["inputs"]), "complete")
        ds = stream if stream is not None else load_stream(name, split=split, config=config, revision=revision,
                                                           shuffle_buffer=shuffle_buffer, seed=seed)
        check_columns(ds, columns)
        write_import_stamp(out, "hf", fixed)
        writer = _open_writer(out, fixed, n)
        skips = _skips_so_far(writer.index, log)
        start = writer.resume_at
        if writer.complete:
            return ShardImport(out, writer.index, skips, int(writer.index["inputs"]), start, "complete")
        ds, how, base_skip = _seek(ds, out, start, shuffle_buffer)
        if start and log:
            log(f"{out}: {start:,} sample(s) already in {len(writer.index['shards'])} complete shard(s); "
                f"resuming at sample {start:,} ({how})")
        run = _Run(writer, SampleReader(getattr(ds, "features", None) or None, columns, split, unknown), skips,
                   _seen_so_far(out, writer.index), src, msplit, seed, out,
                   base_skip if (hasattr(ds, "state_dict") and not shuffle_buffer) else None)
        pool = mp.get_context("spawn").Pool(workers) if workers > 1 else None
        try:
            with writer:
                done = run.stream(ds, start, n, progress, pool)
        except ShardError:
            if writer.index["shards"] or writer.complete:
                raise
            raise HFImportError(f"no usable samples in the first {writer.inputs:,} of {name!r}"
                                + (f" ({skips.summary()})" if len(skips) else "")) from None
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
        skips.write(out)
        (out / STATE).unlink(missing_ok=True)
    return ShardImport(out, writer.index, skips, done, start, how)


class _Run:
    """One run of the import loop: stream samples -> rows + images -> the writer, in stream order."""

    def __init__(self, writer: ShardSetWriter, reader: SampleReader, skips: Skips, seen: dict, source: str,
                 split, seed: int, out: Path, base_skip: int | None):
        self.writer, self.reader, self.skips, self.seen = writer, reader, skips, seen
        self.source, self.split, self.seed, self.out = source, split, seed, out
        self.base_skip = base_skip  # None: stream states are not saved (plain iterable or shuffled)
        self.settings = writer.settings

    def stream(self, ds, start: int, n: int | None, progress, pool) -> int:
        """Consume the stream from sample ``start`` to ``n`` (or its end); returns samples done."""
        it, done = iter(ds), start
        while n is None or done < n:
            size = min(CHUNK, self.settings["shard_size"])  # never more than a shard in flight
            want = size if n is None else min(size, n - done)
            chunk: list[dict] = []
            states: list[dict | None] = []
            for sample in it:
                chunk.append(sample)
                states.append(ds.state_dict() if self.base_skip is not None else None)
                if len(chunk) == want:
                    break
            if not chunk:
                break
            self._write_chunk(chunk, states, done, progress, pool)
            done += len(chunk)
        return done

    def _write_chunk(self, chunk: list[dict], states: list, done: int, progress, pool) -> None:
        read = []
        for j, sample in enumerate(chunk):
            if progress:
                progress(done + j + 1)
            read.append(self.reader.read(done + j, sample))
        ok = [r for r in read if not isinstance(r, Skip)]
        jobs = [(r.data, r.who, self.settings["max_side"], self.settings["quality"]) for r in ok]
        prepared = iter((pool.map(prepare, jobs, chunksize=8) if pool else map(prepare, jobs)) if jobs else [])
        rows = iter(_finish_rows([r.row for r in ok], self.source, self.split, self.seed) if ok else [])
        w = self.writer
        for j, r in enumerate(read):
            i = done + j
            if isinstance(r, Skip):
                self._skip(r)
            else:
                (jpeg, err), row = next(prepared), next(rows)
                key = int(r.digest[:16], 16)
                why = check_row(row)
                if key in self.seen:
                    self._skip(Skip(r.who, "duplicate image", f"same bytes as {self.reader.name(*self.seen[key])}"))
                elif err is not None:
                    self._skip(Skip(r.who, "unreadable image", err.removeprefix(f"{r.who}: ")))
                elif why:
                    self._skip(Skip(r.who, "unusable coordinates", why))
                else:
                    shards = len(w.index["shards"])
                    w.add_encoded(row, jpeg, r.who)
                    self.seen[key] = (i, str(row["sample_id"]))
                    if len(w.index["shards"]) > shards:  # a shard was completed with this sample
                        self._save_state(int(w.index["inputs"]), states[j])
            if w.inputs != i + 1:  # each stream sample is exactly one writer input: resume depends on it
                raise RuntimeError(f"internal error: stream sample {i} gave writer input count {w.inputs}")

    def _skip(self, s: Skip) -> None:
        self.skips.add(*s)
        self.writer.skip(s.who, s.reason + (f" ({s.detail})" if s.detail else ""))

    def _save_state(self, inputs: int, state: dict | None) -> None:
        if state is None:
            return
        p = self.out / STATE
        try:
            saved = json.loads(p.read_text()) if p.is_file() else {}
        except (OSError, ValueError):
            saved = {}
        states = saved.get("states", {}) if saved.get("skip") == self.base_skip else {}
        states[str(inputs)] = state
        keep = dict(sorted(states.items(), key=lambda kv: int(kv[0]))[-KEEP_STATES:])
        try:
            atomic_write_text(p, json.dumps({"skip": self.base_skip, "states": keep}))
        except (TypeError, ValueError):  # a state that is not JSON: resume by skipping instead
            self.base_skip = None


def _finish_rows(rows: list[dict], source: str, split, seed: int) -> list[dict]:
    """Labels (reverse geocoding), source, group (H3 cell) and split of a chunk of rows."""
    df = pd.DataFrame(rows)
    df["source"] = source
    fill_labels(df)
    df["group_id"] = cell_groups(df)
    if isinstance(split, str):
        df["split"] = split
    else:
        df["split"] = hashed_split(df["group_id"], split, seed) if split else ""
    return df.to_dict("records")


def cell_groups(df: pd.DataFrame, res: int = GROUP_RES) -> list[str]:
    """A 12-hex-digit group id per row: its H3 cell at ``res``, else (no coordinates) its location."""
    import h3

    lats = df["lat"].to_numpy(float) if "lat" in df else np.full(len(df), np.nan)
    lons = df["lon"].to_numpy(float) if "lon" in df else np.full(len(df), np.nan)
    out = []
    for lat, lon, lid in zip(lats, lons, df["location_id"]):
        ok = np.isfinite(lat) and np.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180
        key = h3.latlng_to_cell(float(lat), float(lon), res) if ok else str(lid)
        out.append(hashlib.sha1(key.encode()).hexdigest()[:12])
    return out


def hashed_split(groups: Iterable[str], fractions, seed: int = 0) -> list[str]:
    """train/val/test per group id by a seeded hash: about ``fractions`` of the groups each, the same
    group always the same split, independent of order and of the other groups."""
    f = np.asarray(fractions, float)
    cum = np.cumsum(f / f.sum())
    out = []
    for g in groups:
        u = int(hashlib.sha1(f"{seed}|{g}".encode()).hexdigest()[:13], 16) / 16 ** 13
        out.append(("train", "val", "test")[min(2, int(np.searchsorted(cum, u, side="right")))])
    return out


def _identity(fixed: dict) -> str:
    rest = {k: v for k, v in fixed.items() if k != "shards"}
    h = hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:16]
    return f"hf:{fixed['dataset']}:{fixed['hf_split']} settings:{h}"


def _open_writer(out: Path, fixed: dict, n: int | None) -> ShardSetWriter:
    """The shard writer of ``out``. A new folder holds the lock and stamp already, which the writer would
    take for foreign files, so its first index is made by a writer in an empty folder and moved in."""
    kw = dict(identity=_identity(fixed), **fixed["shards"])
    source = {"kind": "hf", "path": fixed["dataset"], "hf_split": fixed["hf_split"], **({"rows": n} if n else {})}
    if not (out / INDEX).is_file():
        for p in out.glob(f"{NEW_PREFIX}*"):  # left by a kill in the window below (the folder lock is ours)
            shutil.rmtree(p, ignore_errors=True)
        foreign = sorted(p.name for p in out.iterdir() if p.name not in OWN_FILES and not p.name.startswith(NEW_PREFIX))
        if foreign:
            raise OutFolderError(f"--out {out} holds {', '.join(foreign[:6])} but no shard index; choose a new or "
                                 "empty folder")
        (out / STATE).unlink(missing_ok=True)
        with tempfile.TemporaryDirectory(dir=out, prefix=NEW_PREFIX) as tmp:
            ShardSetWriter(Path(tmp) / "d", source=source, **kw)
            os.replace(Path(tmp) / "d" / INDEX, out / INDEX)
    return ShardSetWriter(out, source=source, **kw)


def _seek(ds, out: Path, start: int, shuffle_buffer: int):
    """``(stream moved to sample start, how, skip the saved states are relative to)``."""
    if start == 0:
        return ds, "", 0
    if not hasattr(ds, "skip"):  # a plain iterable (tests, callers' own streams)
        import itertools

        return itertools.islice(ds, start, None), f"the first {start:,} stream samples read and dropped", 0
    if not shuffle_buffer:
        try:
            saved = json.loads((out / STATE).read_text())
            state = saved["states"][str(start)]
            base = int(saved.get("skip") or 0)
            moved = ds.skip(base) if base else ds
            moved.load_state_dict(state)
            return moved, "stream state restored: source files before it are not read again", base
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
    return ds.skip(start), f"IterableDataset.skip({start:,}): the first {start:,} samples are read and dropped", start


def _skips_so_far(index: dict, log) -> Skips:
    """The skips of earlier runs (from the index), not printed again; new ones go to ``log``."""
    skips = Skips(None)
    for s in index.get("skipped_samples", []):
        text = s["reason"]
        reason = next((r for r in REASONS if text.startswith(r)), text)
        detail = text[len(reason):].strip()
        skips.add(s["name"], reason, detail[1:-1] if detail.startswith("(") and detail.endswith(")") else detail)
    skips.log = log
    return skips


def _seen_so_far(out: Path, index: dict) -> dict[int, tuple[int, str]]:
    """Content hash (first 64 bits) -> (stream sample, sample id) of the samples in complete shards."""
    seen: dict[int, tuple[int, str]] = {}
    for e in index["shards"]:
        part = pd.read_parquet(part_path(out, e["file"]), columns=["location_id", "source_row", "sample_id"])
        for lid, r, sid in zip(part["location_id"], part["source_row"], part["sample_id"]):
            seen[int(lid, 16)] = (int(r), str(sid))
    return seen


class _DropSkipLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != "skipped %s"  # the import names each skip itself (.skips)


@contextmanager
def _no_double_skip_lines() -> Iterator[None]:
    """While importing, the shard writer's own 'skipped ...' log lines are dropped (not its others)."""
    f, logger = _DropSkipLines(), logging.getLogger("model.shards")
    logger.addFilter(f)
    try:
        yield
    finally:
        logger.removeFilter(f)
