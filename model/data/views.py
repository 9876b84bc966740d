"""Odd photos made into views like the model's training views (pure functions, no Streamlit).

The model looks at the centre square of a photo (after its bottom crop), resized to ~260 px. That
suits the square Street View views it was trained on (``gsv_strips``, 75% of the training images:
four square views per panorama at headings 0/90/180/270 whose edges meet without overlap, i.e. 90
degrees wide each; measured: the pixels across a boundary differ as little as neighbouring columns
inside a view) but not:

* **360-degree equirectangular panoramas** (2:1, or tagged ``GPano:ProjectionType=equirectangular``
  in their XMP): the centre square of one is a distorted slice of what is behind the camera and what
  is in front. :func:`panorama_views` reprojects them into rectilinear (pinhole) 90-degree views at
  four headings, like the training views (a real reprojection: straight lines stay straight).
* **wide photos** (aspect > :data:`WIDE_ASPECT`): the centre square throws most of it away.
  :func:`tile_boxes` covers the width with square tiles of the full height.
* **tiny photos**: :func:`size_problem` says when a photo is too small to be worth predicting (the
  model would enlarge it more than :data:`REFUSE_UPSCALE` times) or small enough to warn about.

Coordinates: panorama longitude 0 is the centre column, increasing to the right (east when the
panorama's centre faces north); latitude 0 is the middle row. Headings are in degrees, clockwise,
relative to the panorama's centre unless its XMP gives ``PoseHeadingDegrees``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from PIL import Image

WIDE_ASPECT = 1.6          # width / height above which a photo is split into square tiles
PANO_ASPECT = 2.0          # equirectangular panoramas are 2:1
PANO_TOLERANCE = 0.03      # |aspect - 2| allowed for "looks like a 360-degree panorama"
PANO_HEADINGS = (0.0, 90.0, 180.0, 270.0)
PANO_FOV = 90.0            # degrees: the width of each gsv_strips training view (four of them make 360)
MAX_TILES = 8
MIN_SIDE = 64              # px: shorter sides are refused ...
REFUSE_UPSCALE = 4.0       # ... as is anything the model would enlarge more than this
WARN_UPSCALE = 2.0         # enlarging more than this gets a warning
SPLIT_MODES = ("auto", "panorama", "tiles", "whole")


@dataclass(frozen=True)
class GPano:
    """Photo Sphere XMP metadata (``GPano:`` namespace); pixel sizes of the full panorama and of the
    part stored in the file, and the compass heading (degrees) of its centre when known."""

    projection: str
    full_width: int | None = None
    full_height: int | None = None
    cropped_width: int | None = None
    cropped_height: int | None = None
    pose_heading: float | None = None

    @property
    def equirectangular(self) -> bool:
        return self.projection.lower() == "equirectangular"

    @property
    def full(self) -> bool:
        """True unless the XMP says the file holds only part of the sphere."""
        if self.full_width and self.cropped_width and self.cropped_width < self.full_width * 0.98:
            return False
        if self.full_height and self.cropped_height and self.cropped_height < self.full_height * 0.98:
            return False
        return True


def _xmp_field(xmp: str, name: str) -> str | None:
    m = re.search(rf'GPano:{name}\s*=\s*"([^"]*)"', xmp) or re.search(rf"<GPano:{name}>([^<]*)</GPano:{name}>", xmp)
    return m.group(1).strip() if m else None


def read_gpano(data: bytes, limit: int = 1 << 20) -> GPano | None:
    """GPano XMP fields from the first ``limit`` bytes of an image file (JPEG APP1, PNG iTXt, WebP
    XMP chunk: the packet is plain text in all of them); None when the file has no GPano projection."""
    head = bytes(data[:limit])
    i = head.find(b"GPano:ProjectionType")
    if i < 0:
        return None
    lo, hi = max(0, i - 8192), min(len(head), i + 8192)
    xmp = head[lo:hi].decode("utf-8", "replace")
    proj = _xmp_field(xmp, "ProjectionType")
    if not proj:
        return None

    def num(name: str) -> float | None:
        v = _xmp_field(xmp, name)
        try:
            return float(v) if v is not None else None
        except ValueError:
            return None

    def px(name: str) -> int | None:
        v = num(name)
        return int(v) if v is not None and v > 0 else None

    return GPano(proj, px("FullPanoWidthPixels"), px("FullPanoHeightPixels"), px("CroppedAreaImageWidthPixels"),
                 px("CroppedAreaImageHeightPixels"), num("PoseHeadingDegrees"))


def looks_equirectangular(width: int, height: int) -> bool:
    """True for a 2:1 image (within :data:`PANO_TOLERANCE`): the shape of a full 360x180-degree panorama."""
    return height > 0 and abs(width / height - PANO_ASPECT) <= PANO_TOLERANCE


# ------------------------------------------------------------------ equirectangular -> perspective
def view_size(pano_width: int, fov_deg: float, lo: int = 256, hi: int = 640) -> int:
    """Side (px) of a perspective view with the panorama's own resolution at its centre, in lo..hi."""
    s = 2 * math.tan(math.radians(fov_deg) / 2) * pano_width / (2 * math.pi)
    return int(min(hi, max(lo, round(s))))


