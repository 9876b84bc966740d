"""ImageFolder importer: ``DIR/<label>/<image>`` -> manifest with the country filled, lat/lon empty.

``<label>`` is a country: an ISO 3166-1 alpha-2 or alpha-3 code or an English name (``HR``, ``HRV``,
``Croatia``, ``united_states``), as in the public GeoGuessr country datasets. Images may sit in
sub-folders of a label folder. The manifest's image paths are relative to the manifest's folder
(absolute if it is on another drive); the images are not copied.

Written as a folder's ``manifest.csv`` (``--out DIR`` or ``--out DIR/manifest.csv``), the folder is
locked while it is written (:mod:`.lock`), stamped ``import.json`` and refused if it holds another data
set (:mod:`.outdir`); a manifest under another name is only locked.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from model.data.manifest import COLUMNS, write_manifest
from model.data.revgeo import country_name

from .groups import grouped_split, location_id
from .lock import hold
from .outdir import prepare_import, write_import_stamp
from .regions import RegionError, to_country_code

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


class FolderImportError(ValueError):
    """A folder that cannot be imported, with the reason."""


def scan_imagefolder(root: str | Path, *, unknown: str = "error") -> pd.DataFrame:
    """Rows ``(path, label, country_code)`` for every image under ``root/<label>/``.

    ``unknown``: what to do with labels that are not countries: ``"error"`` (raise, listing them)
    or ``"skip"`` (leave them out).
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FolderImportError(f"not a folder: {root}")
    rows, bad = [], {}
    for label_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in label_dir.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(root).parts))
        if not files:
            continue
        try:
            code = to_country_code(label_dir.name)
        except RegionError:
            bad[label_dir.name] = len(files)
            continue
        rows += [{"path": f, "label": label_dir.name, "country_code": code} for f in files]
    if bad and unknown == "error":
        raise FolderImportError(f"{len(bad)} folder name(s) are not countries: "
                           + ", ".join(sorted(bad)[:20]) + ("..." if len(bad) > 20 else "")
                           + " (name folders by ISO code or English country name, or pass --skip-unknown)")
    if not rows:
        raise FolderImportError(f"no images found under {root}/<country>/ (extensions: {sorted(IMAGE_EXTS)})")
    return pd.DataFrame(rows)


def import_imagefolder(root: str | Path, out_manifest: str | Path, *, source: str | None = None,
                       split: tuple[float, float, float] | None = None, seed: int = 0,
                       unknown: str = "error") -> pd.DataFrame:
    """Write a manifest for an ImageFolder tree and return it (see module doc).

    ``location_id`` is derived from the image's path below ``root`` (each image its own location
    and group); ``split``: optional grouped, country-stratified fractions, e.g. (0.8, 0.1, 0.1), a
    fixed setting of the folder (None: as recorded, if any).
    """
    root = Path(root).expanduser().resolve()
    out_manifest = Path(out_manifest).expanduser()
    if out_manifest.suffix.lower() != ".csv":
        out_manifest = out_manifest / "manifest.csv"
    found = scan_imagefolder(root, unknown=unknown)
    with hold(out_manifest.parent):
        stamped = out_manifest.name == "manifest.csv"
        fixed = {"dir": str(root), "split": list(split) if split else None}
        if stamped:
            fixed = prepare_import(out_manifest.parent, "imagefolder", fixed)
            split = tuple(fixed["split"]) if fixed["split"] else None
        df = _manifest(found, root, out_manifest.parent.resolve(), source, split, seed)
        if stamped:
            write_import_stamp(out_manifest.parent, "imagefolder", fixed)
        write_manifest(df, out_manifest)
    return df


def _manifest(found: pd.DataFrame, root: Path, base: Path, source: str | None, split, seed: int) -> pd.DataFrame:
    df = pd.DataFrame({
        "image": [_rel(p, base) for p in found["path"]],
        "location_id": [location_id(p.relative_to(root).as_posix()) for p in found["path"]],
        "source": source or root.name,
        "view": 0,
        "country_code": found["country_code"],
        "country": [country_name(c) for c in found["country_code"]],
        "label": found["label"],
    })
    df["group_id"] = df["location_id"]
    df["split"] = grouped_split(df, split, seed=seed) if split else ""
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = ""
    return df


def _rel(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive (Windows)
        return path.as_posix()
