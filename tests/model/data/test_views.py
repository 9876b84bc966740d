"""Odd photos into model-like views (model/data/views.py): panorama reprojection checked on synthetic
equirectangular images whose content is known, tiles of wide strips, size limits, GPano XMP."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from model.data import views as V


def lonlat_pano(w: int = 1024) -> Image.Image:
    """A 2:1 panorama whose colour encodes where each pixel looks: R, G = cos, sin of the longitude,
    B = latitude (0 at the south pole, 255 at the north pole)."""
    h = w // 2
    lon = ((np.arange(w) + 0.5) / w - 0.5) * 2 * np.pi
    lat = (0.5 - (np.arange(h) + 0.5) / h) * np.pi
    lo, la = np.meshgrid(lon, lat)
    rgb = np.stack([127.5 + 127.5 * np.cos(lo), 127.5 + 127.5 * np.sin(lo), (la / np.pi + 0.5) * 255], -1)
    return Image.fromarray(np.round(rgb).astype(np.uint8))


def decode(px: np.ndarray) -> tuple[float, float]:
    """(lon, lat) in degrees from a pixel of :func:`lonlat_pano`."""
    r, g, b = (float(v) for v in px)
    return math.degrees(math.atan2(g - 127.5, r - 127.5)), (b / 255 - 0.5) * 180


@pytest.mark.parametrize("heading", [0, 90, 180, 270, 45])
def test_each_view_looks_where_its_heading_says(heading):
    view = np.asarray(V.equirect_to_perspective(lonlat_pano(), heading, fov_deg=120, size=201))
    lon, lat = decode(view[100, 100])  # the centre pixel
    assert abs((lon - heading + 180) % 360 - 180) < 1.0 and abs(lat) < 1.0
    # the right edge of the middle row looks 60 degrees (half the FOV) further clockwise, the top edge 60 up
    lon_r, _ = decode(view[100, 200])
    assert abs((lon_r - heading - 60 + 180) % 360 - 180) < 1.5
    _, lat_top = decode(view[0, 100])
    assert abs(lat_top - 60) < 1.5


def great_circle_pano(normal, w: int = 2048, width_deg: float = 0.35) -> Image.Image:
    """Black panorama with a white great circle: the image of a straight 3D line through the plane
    with this ``normal`` (x right at heading 90, y up, z ahead at heading 0)."""
    h = w // 2
    n = np.asarray(normal, float) / np.linalg.norm(normal)
    lon = ((np.arange(w) + 0.5) / w - 0.5) * 2 * np.pi
    lat = (0.5 - (np.arange(h) + 0.5) / h) * np.pi
    lo, la = np.meshgrid(lon, lat)
    d = np.stack([np.cos(la) * np.sin(lo), np.sin(la), np.cos(la) * np.cos(lo)], -1)
    on = np.abs(d @ n) < math.sin(math.radians(width_deg))
    return Image.fromarray(np.where(on, 255, 0).astype(np.uint8)).convert("RGB")


def straightness(mask: np.ndarray) -> float:
    """Largest distance (px) of a thin curve's centre points from their best straight line."""
    ys, xs = np.nonzero(mask)
    steep = np.ptp(ys) > np.ptp(xs)
    major, minor = (ys, xs) if steep else (xs, ys)
    keys = np.unique(major)
    centres = np.array([minor[major == k].mean() for k in keys])
    a, b = np.polyfit(keys, centres, 1)
    return float(np.abs(centres - (a * keys + b)).max() / math.hypot(1, a))


@pytest.mark.parametrize("normal,heading", [((-1.0, -2.0, 0.0), 0),      # a kerb along the road, right and below
                                            ((0.3, 0.9, 0.3), 90),       # a tilted line across the view
                                            ((1.0, 0.2, -0.4), 200)])
