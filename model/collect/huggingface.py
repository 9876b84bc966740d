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

Columns are found by name (first match wins, or pass them explicitly):
image (an ``Image`` feature, else ``image``/``img``/``jpg``), latitude (``latitude``/``lat``),
longitude (``longitude``/``lon``/``lng``), country (``country_code``/``country``/``label``; ISO
code, name or a ``ClassLabel``), admin1 (``admin1``/``region``/``state``), id (``id``/``image_id``),
date (``captured_at``/``date``). Missing country/admin1 labels are filled by offline reverse
geocoding when coordinates exist.

Samples are keyed by content: image bytes are written unchanged (JPEG/PNG/WebP) as
``images/<hash of the bytes>.<ext>`` and ``location_id`` is that hash, so a re-import in another order
or with another shuffle reuses a file only for the very same image and never pairs an old image
with a new label; an interrupted import resumes (files already there are kept). Samples that cannot
be used (not JPEG/PNG/WebP, unreadable, a label that is not a country, the same image twice) are
named and skipped (:mod:`.skips`); the import goes on. The folder is locked while it is written
(:mod:`.lock`) and stamped ``import.json`` (:mod:`.outdir`): another data set's folder is refused.

A column holding a dict (a WebDataset's ``json`` member, as ``datasets`` streams ``osv5m/osv5m-wds``)
is read as columns too (its keys, where no top-level column has the name). :class:`SampleReader` turns
one stream sample into a manifest row + image bytes, or a named skip; both this folder import and the
shard import (:mod:`.hf_shards`, ``--shards``) use it, so they map columns and skip samples alike.
"""
from __future__ import annotations

import hashlib
import io
import itertools
import os
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple

import pandas as pd

from model.manifest import COLUMNS, SPLITS, write_manifest
from model.revgeo import country_name, reverse_geocode

from .groups import group_ids, grouped_split, parse_fractions
from .journal import atomic_write_bytes
from .lock import hold
from .outdir import prepare_import, write_import_stamp
from .regions import RegionError, to_country_code
from .skips import Skips, stderr_line

CANDIDATES = {
    "image": ("image", "img", "jpg", "jpeg", "png", "photo"),
    "lat": ("latitude", "lat"),
    "lon": ("longitude", "lon", "lng", "long"),
    "country": ("country_code", "country", "country_iso_alpha2", "label", "labels"),
    "admin1": ("admin1", "region", "state", "province"),
    "id": ("id", "image_id", "key", "uuid", "__key__"),
    "date": ("captured_at", "date", "timestamp"),
}


class HFImportError(ValueError):
    """A dataset that cannot be imported, with the reason."""


def find_columns(features: dict[str, Any] | None, first_row: dict[str, Any],
                 overrides: dict[str, str | None] | None = None) -> dict[str, str | None]:
    """Map roles (image, lat, lon, country, admin1, id, date) to column names of a dataset."""
    import datasets

    names = list(flat_features(features)) if features else list(flat_sample(first_row))
    lower = {n.lower(): n for n in names}
    out: dict[str, str | None] = {}
    for role, cands in CANDIDATES.items():
        out[role] = next((lower[c] for c in cands if c in lower), None)
    if features:
        imgs = [n for n, f in features.items() if isinstance(f, datasets.Image)]
        if imgs:
            out["image"] = imgs[0]
    for role, col in (overrides or {}).items():
        if col:
            if col not in names:
                raise HFImportError(f"column {col!r} (for {role}) not in the dataset; columns: {names}")
            out[role] = col
    if not out["image"]:
        raise HFImportError(f"no image column found; columns: {names} (pass --image-column)")
    if bool(out["lat"]) != bool(out["lon"]):
        raise HFImportError(f"found only one of latitude/longitude ({out['lat'] or out['lon']}); pass both")
    return out


def _is_image_value(v: Any) -> bool:
    return isinstance(v, dict) and set(v) <= {"bytes", "path"} and bool(v)


def flat_features(features: dict[str, Any] | None) -> dict[str, Any]:
    """Top-level features, then the fields of dict (struct) features under names not taken yet."""
    import datasets

    out = dict(features or {})
    for f in list(out.values()):
        if isinstance(f, dict) and not isinstance(f, datasets.Image):
            for k, v in f.items():
                out.setdefault(k, v)
    return out


def flat_sample(sample: dict[str, Any]) -> dict[str, Any]:
    """A sample with the keys of its dict-valued columns (not image values) added where not taken."""
    out = dict(sample)
    for v in sample.values():
        if isinstance(v, dict) and not _is_image_value(v):
            for k, x in v.items():
                out.setdefault(k, x)
    return out


def _image_bytes(value: Any) -> bytes:
    """Raw image bytes from a datasets image value (dict with bytes/path, PIL image or bytes)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, dict):
        if value.get("bytes"):
            return bytes(value["bytes"])
        if value.get("path") and Path(value["path"]).is_file():
            return Path(value["path"]).read_bytes()
    if hasattr(value, "save"):  # PIL image
        buf = io.BytesIO()
        value.convert("RGB").save(buf, "JPEG", quality=95)
        return buf.getvalue()
    raise HFImportError(f"cannot read an image from a {type(value).__name__}")


