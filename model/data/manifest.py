"""The one dataset format: a manifest CSV with one row per image (a *view*).

Columns (see ``COLUMNS``): ``image`` is a path relative to the manifest's folder (absolute paths
are accepted too); ``lat``/``lon`` are WGS-84 degrees and may be empty (country label only);
``split`` is ``train``/``val``/``test`` or absent. Extra columns are kept.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from model.paths import DATA, SHARED_DATA

REQUIRED = ["image"]
COLUMNS = ["image", "location_id", "group_id", "source", "view", "heading", "lat", "lon",
           "country_code", "country", "admin1", "split"]
SPLITS = ("train", "val", "test")
ENV_VAR = "GEOLOC_DATA"


class ManifestError(ValueError):
    """A manifest that cannot be used, with a message that says why and where."""


def default_manifest_path() -> Path | None:
    """Where the data is: ``$GEOLOC_DATA``, then ``data/manifest.csv``, then ``../shared/geodata``.

    ``$GEOLOC_DATA`` may name the CSV or a folder holding ``manifest.csv``. Returns None if none exists.
    """
    env = os.environ.get(ENV_VAR)
    candidates = []
    if env:
        p = Path(env).expanduser()
        candidates.append(p / "manifest.csv" if p.is_dir() and not _is_shard_dir(p) else p)
    candidates += [DATA / "manifest.csv", SHARED_DATA / "manifest.csv"]
    for c in candidates:
        if c.is_file() or _is_shard_dir(c):
            return c.resolve()
    return None


def _is_shard_dir(p: Path) -> bool:
    """A folder of WebDataset shards (:mod:`model.shards`), accepted wherever a manifest is."""
    from model.shards.format import is_shard_dir

    return is_shard_dir(p)


def resolve_manifest(path: str | os.PathLike | None) -> Path:
    """The manifest to use: ``path`` if given (a CSV, a folder with manifest.csv, or a shard folder
    (:mod:`model.shards`), returned as the folder), else the default."""
    if path is None:
        p = default_manifest_path()
        if p is None:
            raise ManifestError(f"No data found: set {ENV_VAR}, create data/manifest.csv, "
                                "or put the shared set at ../shared/geodata (or pass --data MANIFEST).")
        return p
    p = Path(path).expanduser()
    if _is_shard_dir(p):
        return p.resolve()
    if p.is_dir():
        p = p / "manifest.csv"
    if not p.is_file():
        raise ManifestError(f"Manifest not found: {p}")
    return p.resolve()


def read_manifest(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read and validate a manifest; returns a DataFrame with all ``COLUMNS`` present.

    Adds ``path`` (absolute image path). Missing optional columns are filled: ``location_id``
    defaults to the image path, ``group_id`` to the location, ``view`` to 0. Coordinates are
    floats (NaN where unknown); rows with impossible coordinates raise :class:`ManifestError`.
    Rows with coordinates and an empty ``country_code`` get their labels by reverse geocoding.
    Header names are stripped of surrounding spaces. A shard folder gives its sample table
    (:func:`model.shards.read_table`: the same columns, ``path`` naming ``<dir>/<shard>.tar#<key>``).
    """
    p = resolve_manifest(path)
    if p.is_dir():
        from model.shards.table import read_table

        return read_table(p)
    try:
        df = pd.read_csv(p, dtype={"location_id": str, "group_id": str, "country_code": str,
                                   "admin1": str, "split": str, "image": str, "source": str},
                         keep_default_na=False, na_values={"lat": [""], "lon": [""], "heading": [""]})
    except pd.errors.EmptyDataError as e:
        raise ManifestError(f"{p}: empty file (a manifest needs at least a header with an 'image' column)") from e
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise ManifestError(f"{p}: not a readable CSV ({e})") from e
    return normalise(df, p.parent, str(p))