def test_straight_lines_stay_straight(normal, heading):
    pano = great_circle_pano(normal)
    view = np.asarray(V.equirect_to_perspective(pano, heading, fov_deg=100, size=400))[..., 0] > 100
    assert view.sum() > 300, "the line must cross the view"
    assert straightness(view) < 1.5
    # the same line in the panorama itself (what a crop would give) is curved
    arr = np.asarray(pano)[..., 0] > 100
    w = arr.shape[1]
    c = int((heading / 360 + 0.5) * w) % w
    crop = np.roll(arr, w // 2 - c, axis=1)[:, w // 2 - w // 6: w // 2 + w // 6]
    assert straightness(crop) > 8


def test_split_photo_auto_modes():
    pano = lonlat_pano(1024)
    s = V.split_photo(pano, "pano.jpg")
    assert s.kind == "panorama" and len(s.views) == 4 and "perspective views" in s.note
    assert [im.size for im in s.views] == [(V.view_size(1024, V.PANO_FOV),) * 2] * 4
    assert "from its centre" in s.labels[1]
    wide = Image.new("RGB", (1920, 1080))
    t = V.split_photo(wide, "wide.jpg")
    assert t.kind == "tiles" and len(t.views) == 2 and all(v.size == (1080, 1080) for v in t.views)
    assert "edge to edge" in t.note
    normal = Image.new("RGB", (1024, 768))
    n = V.split_photo(normal, "n.jpg")
    assert n.kind == "whole" and n.views == [normal] and n.note == ""
    assert V.split_photo(pano, "p.jpg", mode="whole").kind == "whole"
    assert V.split_photo(pano, "p.jpg", mode="tiles").kind == "tiles"
    assert V.split_photo(wide, "w.jpg", mode="panorama").kind == "panorama"
    with pytest.raises(ValueError):
        V.split_photo(wide, "w.jpg", mode="sideways")


def test_extreme_strip_gets_spread_tiles():
    boxes = V.tile_boxes(4000, 120)
    assert len(boxes) == V.MAX_TILES and boxes[0][0] == 0 and boxes[-1][2] == 4000
    assert all(r - l == 120 and b - t == 120 for l, t, r, b in boxes)
    assert V.tiles_cover(4000, 120) == pytest.approx(8 * 120 / 4000)
    s = V.split_photo(Image.new("RGB", (4000, 120)), "strip.png")
    assert s.kind == "tiles" and "24% of its width" in s.note and s.detail_px == 120
    assert V.tile_boxes(3000, 1000) == [(0, 0, 1000, 1000), (1000, 0, 2000, 1000), (2000, 0, 3000, 1000)]


def test_size_limits():
    assert V.size_problem(1, 260, "1x1 px")[0] == "refuse"
    assert V.size_problem(63, 260, "x")[0] == "refuse"
    kind, why = V.size_problem(120, 260, "its 120-px tiles")
    assert kind == "warn" and "2.2x" in why and why.startswith("its 120-px tiles")
    assert V.size_problem(256, 260, "x") is None
    assert V.size_problem(64, 600, "x")[0] == "refuse"  # a bigger model input enlarges more


def xmp_jpeg(img: Image.Image, fields: str) -> bytes:
    xmp = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           f'<rdf:Description xmlns:GPano="http://ns.google.com/photos/1.0/panorama/" {fields}/></rdf:RDF></x:xmpmeta>')
    buf = io.BytesIO()
    img.save(buf, "JPEG", xmp=xmp.encode())
    return buf.getvalue()


def test_gpano_xmp_is_read_and_used():
    data = xmp_jpeg(Image.new("RGB", (1200, 600)), 'GPano:ProjectionType="equirectangular" GPano:PoseHeadingDegrees="90" '
                                                  'GPano:FullPanoWidthPixels="1200" GPano:CroppedAreaImageWidthPixels="1200"')
    g = V.read_gpano(data)
    assert g is not None and g.equirectangular and g.full and g.pose_heading == 90
    s = V.split_photo(Image.open(io.BytesIO(data)), "sphere.jpg", gpano=g)
    assert s.kind == "panorama" and "photo sphere" in s.note
    assert s.labels[0].endswith("heading 90° (E)") and s.labels[1].endswith("heading 180° (S)")
    # element syntax, and a partial panorama (a third of the sphere) is tiled instead
    part = ("<GPano:ProjectionType>equirectangular</GPano:ProjectionType>"
            "<GPano:FullPanoWidthPixels>6000</GPano:FullPanoWidthPixels>"
            "<GPano:CroppedAreaImageWidthPixels>2000</GPano:CroppedAreaImageWidthPixels>")
    g2 = V.read_gpano(b"\xff\xd8 junk " + part.encode() + b" more")
    assert g2 is not None and g2.equirectangular and not g2.full
    s2 = V.split_photo(Image.new("RGB", (2000, 700)), "partial.jpg", gpano=g2)
    assert s2.kind == "tiles"
    assert V.read_gpano(xmp_jpeg(Image.new("RGB", (10, 10)), 'GPano:Other="1"')) is None
    assert V.read_gpano(b"no xmp at all") is None


def test_views_stitch_back_into_the_panorama():
    """panorama -> 4 views of 90 degrees -> panorama gives back the original where the views see
    (|lat| < 30 deg everywhere; at 45 deg from a view's axis its edge reaches atan(cos 45) = 35 deg)."""
    pano = lonlat_pano(512)
    views = V.panorama_views(pano, size=256)
    back = np.asarray(V.equirect_from_views(views, width=512), np.float32)
    orig = np.asarray(pano, np.float32)
    band = slice(256 // 3 + 2, 2 * 256 // 3 - 2)  # latitudes -30..30
    assert np.abs(back[band] - orig[band]).mean() < 2.0
    assert (back[0] == 128).all()  # the zenith is seen by no view: filled grey
