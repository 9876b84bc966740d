"""What goes into a shard for one image: the original JPEG bytes, or a JPEG re-encoding when needed.

Every image is decoded once with :func:`model.data.images.open_image` (so a shard never holds an image the
readers cannot open). JPEG bytes are stored unchanged unless ``max_side`` shrinks the image; other
formats (PNG, WebP, ...) are re-encoded as RGB JPEG (EXIF orientation and transparency already applied
by ``open_image``, so the decoded pixels match up to JPEG's loss).
"""
from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image

from model.data.images import MAX_BYTES, ImageLoadError, open_image

JPEG_MAGIC = b"\xff\xd8\xff"
DEFAULT_QUALITY = 95


def target_size(w: int, h: int, max_side: int | None) -> tuple[int, int]:
    """(w, h) scaled so that the longer side is at most ``max_side`` pixels (never enlarged)."""
    if not max_side or max(w, h) <= max_side:
        return w, h
    s = max_side / max(w, h)
    return max(1, round(w * s)), max(1, round(h * s))


def prepare_image(data: bytes, name: str, max_side: int | None = None,
                  quality: int = DEFAULT_QUALITY) -> tuple[bytes, bool]:
    """Bytes to store for an image: ``(jpeg_bytes, re_encoded)``.

    ``data`` is the image file's content, ``name`` names it in errors. Raises
    :class:`model.data.images.ImageLoadError` when it does not decode.
    """
    img = open_image(data, name=name)
    size = target_size(*img.size, max_side)
    if data[:3] == JPEG_MAGIC and size == img.size:
        return bytes(data), False
    if size != img.size:
        img = img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue(), True


def read_file(path: str | os.PathLike, name: str | None = None) -> bytes:
    """An image file's bytes; ImageLoadError (naming it) when missing, empty or over the size limit."""
    p, label = Path(path), name or str(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise ImageLoadError(f"{label}: file not found") from None
    except OSError as e:
        raise ImageLoadError(f"{label}: unreadable ({e})") from e
    if p.is_dir():
        raise ImageLoadError(f"{label}: is a folder, not an image file")
    if size > MAX_BYTES:
        raise ImageLoadError(f"{label}: file is {size / 2**20:.0f} MB; the limit is {MAX_BYTES // 2**20} MB")
    try:
        return p.read_bytes()
    except OSError as e:
        raise ImageLoadError(f"{label}: unreadable ({e})") from e


def load_prepared(job: tuple[str, int | None, int]) -> tuple[bytes | None, str | None]:
    """Pool worker: ``(path, max_side, quality) -> (jpeg_bytes, None)`` or ``(None, error message)``."""
    path, max_side, quality = job
    try:
        return prepare_image(read_file(path), path, max_side, quality)[0], None
    except ImageLoadError as e:
        return None, str(e)
