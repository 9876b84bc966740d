"""Importers for the public geolocation benchmarks in their own format: Im2GPS3k and YFCC4k.

Both come as a CSV of image ids and coordinates beside a folder of images, as used by GeoEstimation,
GeoCLIP, PIGEON, Img2Loc and G3:

* ``im2gps3k_places365.csv`` (GeoEstimation's ``meta/``): ``IMG_ID,AUTHOR,LAT,LON,S3_Label,S16_Label,
  S365_Label,Prob_indoor,Prob_natural,Prob_urban``; ``IMG_ID`` is the file name
  (``1000269685_e60e9cdfb4_1125_78841376@N00.jpg``). An earlier version of that file names the
  columns ``IMG_ID,AUTHOR,LON,LAT,...`` with the same values (latitude first): that header is
  recognised and read as latitude, longitude.
* ``yfcc4k_places365.csv`` / ``yfcc4k.csv``: ``IMG_ID`` (``10201275523.jpg``), ``AUTHOR`` or
  ``OwnerNSID``, ``LAT``, ``LON``, ...

Column names are matched without regard to case (``IMG_ID``/``image_id``/``id``, ``LAT``/``latitude``,
``LON``/``longitude``/``lng``; override with ``--id-column`` etc.). An id without an extension matches
``<id>.jpg``/``.jpeg``/``.png``/``.webp``. The images are not copied: the manifest points at them
(paths relative to the manifest's folder). Each image is its own location and group, ``split`` is
``test`` for all (these are test sets), ``country_code``/``country``/``admin1`` come from offline
reverse geocoding. A row whose image is missing, unreadable or corrupt, whose coordinates are not
valid or whose id is listed twice is named and skipped (:mod:`.skips`, ``skipped.csv``).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from model.data.images import ImageLoadError, open_image
from model.data.manifest import COLUMNS, write_manifest
from model.data.revgeo import reverse_geocode

from .groups import location_id
from .lock import hold
from .outdir import prepare_import, write_import_stamp
from .skips import Skips, stderr_line

BENCHMARKS = ("im2gps3k", "yfcc4k")
CANDIDATES = {"id": ("img_id", "image_id", "id", "photo_id", "image", "filename", "file"),
              "lat": ("lat", "latitude"), "lon": ("lon", "longitude", "lng", "long"),
              "author": ("author", "ownernsid", "usernsid", "owner", "user_id")}
EXTS = (".jpg", ".jpeg", ".png", ".webp", ".JPG", ".JPEG", ".PNG")


class BenchmarkImportError(ValueError):
    """A benchmark CSV or folder that cannot be imported, with the reason."""


def read_benchmark_csv(path: str | os.PathLike, *, id_column: str | None = None, lat_column: str | None = None,
                       lon_column: str | None = None) -> tuple[pd.DataFrame, str]:
    """``(table, note)``: columns ``sample_id``, ``lat``, ``lon`` (degrees, NaN if unreadable) and
    ``author`` if present; ``note`` says how latitude/longitude were found when that needed a guess."""
    path = Path(path).expanduser()
    try:
        with warnings.catch_warnings():  # index_col=False: a trailing comma on the data lines (a field more than
            warnings.simplefilter("ignore", pd.errors.ParserWarning)  # the header) no longer shifts every column
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, index_col=False)
    except FileNotFoundError:
        raise BenchmarkImportError(f"--csv {path}: file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise BenchmarkImportError(f"--csv {path}: not a readable CSV ({e})") from None
    lower = {c.strip().lower(): c for c in raw.columns}
    given = {"id": id_column, "lat": lat_column, "lon": lon_column}
    cols: dict[str, str | None] = {}
    for role, cands in CANDIDATES.items():
        if given.get(role):
            if given[role] not in raw.columns:
                raise BenchmarkImportError(f"--csv {path}: no column {given[role]!r}; columns: {list(raw.columns)}")
            cols[role] = given[role]
        else:
            cols[role] = next((lower[c] for c in cands if c in lower), None)
    missing = [r for r in ("id", "lat", "lon") if not cols[r]]
    if missing:
        raise BenchmarkImportError(f"--csv {path}: no {'/'.join(missing)} column found; columns: {list(raw.columns)} "
                                   "(expected IMG_ID, LAT, LON; or pass --id-column/--lat-column/--lon-column)")
    lat = pd.to_numeric(raw[cols["lat"]], errors="coerce")
    lon = pd.to_numeric(raw[cols["lon"]], errors="coerce")
    note = ""
    head = [c.strip().upper() for c in raw.columns[:4]]
    if not (lat_column or lon_column):
        if head == ["IMG_ID", "AUTHOR", "LON", "LAT"]:
            lat, lon = lon, lat
            note = ("this CSV's header says IMG_ID,AUTHOR,LON,LAT (an earlier GeoEstimation file whose values are "
                    "latitude, longitude in that order): read as latitude, longitude")
        elif _swapped(lat, lon):
            lat, lon = lon, lat
            note = (f"column {cols['lat']} holds longitudes (values beyond +-90 in {(lon.abs() > 90).sum():,} rows) "
                    f"and {cols['lon']} none: the two are swapped and were read the other way round")
    out = pd.DataFrame({"sample_id": raw[cols["id"]].astype(str).str.strip(), "lat": lat, "lon": lon})
    if cols["author"]:
        out["author"] = raw[cols["author"]].astype(str)
    return out, note


def _swapped(lat: pd.Series, lon: pd.Series) -> bool:
    """The LAT column holds longitudes and LON latitudes: LAT has values in 90..180 (absolute) in at least a
    tenth of the readable rows and none beyond 180, LON none beyond 90. A few bad values (``inf``, a typo
    such as ``450.1`` or ``132.7``) are skipped as such rather than turning every row around."""
    a, b = lat[np.isfinite(lat)].abs(), lon[np.isfinite(lon)].abs()
    beyond = int((a > 90).sum())
    return beyond > 0 and beyond >= 0.1 * len(a) and not (a > 180).any() and not (b > 90).any()


def _index_images(folder: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """Every file under ``folder`` by relative path and by bare name (one listing of the tree)."""
    by_rel: dict[str, Path] = {}
    by_name: dict[str, Path] = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in files:
            p = Path(root) / f
            by_rel[p.relative_to(folder).as_posix()] = p
            by_name.setdefault(f, p)
    return by_rel, by_name


def _find(sample_id: str, by_rel: dict[str, Path], by_name: dict[str, Path]) -> Path | None:
    for cand in (sample_id, *(sample_id + e for e in EXTS if not Path(sample_id).suffix)):
        hit = by_rel.get(cand) or by_name.get(Path(cand).name)
        if hit is not None:
            return hit
    return None


def import_benchmark(kind: str, csv_path: str | os.PathLike, images: str | os.PathLike, out_dir: str | os.PathLike,
                     *, id_column: str | None = None, lat_column: str | None = None, lon_column: str | None = None,
                     log: Callable[[str], None] | None = stderr_line) -> pd.DataFrame:
    """Write ``out_dir/manifest.csv`` for a benchmark (``kind``: im2gps3k or yfcc4k); see the module doc.
    Returns the manifest with ``attrs["skipped"]`` (a :class:`Skips`) and ``attrs["note"]``."""
    if kind not in BENCHMARKS:
        raise BenchmarkImportError(f"unknown benchmark {kind!r}; one of {BENCHMARKS}")
    csv_path, images, out = Path(csv_path).expanduser(), Path(images).expanduser(), Path(out_dir).expanduser()
    if not images.is_dir():
        raise BenchmarkImportError(f"--images {images}: not a folder")
    table, note = read_benchmark_csv(csv_path, id_column=id_column, lat_column=lat_column, lon_column=lon_column)
    with hold(out):
        fixed = prepare_import(out, kind, {"csv": str(csv_path.resolve()), "images": str(images.resolve())}, adopt=())
        if note and log:
            log(f"note: {note}")
        by_rel, by_name = _index_images(images)
        skips, rows, seen = Skips(log), [], set()
        base = out.resolve()
        for r in table.itertuples(index=False):
            sid = r.sample_id
            if not sid:
                skips.add("(empty id)", "no image id")
                continue
            if sid in seen:
                skips.add(sid, "listed twice in the CSV")
                continue
            seen.add(sid)
            if not (np.isfinite(r.lat) and np.isfinite(r.lon) and abs(r.lat) <= 90 and abs(r.lon) <= 180):
                skips.add(sid, "no valid coordinates", f"lat {r.lat}, lon {r.lon}")
                continue
            path = _find(sid, by_rel, by_name)
            if path is None:
                skips.add(sid, "image missing", f"not in {images}")
                continue
            try:
                open_image(path, name=sid)
            except ImageLoadError as e:
                skips.add(sid, "unreadable image", str(e).split(": ", 1)[-1])
                continue
            rows.append({**r._asdict(), "image": _rel(path.resolve(), base), "location_id": location_id(f"{kind}|{sid}")})
        if not rows:
            raise BenchmarkImportError(f"no usable image in {csv_path} ({skips.summary(len(table)) or 'the CSV is empty'})")
        df = pd.DataFrame(rows)
        labels = reverse_geocode(df["lat"].to_numpy(), df["lon"].to_numpy())
        df["country_code"] = [x["country_code"] for x in labels]
        df["country"] = [x["country"] for x in labels]
        df["admin1"] = [x["admin1"] for x in labels]
        df = df.assign(group_id=df["location_id"], source=kind, view=0, split="test")
        for c in COLUMNS:
            if c not in df.columns:
                df[c] = ""
        write_import_stamp(out, kind, fixed)
        skips.write(out)
        write_manifest(df, out / "manifest.csv")
    df.attrs.update(skipped=skips, note=note, rows=len(table))
    return df


def _rel(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive (Windows)
        return path.as_posix()