def normalise(df: pd.DataFrame, base: Path, where: str = "manifest") -> pd.DataFrame:
    """Validate columns and types of a manifest table and fill defaults (see :func:`read_manifest`)."""
    df = df.rename(columns=lambda c: c.strip() if isinstance(c, str) else c)  # "image, lat, lon" headers
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise ManifestError(f"{where}: missing column(s) {missing}; found {list(df.columns)}")
    df = df.copy()
    df["image"] = df["image"].astype(str)
    if (df["image"].str.strip() == "").any():
        bad = int(np.flatnonzero(df["image"].str.strip() == "")[0]) + 2
        raise ManifestError(f"{where}: empty image path on line {bad}")
    for c in ("lat", "lon", "heading"):
        if c not in df.columns:
            df[c] = np.nan
        num = pd.to_numeric(df[c], errors="coerce")
        bad = num.isna() & df[c].notna() & (df[c].astype(str).str.strip() != "")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ManifestError(f"{where}: line {i + 2}: {c}={df[c].iloc[i]!r} is not a number")
        df[c] = num.astype(float)
    if ((df["lat"].abs() > 90) | (df["lon"].abs() > 180)).any():
        i = int(np.flatnonzero(((df["lat"].abs() > 90) | (df["lon"].abs() > 180)).to_numpy())[0])
        raise ManifestError(f"{where}: line {i + 2}: coordinates out of range "
                            f"({df['lat'].iloc[i]}, {df['lon'].iloc[i]})")
    if (df["lat"].isna() != df["lon"].isna()).any():
        i = int(np.flatnonzero((df["lat"].isna() != df["lon"].isna()).to_numpy())[0])
        raise ManifestError(f"{where}: line {i + 2}: lat and lon must both be given or both empty")
    for c in ("location_id", "group_id", "country_code", "country", "admin1", "split", "source"):
        if c not in df.columns:
            df[c] = ""
        df[c] = df[c].fillna("").astype(str)
    df.loc[df["location_id"] == "", "location_id"] = df.loc[df["location_id"] == "", "image"]
    df.loc[df["group_id"] == "", "group_id"] = df.loc[df["group_id"] == "", "location_id"]
    df["country_code"] = df["country_code"].str.strip().str.upper()
    _fill_labels(df)
    if "view" not in df.columns:
        df["view"] = 0
    df["view"] = pd.to_numeric(df["view"], errors="coerce").fillna(0).astype(int)
    bad_split = ~df["split"].isin(SPLITS + ("",))
    if bad_split.any():
        i = int(np.flatnonzero(bad_split.to_numpy())[0])
        raise ManifestError(f"{where}: line {i + 2}: split={df['split'].iloc[i]!r}; use train, val, test or empty")
    df["path"] = [str(Path(x) if Path(x).is_absolute() else (base / x)) for x in df["image"]]
    return df.reset_index(drop=True)


def _fill_labels(df: pd.DataFrame) -> None:
    """In place: rows with coordinates but no ``country_code`` get country, name and admin1 from offline
    reverse geocoding (:mod:`model.data.revgeo`); a given country name or admin1 is kept."""
    todo = (df["country_code"] == "") & df["lat"].notna()
    if not todo.any():
        return
    from .revgeo import reverse_geocode

    labels = reverse_geocode(df.loc[todo, "lat"].to_numpy(), df.loc[todo, "lon"].to_numpy())
    idx = df.index[todo]
    df.loc[idx, "country_code"] = [r["country_code"] for r in labels]
    for c in ("country", "admin1"):
        keep = df.loc[idx, c] != ""
        df.loc[idx, c] = np.where(keep, df.loc[idx, c], [r[c] for r in labels])


def write_manifest(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a manifest atomically (temp file + rename); ``COLUMNS`` first, extras after, no ``path``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    cols = [c for c in COLUMNS if c in df.columns] + [c for c in df.columns if c not in COLUMNS and c != "path"]
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".manifest-", suffix=".csv")
    with os.fdopen(fd, "w", newline="") as f:
        df[cols].to_csv(f, index=False, float_format="%.6f")
    os.replace(tmp, p)
    return p


def locations(df: pd.DataFrame) -> pd.DataFrame:
    """One row per location (first view), index reset; ``n_views`` counts its images."""
    g = df.groupby("location_id", sort=False)
    first = g.head(1).set_index("location_id")
    first["n_views"] = g.size()
    return first.reset_index()
