"""Robust image loading: any mode to RGB, EXIF orientation applied, clear errors naming the file.

Bad input never crashes a run with an obscure traceback: corrupt, truncated or unsupported files
and decompression bombs raise :class:`ImageLoadError` whose message names the file and the cause.
"""
from __future__ import annotations

import importlib
import io
import os
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 60_000_000  # refuse larger images (decompression-bomb guard), ~ 8000x7500
MAX_BYTES = 50 * 1024 * 1024
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class ImageLoadError(ValueError):
    """An image that cannot be used; the message names the file and says why."""


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode (RGBA, LA, P, L, 1, CMYK, I;16, I, F) to 8-bit RGB.

    Transparency is composited on white; 16-bit and float images are rescaled to 0..255.
    """
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        if img.mode.startswith("I;16") and hi <= 65535:
            lo, hi = 0.0, 65535.0 if hi > 255 else 255.0
        a = (a - lo) / max(hi - lo, 1e-9) * 255.0
        return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    return img.convert("RGB")


def reduce_factor(width: int, height: int, min_side: int | None) -> int:
    """The largest of 1, 2, 4, 8 that keeps the short side of a ``width`` x ``height`` image at least
    ``min_side`` px once divided by it (1 when ``min_side`` is None or the image is not that large)."""
    if not min_side:
        return 1
    short = min(width, height)
    return next((k for k in (8, 4, 2) if short // k >= min_side), 1)


@lru_cache(maxsize=1)
def heif_available() -> bool:
    """Registers a HEIF/HEIC opener with Pillow once (``pi_heif``, a dependency: libheif's decoder, LGPL-3.0
    wheels; else ``pillow_heif`` where that is installed instead); False when neither is installed. Called by
    :func:`open_image`, so every reader of photos takes iPhone HEIC files."""
    for name in ("pi_heif", "pillow_heif"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        mod.register_heif_opener()
        return True
    return False


ORIGINAL_SIZE = "original_size"  # Image.info key: (width, height) px of the file before a reduced decode


def open_image(src: str | os.PathLike | bytes | io.IOBase, name: str | None = None, *,
               min_side: int | None = None) -> Image.Image:
    """Load an image file, bytes or file object as an RGB PIL image (EXIF orientation applied).

    ``min_side``: decode a large image reduced by 2, 4 or 8 (:func:`reduce_factor`) so that its short side
    stays at least ``min_side`` px: a JPEG is decoded at that scale (Pillow's draft mode: the full-size
    pixels never exist), another format is decoded then reduced (box filter). ``img.info["original_size"]``
    then holds the file's own (width, height). None (the default) decodes at full size, as training does.

    Raises :class:`ImageLoadError` for unreadable, truncated, unsupported or oversized input.
    A ``"<dir>/<shard>.tar#<key>"`` path (a shard table's ``path``) is read from its shard
    (:func:`model.shards.open_sample`).
    """
    if isinstance(src, (str, os.PathLike)) and ".tar#" in str(src):
        return open_image(_sample_bytes(src), name=name or _sample_label(src), min_side=min_side)
    label = name or (str(src) if isinstance(src, (str, os.PathLike)) else "uploaded image")
    heif_available()
    try:
        if isinstance(src, (str, os.PathLike)):
            p = Path(src)
            if p.is_dir():
                raise ImageLoadError(f"{label}: is a folder, not an image file")
            if not p.is_file():
                raise ImageLoadError(f"{label}: file not found")
            if p.stat().st_size == 0:
                raise ImageLoadError(f"{label}: empty file")
            if p.stat().st_size > MAX_BYTES:
                raise ImageLoadError(f"{label}: file is {p.stat().st_size / 2**20:.0f} MB; the limit is "
                                     f"{MAX_BYTES // 2**20} MB")
            fh: io.IOBase = open(p, "rb")
        elif isinstance(src, (bytes, bytearray)):
            if len(src) == 0:
                raise ImageLoadError(f"{label}: empty file")
            if len(src) > MAX_BYTES:
                raise ImageLoadError(f"{label}: {len(src) / 2**20:.0f} MB; the limit is {MAX_BYTES // 2**20} MB")
            fh = io.BytesIO(src)
        else:
            fh = src
        with fh, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(fh)
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageLoadError(f"{label}: {w}x{h} pixels is too large (limit {MAX_PIXELS / 1e6:.0f} MP)")
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
            k = reduce_factor(w, h, min_side)
            if k > 1 and img.format == "JPEG":
                img.draft(img.mode if img.mode in ("RGB", "L") else None, ((w + k - 1) // k, (h + k - 1) // k))
            img.load()
            img = ImageOps.exif_transpose(img) or img
            out = to_rgb(img)
            if k > 1 and min(out.size) // k >= min_side:  # not reduced while decoding (not a JPEG): reduce now
                out = out.reduce(k)
            if k > 1:
                out.info[ORIGINAL_SIZE] = (w, h)
            return out
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageLoadError(f"{label}: image is too large (limit {MAX_PIXELS / 1e6:.0f} MP; "
                             "decompression-bomb guard)") from e
    except UnidentifiedImageError as e:
        raise ImageLoadError(f"{label}: not a recognised image format (use JPEG, PNG or WebP)") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageLoadError(f"{label}: corrupt or truncated image ({e})") from e


def exif_gps(src: str | os.PathLike | bytes) -> tuple[float, float] | None:
    """GPS coordinates (lat, lon in degrees) stored in an image's EXIF data, or None."""
    heif_available()
    try:
        img = Image.open(io.BytesIO(src) if isinstance(src, (bytes, bytearray)) else src)
        gps = img.getexif().get_ifd(0x8825)
    except Exception:  # noqa: BLE001 - EXIF is optional metadata; unreadable means absent
        return None
    if not gps or 2 not in gps or 4 not in gps:
        return None

    def dms(v) -> float:
        d, m, s = (float(x) for x in v)
        return d + m / 60.0 + s / 3600.0

    try:
        lat, lon = dms(gps[2]), dms(gps[4])
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if str(gps.get(1, "N")).upper().startswith("S"):
        lat = -lat
    if str(gps.get(3, "E")).upper().startswith("W"):
        lon = -lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return lat, lon


def exif_date(src: str | os.PathLike | bytes) -> str | None:
    """When a photo was taken, from EXIF: DateTimeOriginal (else DateTimeDigitized) as ISO 8601
    ``YYYY-MM-DDTHH:MM:SS``, with OffsetTimeOriginal (``+02:00``) appended when recorded; None if absent
    or malformed (camera local time: EXIF has no time zone unless the offset tag is there)."""
    import re

    heif_available()
    try:
        img = Image.open(io.BytesIO(src) if isinstance(src, (bytes, bytearray)) else src)
        ifd = img.getexif().get_ifd(0x8769)
    except Exception:  # noqa: BLE001 - EXIF is optional metadata; unreadable means absent
        return None
    for tag, offset_tag in ((0x9003, 0x9011), (0x9004, 0x9012)):
        m = re.fullmatch(r"(\d{4}):(\d\d):(\d\d)[ T](\d\d):(\d\d):(\d\d)", str(ifd.get(tag, "")).strip("\0 "))
        if m and 1 <= int(m[2]) <= 12 and 1 <= int(m[3]) <= 31 and int(m[4]) < 24:
            off = str(ifd.get(offset_tag, "")).strip("\0 ")
            return f"{m[1]}-{m[2]}-{m[3]}T{m[4]}:{m[5]}:{m[6]}" + (off if re.fullmatch(r"[+-]\d\d:\d\d", off) else "")
    return None


def _sample_bytes(path: str | os.PathLike) -> bytes:
    """The stored bytes of a shard sample ``"<dir>/<shard>.tar#<key>"`` (lazy import: only shard paths need
    pyarrow, and ``model.shards`` imports this module)."""
    from model.shards.sample import SampleError, read_sample_bytes

    try:
        return read_sample_bytes(path)
    except SampleError as e:
        raise ImageLoadError(str(e)) from e


def _sample_label(path: str | os.PathLike) -> str:
    from model.shards.format import parse_sample_path

    try:
        folder, shard, key = parse_sample_path(path)
    except ValueError:
        return str(path)
    return f"{folder}/{shard}#{key}"