def perspective_grid(size: int, heading_deg: float, fov_deg: float, pitch_deg: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude (radians, each (size, size)) seen by the pixels of a square pinhole view.

    The camera looks at ``heading_deg`` (clockwise from longitude 0) and ``pitch_deg`` (up positive)
    with a horizontal and vertical field of view ``fov_deg`` (0 < fov < 180).
    """
    if not 0 < fov_deg < 180:
        raise ValueError(f"field of view must be between 0 and 180 degrees, got {fov_deg}")
    t = math.tan(math.radians(fov_deg) / 2)
    c = (np.arange(size, dtype=np.float64) + 0.5) / size * 2 - 1  # -1..1 across the view
    a, b = np.meshgrid(c * t, -c * t)  # a: right, b: up (rows go down)
    ph, th = math.radians(pitch_deg), math.radians(heading_deg)
    y = b * math.cos(ph) + math.sin(ph)  # pitch about the camera's x axis
    z = -b * math.sin(ph) + math.cos(ph)
    x2 = a * math.cos(th) + z * math.sin(th)  # then heading about the vertical axis
    z2 = -a * math.sin(th) + z * math.cos(th)
    return np.arctan2(x2, z2), np.arctan2(y, np.hypot(x2, z2))


def sample_equirect(pano: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Bilinear samples of an equirectangular image ``pano`` (H, W, C) at ``lon``/``lat`` (radians,
    any equal shapes); wraps around in longitude, clamps at the poles. Returns (..., C) float32."""
    h, w = pano.shape[:2]
    px = (lon / (2 * math.pi) + 0.5) * w - 0.5
    py = (0.5 - lat / math.pi) * h - 0.5
    x0 = np.floor(px)
    y0 = np.floor(py)
    wx = (px - x0)[..., None].astype(np.float32)
    wy = (py - y0)[..., None].astype(np.float32)
    x0 = x0.astype(np.int64) % w
    x1 = (x0 + 1) % w
    y1 = np.clip(y0 + 1, 0, h - 1).astype(np.int64)
    y0 = np.clip(y0, 0, h - 1).astype(np.int64)
    p = pano.astype(np.float32, copy=False)
    top = p[y0, x0] * (1 - wx) + p[y0, x1] * wx
    bot = p[y1, x0] * (1 - wx) + p[y1, x1] * wx
    return top * (1 - wy) + bot * wy


def equirect_to_perspective(pano: Image.Image, heading_deg: float, fov_deg: float = PANO_FOV,
                            pitch_deg: float = 0.0, size: int | None = None) -> Image.Image:
    """One rectilinear ``size`` x ``size`` RGB view of an equirectangular panorama (PIL, 2:1).

    The panorama is first shrunk (area averaging) to about the view's resolution, so a 4096-px
    panorama gives a clean 640-px view instead of an aliased one.
    """
    size = size or view_size(pano.width, fov_deg)
    focal = size / 2 / math.tan(math.radians(fov_deg) / 2)  # view pixels per radian at its centre
    target_w = int(math.ceil(2 * math.pi * focal * 1.25))
    src = pano.convert("RGB")
    if src.width > target_w:
        src = src.resize((target_w, max(2, round(target_w * src.height / src.width))), Image.BOX)
    lon, lat = perspective_grid(size, heading_deg, fov_deg, pitch_deg)
    out = sample_equirect(np.asarray(src), lon, lat)
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")


def panorama_views(pano: Image.Image, headings: Sequence[float] = PANO_HEADINGS, fov_deg: float = PANO_FOV,
                   pitch_deg: float = 0.0, size: int | None = None) -> list[Image.Image]:
    """Perspective views of a 360-degree panorama at ``headings`` (degrees from its centre)."""
    return [equirect_to_perspective(pano, h, fov_deg, pitch_deg, size) for h in headings]


def equirect_from_views(views: Sequence[Image.Image], headings: Sequence[float] = PANO_HEADINGS,
                        fov_deg: float = PANO_FOV, width: int = 1024, fill: tuple[int, int, int] = (128, 128, 128)) -> Image.Image:
    """The inverse of :func:`panorama_views`: a ``width`` x ``width/2`` equirectangular panorama
    stitched from square pinhole views (pitch 0) at ``headings``; each panorama pixel takes the view
    whose heading is nearest in longitude, and directions no view sees get ``fill``. Used to turn the
    four 90-degree views of a Street View location into the 360-degree panorama they came from."""
    h = width // 2
    lon = ((np.arange(width) + 0.5) / width - 0.5) * 2 * np.pi
    lat = (0.5 - (np.arange(h) + 0.5) / h) * np.pi
    lo, la = np.meshgrid(lon, lat)
    x, y, z = np.cos(la) * np.sin(lo), np.sin(la), np.cos(la) * np.cos(lo)
    hd = np.radians(np.asarray(headings, float))
    diff = np.abs((lo[..., None] - hd + np.pi) % (2 * np.pi) - np.pi)
    which = diff.argmin(-1)
    out = np.empty((h, width, 3), np.float32)
    out[:] = fill
    t = math.tan(math.radians(fov_deg) / 2)
    for i, (view, th) in enumerate(zip(views, hd)):
        arr = np.asarray(view.convert("RGB"), np.float32)
        s = arr.shape[0]
        xc = x * math.cos(th) - z * math.sin(th)  # into the camera's frame (undo the heading)
        zc = x * math.sin(th) + z * math.cos(th)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = (xc / zc / t + 1) / 2 * s - 0.5
            v = (1 - y / zc / t) / 2 * s - 0.5
        m = (which == i) & (zc > 1e-6) & (u >= 0) & (u <= s - 1) & (v >= 0) & (v <= s - 1)
        uu, vv = u[m], v[m]
        u0, v0 = np.floor(uu).astype(int), np.floor(vv).astype(int)
        u1, v1 = np.minimum(u0 + 1, s - 1), np.minimum(v0 + 1, s - 1)
        wu, wv = (uu - u0)[:, None], (vv - v0)[:, None]
        out[m] = ((arr[v0, u0] * (1 - wu) + arr[v0, u1] * wu) * (1 - wv)
                  + (arr[v1, u0] * (1 - wu) + arr[v1, u1] * wu) * wv)
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")


# ------------------------------------------------------------------ wide photos -> tiles
def tile_boxes(width: int, height: int, max_tiles: int = MAX_TILES) -> list[tuple[int, int, int, int]]:
    """Square tiles (left, top, right, bottom) of side ``height`` covering a wide image from edge to
    edge, evenly spaced (they overlap when the width is not a multiple of the height). More than
    ``max_tiles`` would be needed for an extreme strip: then ``max_tiles`` evenly spaced ones (gaps)."""
    if width <= height:
        s = min(width, height)
        return [((width - s) // 2, (height - s) // 2, (width - s) // 2 + s, (height - s) // 2 + s)]
    n = min(max_tiles, math.ceil(width / height - 1e-9))
    lefts = np.linspace(0, width - height, n) if n > 1 else np.array([(width - height) / 2])
    return [(int(round(x)), 0, int(round(x)) + height, height) for x in lefts]


def tiles_cover(width: int, height: int, max_tiles: int = MAX_TILES) -> float:
    """Share (0..1) of the width that :func:`tile_boxes` covers."""
    boxes = tile_boxes(width, height, max_tiles)
    covered = np.zeros(width, bool)
    for l, _, r, _ in boxes:
        covered[l:r] = True
    return float(covered.mean())


# ------------------------------------------------------------------ one photo -> views
@dataclass
class Split:
    """The views made from one photo, their labels, what was done (``kind``: whole | tiles |
    panorama) and a sentence for people saying so (empty for an ordinary photo)."""

    views: list[Image.Image]
    labels: list[str]
    kind: str
    note: str = ""
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    detail_px: int = 0  # photo pixels across a view's short side (the panorama's own resolution for its views)


def _compass(deg: float) -> str:
    names = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"]
    return names[int(((deg % 360) + 22.5) // 45) % 8]


def split_photo(img: Image.Image, name: str = "photo", *, mode: str = "auto", gpano: GPano | None = None,
                fov_deg: float = PANO_FOV, max_tiles: int = MAX_TILES) -> Split:
    """Views of one photo for the model.

    ``mode``: ``auto`` (a full equirectangular panorama, by XMP or by its 2:1 shape -> four perspective
    views; wider than :data:`WIDE_ASPECT` -> square tiles; else the photo itself), or force
    ``panorama``, ``tiles`` or ``whole`` (the photo as is: the model sees its centre square).
    """
    if mode not in SPLIT_MODES:
        raise ValueError(f"mode must be one of {SPLIT_MODES}, got {mode!r}")
    w, h = img.size
    aspect = w / max(h, 1)
    tagged = gpano is not None and gpano.equirectangular and gpano.full
    pano = mode == "panorama" or (mode == "auto" and (tagged or looks_equirectangular(w, h)))
    if pano:
        views = panorama_views(img, PANO_HEADINGS, fov_deg)
        pose = gpano.pose_heading if gpano is not None else None
        if pose is not None:
            labels = [f"{name} · heading {(pose + hd) % 360:.0f}° ({_compass(pose + hd)})" for hd in PANO_HEADINGS]
        else:
            labels = [f"{name} · {hd:.0f}° from its centre" for hd in PANO_HEADINGS]
        why = ("tagged as an equirectangular photo sphere" if tagged else
               "2:1, the shape of a 360° panorama" if mode == "auto" else "split as you chose")
        note = (f"{name} ({w}x{h}, {why}) was reprojected into {len(views)} perspective views of {fov_deg:.0f}° at "
                "headings 0/90/180/270°, like the training views, and they are fused.")
        detail = round(2 * math.tan(math.radians(fov_deg) / 2) * w / (2 * math.pi))
        return Split(views, labels, "panorama", note, detail_px=int(detail))
    if mode == "tiles" or (mode == "auto" and aspect > WIDE_ASPECT):
        boxes = tile_boxes(w, h, max_tiles)
        if len(boxes) > 1:
            cover = tiles_cover(w, h, max_tiles)
            note = (f"{name} ({w}x{h}, {aspect:.1f}:1) is wider than the square views the model was trained on: "
                    f"it was cut into {len(boxes)} square tiles of {h}x{h} px"
                    + (" covering it edge to edge" if cover > 0.999 else f" spread over it ({cover:.0%} of its width)")
                    + ", fused as views of one place.")
            return Split([img.crop(b) for b in boxes], [f"{name} · tile {i + 1}/{len(boxes)}" for i in range(len(boxes))],
                         "tiles", note, boxes, detail_px=h)
    note = ""
    if aspect > WIDE_ASPECT or aspect < 1 / WIDE_ASPECT:
        note = f"{name} ({w}x{h}) is used as is: the model sees only its centre square."
    return Split([img], [name], "whole", note, [(0, 0, w, h)], detail_px=min(w, h))


# ------------------------------------------------------------------ size
def upscale_factor(short_side: int, input_size: int) -> float:
    """How many times the model enlarges a view whose short side is ``short_side`` px (to ``input_size``)."""
    return input_size / max(1, short_side)


def size_problem(short_side: int, input_size: int, what: str) -> tuple[str, str] | None:
    """``("refuse", why)`` for a view too small to predict (short side under :data:`MIN_SIDE` px or
    enlarged more than :data:`REFUSE_UPSCALE` times), ``("warn", why)`` when the model must enlarge it
    more than :data:`WARN_UPSCALE` times, else None. ``what`` names it in the sentence (e.g. "1x1 px",
    "its 120-px tiles"); ``why`` is a sentence for people."""
    f = upscale_factor(short_side, input_size)
    if short_side < MIN_SIDE or f > REFUSE_UPSCALE:
        need = max(MIN_SIDE, math.ceil(input_size / REFUSE_UPSCALE))
        return ("refuse", f"{what} is too small: the model looks at {input_size}x{input_size} px and would have to "
                          f"enlarge it {f:,.0f}x (it needs at least {need} px on the short side).")
    if f > WARN_UPSCALE:
        return ("warn", f"{what} is small: the model has to enlarge it {f:.1f}x to {input_size} px, so fine detail "
                        "(signs, road markings) is lost and the answer is less reliable.")
    return None
