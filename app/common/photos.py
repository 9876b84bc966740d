"""Photos the pages load (no Streamlit): uploaded files and image files on disk, decoded with
:func:`model.data.images.open_image` (clear messages for corrupt, unsupported and huge files) and
checked for EXIF GPS; and the smaller copies the pages display.

Decoded only as large as the pages need (:data:`DECODE_MIN_SIDE`): a 6000x6000 photo is decoded at
1500x1500 (JPEG draft mode, 6.75 MB of pixels instead of 108 MB); the model sees a 260-px square and the
page shows at most 900 px, and a 2:1 panorama of that short side still gives its perspective views their
full 640 px. At most :data:`MAX_FILES` photos make one place.

Predict loads uploads and test-set files; Explore's detail panel loads a location's files.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from PIL import Image

from model.data.images import ORIGINAL_SIZE, ImageLoadError, exif_gps, heif_available, open_image

# What the uploader takes: Pillow decodes them all; multi-frame files (animated GIF/WebP, TIFF pages) give
# their first frame, with a note. The uploader accepts any file so that a refusal is a message on the page.
PHOTO_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WebP", "AVIF": "AVIF", "GIF": "GIF",
                 "BMP": "BMP", "TIFF": "TIFF", "HEIF": "HEIC"}
FORMATS_TEXT = "JPEG, PNG, WebP, HEIC, AVIF, GIF (first frame), BMP or TIFF"
SUPPORTED_EXT = ("jpg", "jpeg", "jfif", "png", "webp", "heic", "heif", "avif", "gif", "bmp", "tif", "tiff")
DECODE_MIN_SIDE = 1024  # px: a larger photo is decoded reduced by 2, 4 or 8 down to no less than this short side
MAX_FILES = 12  # photos per place (each a view, or split into views); more are refused with a message


@dataclass
class LoadedViews:
    """Views of one place that loaded, the messages for those that did not, notes on how some were
    read (first frame of a GIF...) and EXIF GPS if any."""

    images: list[Image.Image] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    blobs: list[bytes] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    gps: tuple[float, float] | None = None
    gps_from: str = ""
    notes: list[str] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)  # per image: the file's own (width, height) px

    @property
    def nbytes(self) -> int:
        """Bytes held: the decoded pixels and the files' bytes."""
        return sum(im.width * im.height * len(im.getbands()) for im in self.images) + sum(len(b) for b in self.blobs)


HEIF_EXPORT = ("export it as JPEG (Photos: File > Export, or iPhone Settings > Camera > Formats > Most Compatible) "
               "and upload that")


def _is_heif(name: str, data: bytes) -> bool:
    """Named .heic/.heif or with a HEIF brand in its first bytes."""
    brand = data[8:12] if data[4:8] == b"ftyp" else b""
    return brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1") or \
        Path(name).suffix.lower() in (".heic", ".heif")


def not_a_photo(name: str, data: bytes) -> str | None:
    """Why a file that Pillow cannot read is not usable, said for people (HEIC, video, PDF, SVG,
    text); None when the bytes do not look like one of those (then the decoder has its say)."""
    head = bytes(data[:64])
    ext = Path(name).suffix.lower().lstrip(".")
    brand = head[8:12] if head[4:8] == b"ftyp" else b""
    if _is_heif(name, head):
        if heif_available():
            return None  # the decoder reads it (or says it cannot, below in load_uploads)
        return ("HEIC/HEIF photos (the iPhone's default) cannot be read here without a HEIF decoder "
                f"(pip install pi-heif): {HEIF_EXPORT}")
    if brand in (b"avif", b"avis"):
        return None  # AVIF: the decoder reads it
    if brand or ext in ("mp4", "mov", "m4v", "avi", "mkv", "webm"):
        return "this is a video, not a photo: take a still frame (screenshot) of the place and upload that"
    if head.startswith(b"%PDF") or ext == "pdf":
        return "this is a PDF document, not a photo"
    low = head.lower()
    if b"<svg" in low or ext == "svg" or (low.lstrip().startswith(b"<?xml") and ext not in SUPPORTED_EXT):
        return "this is a vector drawing (SVG), not a photo"
    return None


