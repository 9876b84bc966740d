"""Which files are photos, what format their bytes are, and HEIC/HEIF support (``pi-heif``).

Shared by the photo importer (``python -m model.collect photos``) and the batch predictor
(``python -m model.predict --batch``): both take the same files from a folder or a zip.

HEIC/HEIF (iPhone photos) are read through ``pi-heif`` (a dependency: libheif's decoder only, wheels
under the LGPL v3, dynamically linked), or ``pillow-heif`` where that is installed instead (its wheels
bundle the x265 encoder and are GPL-licensed, so the project does not depend on it). Where neither is
installed a HEIC file is named and skipped with the command that installs one (:data:`HEIF_HINT`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from .images import exif_date, exif_gps, heif_available  # noqa: F401 - heif_available re-exported

# Extensions taken as photos (any case). Files with other extensions (videos, sidecars) are not photos.
PHOTO_EXTS = (".jpg", ".jpeg", ".jpe", ".png", ".webp", ".heic", ".heif", ".hif")
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avci")
HEIF_HINT = "HEIC needs a HEIF decoder: pip install pi-heif (a dependency of this project: reinstall with make install)"
FORMATS = ("JPEG", "PNG", "WebP", "HEIF")


def is_photo_name(name: str) -> bool:
    """``name`` (a path) has a photo extension and is not a hidden or macOS resource-fork file."""
    p = PurePosixPath(name.replace("\\", "/"))
    if any(part.startswith(".") or part == "__MACOSX" for part in p.parts):
        return False
    return p.suffix.lower() in PHOTO_EXTS


def image_kind(data: bytes) -> str:
    """The format of image bytes by their signature: one of :data:`FORMATS`, else a short description
    (``"GIF"``, ``"text/HTML"``, ``"starts with b'...'"``)."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in HEIF_BRANDS:
            return "HEIF"
        if brand in (b"avif", b"avis"):
            return "AVIF"
        return f"ISO media ({brand.decode('latin-1')!r})"
    for sig, kind in ((b"GIF8", "GIF"), (b"BM", "BMP"), (b"II*\0", "TIFF"), (b"MM\0*", "TIFF"), (b"<", "text/HTML")):
        if data.startswith(sig):
            return kind
    return "empty file" if not data else f"starts with {data[:4]!r}"


@dataclass(frozen=True)
class PhotoExif:
    """What a photo's EXIF says: position (degrees, None when unusable), when it was taken (ISO 8601 or
    None) and ``gps``: ``"exif"`` (position read), ``"none"`` (no GPS recorded) or ``"unusable: <why>"``
    (GPS tags or EXIF present but broken, out of range or 0,0)."""

    lat: float | None
    lon: float | None
    date: str | None
    gps: str

    @property
    def has_position(self) -> bool:
        return self.lat is not None


def read_photo_exif(data: bytes) -> PhotoExif:
    """Position, date and GPS status of image bytes (any format Pillow opens; never raises)."""
    date = exif_date(data)
    pos = exif_gps(data)
    if pos is not None:
        return PhotoExif(pos[0], pos[1], date, "exif")
    return PhotoExif(None, None, date, _why_no_gps(data))


def _why_no_gps(data: bytes) -> str:
    import io
    import math
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            img = Image.open(io.BytesIO(data))
            raw = img.info.get("exif")
            exif = img.getexif()
            gps = exif.get_ifd(0x8825)
    except Exception as e:  # noqa: BLE001 - a broken EXIF block must never stop an import
        return f"unusable: EXIF unreadable ({type(e).__name__})"
    corrupt = any("corrupt exif" in str(w.message).lower() for w in caught)
    if raw and not corrupt:  # a TIFF header must follow (JPEG's APP1 starts with "Exif\0\0")
        corrupt = raw.removeprefix(b"Exif\0\0")[:4] not in (b"II*\0", b"MM\0*")
    if not gps:
        return "unusable: EXIF unreadable (corrupt)" if corrupt else "none"
    if 2 not in gps or 4 not in gps:
        return "unusable: GPS tags without latitude or longitude"
    try:
        lat, lon = (sum(float(x) / 60 ** k for k, x in enumerate(gps[t])) for t in (2, 4))
    except (TypeError, ValueError, ZeroDivisionError):
        return "unusable: GPS latitude/longitude are not numbers"
    if not (math.isfinite(lat) and math.isfinite(lon)) or lat > 90 or lon > 180:
        return f"unusable: GPS out of range (latitude {lat:g}, longitude {lon:g})"
    if lat == 0 and lon == 0:
        return "unusable: GPS 0, 0 (recorded without a fix)"
    return "unusable: GPS unreadable"
