"""Zips of photos for the batch tests, made at run time from held-out shared views (never stored)."""
from __future__ import annotations

import io
import zipfile

import pandas as pd

from tests.model.export.photo_helpers import heldout_views, photo


def gps_zip(n: int = 12, *, extra: dict[str, bytes] | None = None) -> tuple[bytes, pd.DataFrame]:
    """A zip of ``n`` held-out views with EXIF GPS as ``trip/<k>_<cc>.jpg`` (plus ``extra`` members);
    returns its bytes and the views (name, lat, lon, country_code, path)."""
    views = heldout_views(n)
    names = [f"trip/{k:02d}_{r.country_code}.jpg" for k, r in enumerate(views.itertuples())]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, r in zip(names, views.itertuples()):
            z.writestr(name, photo(r.path, r.lat, r.lon, date="2024:05:01 12:00:00", xmp=True, comment=b"home"))
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue(), views.assign(name=names)


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()
