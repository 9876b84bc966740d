"""One streamed Hugging Face sample -> a manifest row + image bytes, or a named skip.

Used by the folder import (:mod:`.huggingface`) and the shard import (:mod:`.hf_shards`), so that both map
columns, name samples and skip them alike. Columns are found by name (first match wins, or pass them
explicitly): image (an ``Image`` feature, else ``image``/``img``/``jpg``), latitude (``latitude``/``lat``),
longitude (``longitude``/``lon``/``lng``), country (``country_code``/``country``/``label``; ISO code, name or
a ``ClassLabel``), admin1 (``admin1``/``region``/``state``), id (``id``/``image_id``/``__key__``), date
(``captured_at``/``date``). A column holding a dict (a WebDataset's ``json`` member) is read as columns too.
"""
from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from model.data.revgeo import country_name, reverse_geocode

from .regions import RegionError, to_country_code

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


def check_columns(ds: Any, overrides: dict[str, str | None] | None) -> None:
    """Raise :class:`HFImportError` if a column override is not in the stream ``ds`` (or no image column is
    found): called before an import writes anything, so the corrected command is not a "settings mismatch".
    Reads the declared features, else the first sample of a ``datasets`` stream; other iterables are
    checked on their first sample as they are read."""
    import datasets

    features = getattr(ds, "features", None)
    if features:
        find_columns(features, {}, overrides)
    elif isinstance(ds, datasets.IterableDataset):
        first = next(iter(ds), None)
        if first is not None:
            find_columns(None, flat_sample(first), overrides)


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
