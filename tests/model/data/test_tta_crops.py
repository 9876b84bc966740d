"""The TTA benchmark's crops: the view itself first, then square crops at the stated places."""
import numpy as np
from PIL import Image

from benchmarks import tta


def _ramp(w: int, h: int) -> Image.Image:
    """An image whose red channel is the column index (so a crop's first column tells its x)."""
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 0] = np.arange(w, dtype=np.uint8)[None, :]
    return Image.fromarray(a)


def test_lcr_crops_cover_left_centre_right():
    img = _ramp(200, 100)
    out = tta.crops(img, "lcr", 0.8)
    assert out[0] is img and len(out) == 4
    assert [c.size for c in out[1:]] == [(80, 80)] * 3
    assert [int(np.asarray(c)[0, 0, 0]) for c in out[1:]] == [0, 60, 120]


def test_centre_and_none():
    img = _ramp(100, 100)
    assert tta.crops(img, "none", 0.85) == [img]
    c = tta.crops(img, "centre", 0.5)
    assert len(c) == 2 and c[1].size == (50, 50) and int(np.asarray(c[1])[0, 0, 0]) == 25
