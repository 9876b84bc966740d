"""Hugging Face datasets importer: stream N samples -> local images + manifest.

Uses the real ``datasets`` streaming path, ``load_dataset(name, split=..., streaming=True)``, so only
the requested samples are downloaded; ``name`` may be a Hub id (e.g. an OpenStreetView-5M Parquet
export, a GeoGuessr country dataset) or a local folder of the same layout (Parquet files or an
ImageFolder with ``<label>/`` folders), which is how it is tested offline (``HF_HUB_OFFLINE=1``).
Script-based Hub datasets can be read through the Hub's Parquet conversion, where it exists, with
``revision="refs/convert/parquet"``. Note: the official ``osv5m/osv5m`` repository uses a loading
script (no longer run by ``datasets`` >= 4) and has no such conversion; its schema (``id``,
``latitude``, ``longitude``, ``country``, ``region``, ``sequence``, ``captured_at``, ``image``) is
what the tests use, so any Parquet export of it imports as is.

Columns are found by name (or passed explicitly), also inside a dict column such as a WebDataset's
``json`` member (:mod:`.hf_samples`, whose :class:`SampleReader` this import and the shard import
:mod:`.hf_shards` share). Missing country/admin1 labels are filled by offline reverse geocoding when
coordinates exist.

Samples are keyed by content: image bytes are written unchanged (JPEG/PNG/WebP) as
``images/<hash of the bytes>.<ext>`` and ``location_id`` is that hash, so a re-import in another order
or with another shuffle reuses a file only for the very same image and never pairs an old image
with a new label; an interrupted import resumes (files already there are kept). Samples that cannot
be used (not JPEG/PNG/WebP, unreadable, a label that is not a country, the same image twice) are
named and skipped (:mod:`.skips`); the import goes on. The folder is locked while it is written
(:mod:`.lock`) and stamped ``import.json`` (:mod:`.outdir`): another data set's folder is refused.
"""
from __future__ import annotations

import hashlib
import itertools
import os
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from model.data.manifest import COLUMNS, SPLITS, write_manifest

from .groups import group_ids, grouped_split, parse_fractions
from .hf_samples import HFImportError, SampleReader, Skip, check_columns, fill_labels
from .journal import atomic_write_bytes
from .lock import hold
from .outdir import prepare_import, write_import_stamp
from .skips import Skips, stderr_line


def parse_split(spec: str | None) -> tuple[float, float, float] | str | None:
    """``--split``: three fractions (``0.8,0.1,0.1``) or one split name (``test``) for every sample."""
    if not spec:
        return None
    if spec.strip().lower() in SPLITS:
        return spec.strip().lower()
    try:
        return parse_fractions(spec)
    except ValueError:
        raise ValueError(f"--split wants three numbers like 0.8,0.1,0.1 or one of {', '.join(SPLITS)}, "
                         f"got {spec!r}") from None


def split_setting(split: tuple[float, ...] | str | None) -> list[float] | str | None:
    """How a ``--split`` is recorded in ``import.json`` (fractions as a list, a name as is)."""
    return split if isinstance(split, str) or split is None else list(split)


def load_stream(name: str, *, split: str = "train", config: str | None = None,
                revision: str | None = None, shuffle_buffer: int = 0, seed: int = 0):
    """``datasets.load_dataset(name, config, split=split, streaming=True)`` with raw (undecoded) images."""
    import datasets

    try:
        ds = datasets.load_dataset(name, config, split=split, streaming=True, revision=revision)
    except (FileNotFoundError, ValueError, ConnectionError) as e:
        raise HFImportError(f"cannot open dataset {name!r} (split {split!r}): {e}") from None
    except RuntimeError as e:  # datasets >= 4: "Dataset scripts are no longer supported, but found x.py"
        if "script" not in str(e).lower():
            raise
        raise HFImportError(
            f"cannot stream {name!r}: it is read by a loading script, which datasets >= 4 no longer runs ({e}). "
            "Use a Parquet or WebDataset copy of it (OpenStreetView-5M: osv5m/osv5m-wds), --revision "
            "refs/convert/parquet where the Hub converted it, or download it and import its files (docs/data.md, "
            "'OpenStreetView-5M')") from None
    feats = ds.features or {}
    for col, f in feats.items():
        if isinstance(f, datasets.Image):
            ds = ds.cast_column(col, datasets.Image(decode=False))
    if shuffle_buffer:
        ds = ds.shuffle(seed=seed, buffer_size=shuffle_buffer)
    return ds


