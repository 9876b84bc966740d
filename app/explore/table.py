"""The Explore page's table of test locations and its thumbnails (no Streamlit).

Thumbnails are made at run time from the configured data (never stored in the repository) and
kept in a disk cache under ``<cache>/thumbs`` (``app.explore.data.cache_root``), keyed by the
image's file stamp (path, size and mtime: ``app.common.stamps``) and the thumbnail size.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import os
from pathlib import Path
from typing import Sequence

import pandas as pd
from PIL import Image

from app.common.stamps import file_stamp
from app.explore.data import cache_root
from app.explore.stats import BUCKET_LABELS, source_label
from model.data.revgeo import country_name

log = logging.getLogger(__name__)
THUMB_PX = 112


def thumbnail_file(src: str | os.PathLike, size: int = THUMB_PX) -> Path | None:
    """A JPEG thumbnail (longer side ``size`` px) of image ``src`` in the disk cache, made on first
    use; None if the image cannot be read."""
    try:
        key = hashlib.sha1(f"{file_stamp(src)}|{size}".encode()).hexdigest()
    except OSError:
        return None
    out = cache_root() / "thumbs" / key[:2] / f"{key}.jpg"
    if out.is_file():
        return out
    try:
        with Image.open(src) as im:
            im = im.convert("RGB")
            im.thumbnail((size, size))
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(f".{os.getpid()}.tmp")
            im.save(tmp, "JPEG", quality=80)
            os.replace(tmp, out)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        log.warning("no thumbnail for %s: %s", src, e)
        return None
    return out


def thumbnail_uri(src: str | os.PathLike, size: int = THUMB_PX) -> str | None:
    """``data:image/jpeg;base64,...`` of the cached thumbnail (for ``st.column_config.ImageColumn``)."""
    f = thumbnail_file(src, size)
    if f is None:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(f.read_bytes()).decode()


def display_table(locs: pd.DataFrame, thumbs: Sequence[str | None] | None = None) -> pd.DataFrame:
    """The table shown to the user, one row per location, in the order of ``locs`` (so a selected row
    position maps back to ``locs.iloc``): Photo, Truth, Guess, Distance (km), Score, Confidence
    (top country, whole percent 0..100), Error, Source (readable), Views, Location."""
    def place(code: str, admin1: str = "") -> str:
        name = country_name(code) if code else "?"
        return f"{name} ({admin1})" if admin1 else name

    lab = [BUCKET_LABELS[b] if 0 <= b < len(BUCKET_LABELS) else "unknown" for b in locs["bucket"].astype(int)]
    out = pd.DataFrame({
        "Photo": list(thumbs) if thumbs is not None else [None] * len(locs),
        "Truth": [place(c, a) for c, a in zip(locs["true_country"], locs["true_admin1"])],
        "Guess": [place(c) for c in locs["pred_country"]],
        "Right": locs["correct"].astype(bool).to_numpy(),
        "Distance (km)": locs["distance_km"].astype(float).round(0).to_numpy(),
        "Score": locs["score"].astype(float).round(0).to_numpy(),
        "Confidence": (100 * locs["confidence"].astype(float)).round(0).to_numpy(),
        "Error": lab, "Source": [source_label(x) for x in locs["source"]],
        "Views": locs["n_views"].astype(int).to_numpy(),
        "Location": locs["location_id"].to_numpy(),
    })
    return out


def new_table_pick(rows: Sequence[int], ids: Sequence[str], last: Sequence[int] | None) -> str | None:
    """The location a user just ticked in the table: ``ids[rows[0]]`` when the selected row positions
    differ from those seen on the previous run (``last``), else None (so a selection made elsewhere,
    e.g. on the map, is not overridden by a row that stays ticked)."""
    rows = list(rows or [])
    if not rows or rows == list(last or []) or not 0 <= rows[0] < len(ids):
        return None
    return str(ids[rows[0]])


def image_rows(locs: pd.DataFrame, max_rows: int = 24) -> list[dict]:
    """Up to ``max_rows`` locations as dicts (location_id, first path, caption) for image grids,
    worst errors first."""
    s = locs.sort_values("distance_km", ascending=False, na_position="last").head(max_rows)
    out = []
    for _, r in s.iterrows():
        d = r["distance_km"]
        cap = f"{country_name(r['true_country']) or '?'} → {country_name(r['pred_country']) or '?'}"
        if not pd.isna(d):
            cap += f", {float(d):,.0f} km"
        out.append({"location_id": r["location_id"], "path": r["paths"][0] if r["paths"] else None, "caption": cap})
    return out
