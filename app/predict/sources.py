"""Where the Predict page's photos come from (no Streamlit): uploads, the test set, Street View.

Uploads are decoded with :func:`model.data.images.open_image` (clear messages for corrupt, unsupported
and huge files) and checked for EXIF GPS. Street View images are pulled with the user's own key
through :class:`model.collect.streetview.StreetViewClient`; the key is never logged, stored or shown, and
errors are turned into messages that say what to do.
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd
from PIL import Image

from model.data.images import ImageLoadError, exif_gps, open_image

log = logging.getLogger(__name__)
# What the uploader takes: Pillow decodes them all; multi-frame files (animated GIF/WebP, TIFF pages) give
# their first frame, with a note. The uploader accepts any file so that a refusal is a message on the page.
PHOTO_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WebP", "AVIF": "AVIF", "GIF": "GIF",
                 "BMP": "BMP", "TIFF": "TIFF"}
FORMATS_TEXT = "JPEG, PNG, WebP, AVIF, GIF (first frame), BMP or TIFF"
SUPPORTED_EXT = ("jpg", "jpeg", "jfif", "png", "webp", "avif", "gif", "bmp", "tif", "tiff")


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


def not_a_photo(name: str, data: bytes) -> str | None:
    """Why a file that Pillow cannot read is not usable, said for people (HEIC, video, PDF, SVG,
    text); None when the bytes do not look like one of those (then the decoder has its say)."""
    head = bytes(data[:64])
    ext = Path(name).suffix.lower().lstrip(".")
    brand = head[8:12] if head[4:8] == b"ftyp" else b""
    if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1") or ext in ("heic", "heif"):
        return ("HEIC/HEIF photos (the iPhone's default) cannot be read here: export it as JPEG (Photos: "
                "File > Export, or iPhone Settings > Camera > Formats > Most Compatible) and upload that")
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


def load_uploads(files: Sequence[tuple[str, bytes]]) -> LoadedViews:
    """Decode uploaded files ``(name, bytes)``; bad ones become messages in ``errors``, never exceptions.

    Any extension is tried (the content decides); HEIC, videos, PDFs and SVGs get a message that
    says what to do. The first file with EXIF GPS coordinates sets ``gps`` (lat, lon degrees) and
    ``gps_from``.
    """
    out = LoadedViews()
    for name, data in files:
        why = not_a_photo(name, data) if data else None
        if why:
            out.errors.append(f"{name}: {why}.")
            continue
        try:
            img = open_image(data, name)
        except ImageLoadError as e:
            msg = str(e).replace("(use JPEG, PNG or WebP)", f"(use {FORMATS_TEXT})")
            ext = Path(name).suffix.lower().lstrip(".")
            if "not a recognised image format" in msg and ext in SUPPORTED_EXT:
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
        if out.gps is None:
            g = exif_gps(data)
            if g is not None:
                out.gps, out.gps_from = g, name
    return out


def test_locations(df: pd.DataFrame) -> pd.DataFrame:
    """Test-split locations with coordinates whose image files exist: one row per location with
    ``location_id, group_id, lat, lon, country, admin1, source, paths`` (list of its views' absolute paths)."""
    t = df[(df["split"] == "test") & df["lat"].notna() & df["lon"].notna()]
    t = t[[Path(p).is_file() for p in t["path"]]]
    if t.empty:
        return pd.DataFrame(columns=["location_id", "group_id", "lat", "lon", "country", "admin1", "source", "paths"])
    t = t.sort_values(["location_id", "view"])
    g = t.groupby("location_id", sort=True)
    out = g.agg(group_id=("group_id", "first"), lat=("lat", "first"), lon=("lon", "first"), country=("country", "first"),
                admin1=("admin1", "first"), source=("source", "first"), paths=("path", list)).reset_index()
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


# ------------------------------------------------------------------------------ Street View
SECRET_NAMES = ("GOOGLE_MAPS_API_KEY", "GSV_API_KEY", "GOOGLE_API_KEY")


def find_api_key(typed: str | None, secrets: Mapping[str, Any] | None = None) -> str | None:
    """The key to use: the one typed by the user, else Streamlit secrets, else the environment; None
    if there is none. Never logs or returns anything but the key itself."""
    if typed and typed.strip():
        return typed.strip()
    for name in SECRET_NAMES:
        try:
            v = secrets.get(name) if secrets is not None else None
        except Exception:  # noqa: BLE001 - a missing/broken secrets file means "no secret"
            v = None
        if v and str(v).strip():
            return str(v).strip()
    from model.collect.streetview import MissingKeyError, get_api_key

    try:
        return get_api_key()
    except MissingKeyError:
        return None


@dataclass(frozen=True)
class StreetViewRequest:
    """Camera of a Street View pull: location in degrees, heading 0..360, pitch -90..90, fov 10..120."""

    lat: float | None
    lon: float | None
    heading: float = 0.0
    pitch: float = 0.0
    fov: float = 90.0
    pano: str | None = None


def request_from_link(link: str, heading: float, pitch: float, fov: float) -> StreetViewRequest:
    """A request from a Google Maps / Street View link or a bare 'lat, lon'; the link's own heading,
    pitch and fov win over the given defaults. Raises ``model.collect.streetview.LinkError`` if unusable."""
    from model.collect.streetview import parse_maps_link

    v = parse_maps_link(link)
    fov_v = float(v.get("fov", fov))
    return StreetViewRequest(lat=v.get("lat"), lon=v.get("lon"), heading=float(v.get("heading", heading)),
                             pitch=float(v.get("pitch", pitch)), fov=min(120.0, max(10.0, fov_v)), pano=v.get("pano"))


def fetch_streetview(key: str, req: StreetViewRequest, *, base_url: str | None = None, radius: int = 50,
                     timeout: float = 10.0) -> tuple[bytes, Any]:
    """Metadata then image of the nearest outdoor panorama: (JPEG bytes, ``PanoMeta``).

    Raises the typed ``model.collect.streetview`` errors (messages are key-free); see :func:`error_message`.
    """
    from model.collect.streetview import StreetViewClient

    client = StreetViewClient(key, base_url=base_url, timeout=timeout, user_agent="geoloc-app/1")
    if req.pano:
        meta = client.metadata(pano=req.pano)
    else:
        meta = client.metadata(req.lat, req.lon, radius=radius)
    data = client.image(pano=meta.pano_id, heading=req.heading, pitch=req.pitch, fov=req.fov, size=(640, 640))
    return data, meta


def error_message(exc: BaseException) -> str:
    """A user-facing message for a Street View or link failure (never contains the key)."""
    from model.collect import streetview as sv

    if isinstance(exc, sv.LinkError):
        return f"That link or those coordinates could not be used: {exc}"
    if isinstance(exc, sv.MissingKeyError):
        return ("No Street View API key: type yours in the password field, or set GOOGLE_MAPS_API_KEY in "
                "the environment or in .streamlit/secrets.toml.")
    if isinstance(exc, sv.RequestDenied):
        return ("Google refused the request: the API key is wrong or restricted, the Street View Static API is "
                "not enabled for its project, or billing is off.")
    if isinstance(exc, sv.QuotaExceeded):
        return "Street View quota or rate limit exceeded: wait a little and try again, or raise your quota."
    if isinstance(exc, (sv.NoCoverage, sv.NotFound)):
        return "No Street View coverage within 50 m of that place: try a point on a road, or another place."
    if isinstance(exc, sv.InvalidRequest):
        return f"Street View rejected the request as malformed: {exc}"
    if isinstance(exc, sv.NetworkError):
        return "Could not reach Street View (no internet connection, or it timed out). Other inputs still work."
    if isinstance(exc, sv.StreetViewError):
        return f"Street View failed ({exc.status}); try again later."
    if isinstance(exc, ValueError):
        return f"Invalid request: {exc}"
    return f"Street View failed: {type(exc).__name__}"