def import_hf(name: str, out_dir: str | Path, n: int, *, split: str = "train", config: str | None = None,
              revision: str | None = None, columns: dict[str, str | None] | None = None,
              source: str | None = None, unknown: str = "skip", shuffle_buffer: int = 0, seed: int = 0,
              manifest_split: tuple[float, float, float] | str | None = None,
              stream: Iterable[dict] | None = None, progress: Callable[[int], None] | None = None,
              log: Callable[[str], None] | None = stderr_line) -> pd.DataFrame:
    """Stream the first ``n`` samples of a dataset into ``out_dir/images`` + ``out_dir/manifest.csv``.

    ``unknown``: samples whose country label is not a country are ``"skip"``-ped or ``"keep"``-t
    with an empty code. ``manifest_split``: grouped, country-stratified split fractions, or one split
    name (``"test"``) for every row; a fixed setting of the folder (None: as recorded, if any). ``log`` gets one line per skipped sample; the
    returned manifest's ``attrs["skipped"]`` is the :class:`Skips` record (counts by reason).
    """
    out = Path(out_dir).expanduser()
    local = Path(str(name)).expanduser()
    with hold(out):  # one writer; the checks below read the folder under the lock
        fixed = prepare_import(out, "hf", {
            "dataset": str(local.resolve()) if local.exists() else str(name), "config": config,
            "hf_split": split, "revision": revision, "split": split_setting(manifest_split), "shards": None})
        manifest_split = fixed["split"] if isinstance(fixed["split"], str) else \
            tuple(fixed["split"]) if fixed["split"] else None
        ds = stream if stream is not None else load_stream(name, split=split, config=config, revision=revision,
                                                           shuffle_buffer=shuffle_buffer, seed=seed)
        check_columns(ds, columns)
        write_import_stamp(out, "hf", fixed)
        rows, skips, k = _import_samples(ds, out, n, split, columns, unknown, progress, Skips(log))
        skips.write(out)
        if not rows:
            raise HFImportError(f"no usable samples in the first {n} of {name!r}"
                                + (f" ({skips.summary()})" if len(skips) else ""))
        df = _finish(pd.DataFrame(rows), source or Path(str(name)).name.replace("/", "_"), manifest_split, seed)
        write_manifest(df, out / "manifest.csv")
    df.attrs["skipped"] = skips
    df.attrs["streamed"] = k
    return df


def _import_samples(ds, out: Path, n: int, split: str, columns, unknown: str, progress, skips: Skips):
    """Write the images of the first ``n`` samples; returns (manifest rows, skips, samples streamed).
    Linear: the folder is listed once, each sample costs one hash and at most one write."""
    from model.shards.writer import check_row

    reader = SampleReader(getattr(ds, "features", None) or None, columns, split, unknown)
    rows: list[dict] = []
    (out / "images").mkdir(parents=True, exist_ok=True)
    with os.scandir(out / "images") as it:
        on_disk = {e.name: e.stat().st_size for e in it if not e.name.startswith(".")}
    seen: dict[str, str] = {}  # content hash -> the sample that had it first
    k = 0
    for k, sample in enumerate(itertools.islice(iter(ds), n), start=1):
        if progress:
            progress(k)
        s = reader.read(k - 1, sample)
        if isinstance(s, Skip):
            skips.add(*s)
            continue
        if s.digest in seen:
            skips.add(s.who, "duplicate image", f"same bytes as {seen[s.digest]}")
            continue
        why = check_row(s.row)  # what the manifest reader would refuse (one of lat/lon missing, out of range)
        if why:
            skips.add(s.who, "unusable coordinates", why)
            continue
        seen[s.digest] = s.who
        fname = s.row["image"].removeprefix("images/")
        if not _same_file(out / "images" / fname, on_disk.get(fname), s.data, s.digest):  # new, or torn: (re)write
            atomic_write_bytes(out / "images" / fname, s.data, durable=False)  # checked on reuse instead
        rows.append(s.row)
    return rows, skips, k


def _same_file(path: Path, size: int | None, data: bytes, digest: str) -> bool:
    """``path`` already holds exactly ``data`` (same size, then same SHA-256: a file torn by a power cut
    is never kept). Cheaper than an fsync per image; files are written without one."""
    if size != len(data):
        return False
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == digest
    except OSError:
        return False


def _finish(df: pd.DataFrame, source: str, split, seed: int) -> pd.DataFrame:
    """Labels, source, 1 km location groups and the split (fractions: grouped, country-stratified; a
    name: every row) of the whole import."""
    df["source"] = source
    fill_labels(df)
    if "lat" in df:
        df["group_id"] = group_ids(list(df["location_id"]), df["lat"], df["lon"])
    else:
        df["group_id"] = df["location_id"]
    if isinstance(split, str):
        df["split"] = split
    else:
        df["split"] = grouped_split(df, split, seed=seed) if split else ""
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = ""
    return df