def frame_note(name: str, img_format: str | None, n_frames: int) -> str | None:
    """A note for a multi-frame file (animated GIF/WebP, multi-page TIFF) whose first frame is used."""
    if n_frames > 1:
        kind = "pages" if img_format == "TIFF" else "frames"
        return f"{name}: {img_format or 'this file'} with {n_frames} {kind}; the first one is used."
    if img_format == "GIF":
        return f"{name}: a GIF has at most 256 colours, so the model sees slightly altered colours."
    return None


def _probe(data: bytes) -> tuple[str | None, int]:
    """(Pillow format name, number of frames) of image bytes, or (None, 0) if unreadable."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.format, int(getattr(im, "n_frames", 1))
    except Exception:  # noqa: BLE001 - the decoder reports the real problem afterwards
        return None, 0


def load_uploads(files: Sequence[tuple[str, bytes]], min_side: int | None = DECODE_MIN_SIDE,
                 max_files: int = MAX_FILES) -> LoadedViews:
    """Decode uploaded files ``(name, bytes)``; bad ones become messages in ``errors``, never exceptions.

    Any extension is tried (the content decides); HEIC, videos, PDFs and SVGs get a message that
    says what to do. The first file with EXIF GPS coordinates sets ``gps`` (lat, lon degrees) and
    ``gps_from``. Large photos are decoded reduced to a short side of at least ``min_side`` px (None:
    full size); ``sizes`` keeps each file's own size. Files after the first ``max_files`` are refused.
    """
    out = LoadedViews()
    if len(files) > max_files:
        extra = [n for n, _ in files[max_files:]]
        out.errors.append(f"At most {max_files} photos make one place: {', '.join(extra[:5])}"
                          f"{' ...' if len(extra) > 5 else ''} not used ({len(extra)} more).")
        files = files[:max_files]
    for name, data in files:
        why = not_a_photo(name, data) if data else None
        if why:
            out.errors.append(f"{name}: {why}.")
            continue
        try:
            img = open_image(data, name, min_side=min_side)
        except ImageLoadError as e:
            msg = str(e).replace("(use JPEG, PNG or WebP)", f"(use {FORMATS_TEXT})")
            ext = Path(name).suffix.lower().lstrip(".")
            if _is_heif(name, data[:64]):
                msg = (f"{name}: this HEIC/HEIF file cannot be decoded (damaged, or a variant the decoder lacks): "
                       f"{HEIF_EXPORT}")
            elif "not a recognised image format" in msg and ext in SUPPORTED_EXT:
                msg = (f"{name}: named .{ext} but cannot be read as an image (corrupt, or another kind of file "
                       "renamed)")
            out.errors.append(msg)
            continue
        fmt, frames = _probe(data)
        if fmt is not None and fmt not in PHOTO_FORMATS:
            out.notes.append(f"{name}: read as {fmt}; the model was trained on JPEG photos.")
        note = frame_note(name, PHOTO_FORMATS.get(fmt or "", fmt), frames)
        if note:
            out.notes.append(note)
        out.images.append(img)
        out.names.append(name)
        out.blobs.append(data)
        out.sizes.append(tuple(img.info.get(ORIGINAL_SIZE, img.size)))
        if out.gps is None:
            g = exif_gps(data)
            if g is not None:
                out.gps, out.gps_from = g, name
    return out


def load_paths(paths: Sequence[str]) -> LoadedViews:
    """Load image files from disk (test set) as :class:`LoadedViews` (errors collected)."""
    files = []
    out = LoadedViews()
    for p in paths:
        try:
            files.append((Path(p).name, Path(p).read_bytes()))
        except OSError as e:
            out.errors.append(f"{Path(p).name}: cannot read ({e.strerror or e})")
    res = load_uploads(files)
    res.errors = out.errors + res.errors
    return res


def thumbnail(img: Any, max_side: int = 900) -> Any:
    """A copy of a PIL image no larger than ``max_side`` pixels (for display)."""
    t = img.copy()
    t.thumbnail((max_side, max_side))
    return t
