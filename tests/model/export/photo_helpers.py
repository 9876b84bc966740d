"""Photos for the photo-import and batch-export tests, made at run time in ``tmp_path`` (never stored):
held-out views of the shared set re-encoded with EXIF GPS, a date, an orientation, XMP or a comment."""
from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from tests.shared import SHARED
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="45,48.6N"/></rdf:RDF></x:xmpmeta>')


def heldout_views(n: int = 12) -> pd.DataFrame:
    """``n`` views (first view of ``n`` different places, spread over countries) of the shared set's test
    split with coordinates: columns path, lat, lon, country_code. Skips the test when ../shared is absent."""
    man = SHARED / "manifest.csv"
    if not man.is_file():
        pytest.skip("../shared/geodata is not beside the checkout")
    df = pd.read_csv(man, dtype={"country_code": str}, keep_default_na=False, na_values={"lat": [""], "lon": [""]})
    df = df[(df["split"] == "test") & df["lat"].notna() & (df["view"] == 0)].drop_duplicates("group_id")
    df = df.groupby("country_code", sort=True).head(2).head(n)
    assert len(df) == n, "too few held-out places in the shared set"
    return pd.DataFrame({"path": [str(SHARED / p) for p in df["image"]], "lat": df["lat"].to_numpy(),
                         "lon": df["lon"].to_numpy(), "country_code": df["country_code"].to_numpy()})


def _dms(v: float) -> tuple[int, int, float]:
    v = abs(v)
    d = int(v)
    m = int((v - d) * 60)
    return d, m, round(((v - d) * 60 - m) * 60, 4)


def photo(src: str | Path | Image.Image, lat: float | None = None, lon: float | None = None, *, date: str | None = None,
          orientation: int | None = None, fmt: str = "JPEG", xmp: bool = False, comment: bytes | None = None,
          gps_ifd: dict | None = None) -> bytes:
    """Image bytes of ``src`` in ``fmt`` with EXIF GPS (degrees), DateTimeOriginal ``"YYYY:MM:DD HH:MM:SS"``,
    an Orientation tag, XMP and a JPEG comment as asked; ``gps_ifd`` sets the GPS tags verbatim."""
    img = src if isinstance(src, Image.Image) else Image.open(src).convert("RGB")
    exif = Image.Exif()
    if lat is not None:
        gps = exif.get_ifd(0x8825)
        gps[1], gps[2] = ("N" if lat >= 0 else "S"), _dms(lat)
        gps[3], gps[4] = ("E" if lon >= 0 else "W"), _dms(lon)
    if gps_ifd is not None:
        exif.get_ifd(0x8825).update(gps_ifd)
    if date:
        exif.get_ifd(0x8769)[0x9003] = date
    if orientation:
        exif[0x0112] = orientation
    kw: dict = {"exif": exif.tobytes()} if (lat is not None or gps_ifd or date or orientation) else {}
    if xmp:
        kw["xmp"] = XMP
    if comment and fmt == "JPEG":
        kw["comment"] = comment
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def gps_folder(folder: Path, n: int = 12) -> pd.DataFrame:
    """``folder/<k>_<cc>.jpg``: ``n`` held-out views with GPS, a date and XMP; returns name, lat, lon,
    country_code (and the source path) per photo."""
    views = heldout_views(n)
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for k, r in enumerate(views.itertuples()):
        name = f"{k:02d}_{r.country_code}.jpg"
        (folder / name).write_bytes(photo(r.path, r.lat, r.lon, date=f"2024:05:{k + 1:02d} 12:34:56", xmp=True,
                                          comment=b"taken at home"))
        names.append(name)
    return views.assign(name=names)