def _ext(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return ".jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return ".png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    kind = next((k for sig, k in ((b"GIF8", "GIF"), (b"BM", "BMP"), (b"II*\0", "TIFF"), (b"MM\0*", "TIFF"),
                                   (b"<", "text/HTML")) if data.startswith(sig)), f"starts with {data[:4]!r}")
    raise HFImportError(f"not JPEG, PNG or WebP ({kind})")


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


class Sample(NamedTuple):
    """A usable stream sample: its name in messages, manifest row, image file bytes and their SHA-256."""
    who: str
    row: dict[str, Any]
    data: bytes
    digest: str


class Skip(NamedTuple):
    """A stream sample that cannot be used: its name, the reason (a category) and details."""
    who: str
    reason: str
    detail: str = ""


class SampleReader:
    """Reads stream samples into manifest rows (see the module doc for the columns), one at a time.

    Columns are found on the first sample. Country labels are checked here; labels from coordinates
    (reverse geocoding), groups and splits are added later over many rows (:func:`fill_labels`).
    """

    def __init__(self, features: dict[str, Any] | None, columns: dict[str, str | None] | None, split: str,
                 unknown: str = "skip"):
        self.features = flat_features(features) if features else None
        self.overrides, self.split, self.unknown = columns, split, unknown
        self.cols: dict[str, str | None] | None = None
        self.label_names: list[str] | None = None

    def name(self, i: int, raw_id: str) -> str:
        """``sample 17 (id abc)``: how messages and ``skipped.csv`` name stream sample ``i`` (0-based)."""
        return f"sample {i}" + (f" (id {raw_id})" if self.cols and self.cols["id"] else "")

    def read(self, i: int, sample: dict[str, Any]) -> Sample | Skip:
        """Stream sample ``i`` (0-based) as a :class:`Sample`, or a :class:`Skip` saying why not."""
        sample = flat_sample(sample)
        if self.cols is None:
            self.cols = find_columns(self.features, sample, self.overrides)
            cfeat = self.features.get(self.cols["country"]) if self.features and self.cols["country"] else None
            self.label_names = getattr(cfeat, "names", None)
        cols = self.cols
        raw_id = str(sample.get(cols["id"])) if cols["id"] else f"{self.split}:{i}"
        who = self.name(i, raw_id)
        country = sample.get(cols["country"]) if cols["country"] else None
        if self.label_names is not None and isinstance(country, int):
            country = self.label_names[country]
        row: dict[str, Any] = {"sample_id": raw_id, "view": 0, "label": "" if country is None else str(country)}
        try:
            row["country_code"] = to_country_code(country) if country not in (None, "") else ""
        except RegionError:
            if self.unknown == "skip":
                return Skip(who, "label is not a country", repr(country))
            row["country_code"] = ""
        try:
            data = _image_bytes(sample[cols["image"]])
            ext = _ext(data)
        except HFImportError as e:
            if str(e).startswith("not JPEG"):
                return Skip(who, "not JPEG, PNG or WebP", str(e).partition("(")[2].rstrip(")"))
            return Skip(who, "unreadable image", str(e))
        digest = hashlib.sha256(data).hexdigest()
        row.update(image=f"images/{digest[:24]}{ext}", location_id=digest[:16])
        if cols["lat"]:
            row["lat"], row["lon"] = _float(sample.get(cols["lat"])), _float(sample.get(cols["lon"]))
        row["admin1"] = str(sample.get(cols["admin1"]) or "") if cols["admin1"] else ""
        if cols["date"]:
            row["date"] = str(sample.get(cols["date"]) or "")
        return Sample(who, row, data, digest)


def _import_samples(ds, out: Path, n: int, split: str, columns, unknown: str, progress, skips: Skips):
    """Write the images of the first ``n`` samples; returns (manifest rows, skips, samples streamed).
    Linear: the folder is listed once, each sample costs one hash and at most one write."""
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


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def fill_labels(df: pd.DataFrame) -> None:
    """In place: rows with coordinates get an empty ``country_code``/``admin1`` from offline reverse
    geocoding (a given label is kept); ``country`` is the code's English name."""
    if "lat" in df:
        has = df["lat"].notna() & df["lon"].notna()
        if has.any():
            labels = reverse_geocode(df.loc[has, "lat"].to_numpy(), df.loc[has, "lon"].to_numpy())
            for c in ("country_code", "admin1"):  # column-wise: a per-cell loop was 3 ms a row
                given = df.loc[has, c].fillna("").astype(str)
                df.loc[has, c] = given.where(given != "", [lab[c] for lab in labels])
    df["country"] = [country_name(c) if c else "" for c in df["country_code"]]


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
