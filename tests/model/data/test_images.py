import io

import numpy as np
import pytest
from PIL import Image

from model.data.images import ImageLoadError, exif_gps, open_image, to_rgb


def _bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def _make(mode: str) -> Image.Image:
    ramp = np.arange(200).reshape(10, 20)
    if mode == "I;16":
        return Image.fromarray((ramp * 300).astype(np.uint16))
    if mode == "I":
        return Image.fromarray((ramp * 300).astype(np.int32))
    if mode == "F":
        return Image.fromarray((ramp / 7).astype(np.float32))
    return Image.new("RGB", (20, 10), (200, 30, 40)).convert(mode)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "1", "CMYK", "I;16", "I", "F"])
def test_any_mode_becomes_rgb(mode):
    img = _make(mode)
    assert img.mode == mode
    out = to_rgb(img)
    assert out.mode == "RGB" and out.size == (20, 10)
    if mode in ("I;16", "I", "F"):  # high-bit-depth ramps keep their order after rescaling
        a = np.asarray(out)[..., 0].astype(int).ravel()
        assert a[0] < a[-1]


def test_rgba_composited_on_white():
    img = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert open_image(_bytes(img, "PNG")).getpixel((0, 0)) == (255, 255, 255)


def test_exif_orientation_applied():
    img = Image.new("RGB", (40, 20), (0, 0, 0))
    ex = Image.Exif()
    ex[0x0112] = 6  # rotate 90 CW on display
    out = open_image(_bytes(img, "JPEG", exif=ex.tobytes()))
    assert out.size == (20, 40)


def test_webp_and_16bit_png():
    assert open_image(_bytes(Image.new("RGB", (8, 8)), "WEBP")).mode == "RGB"
    a = (np.linspace(0, 65535, 64).reshape(8, 8)).astype(np.uint16)
    assert open_image(_bytes(Image.fromarray(a), "PNG")).mode == "RGB"


def test_corrupt_truncated_and_empty_name_the_file(tmp_path, shared_manifest):
    real = open(shared_manifest["path"].iloc[0], "rb").read()
    p = tmp_path / "cut.jpg"
    p.write_bytes(real[: len(real) // 3])
    with pytest.raises(ImageLoadError, match="cut.jpg"):
        open_image(p)
    with pytest.raises(ImageLoadError, match="not a recognised image"):
        open_image(b"hello world, not an image", name="notes.txt")
    with pytest.raises(ImageLoadError, match="empty"):
        open_image(b"", name="e.jpg")
    with pytest.raises(ImageLoadError, match="not found"):
        open_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageLoadError, match="is a folder"):
        open_image(tmp_path)
    (tmp_path / "zero.jpg").write_bytes(b"")
    with pytest.raises(ImageLoadError, match="zero.jpg: empty file"):
        open_image(tmp_path / "zero.jpg")


def test_decompression_bomb_refused():
    big = _bytes(Image.new("L", (9000, 9000)), "PNG")  # 81 MP, compresses to a few kB
    with pytest.raises(ImageLoadError, match="bomb.png: image is too large \\(limit 60 MP"):
        open_image(big, name="bomb.png")


def test_exif_gps_roundtrip():
    img = Image.new("RGB", (8, 8))
    ex = Image.Exif()
    gps = {1: "S", 2: (33.0, 51.0, 54.0), 3: "E", 4: (151.0, 12.0, 36.0)}
    ex[0x8825] = gps
    lat, lon = exif_gps(_bytes(img, "JPEG", exif=ex.tobytes()))
    assert lat == pytest.approx(-33.865, abs=1e-3) and lon == pytest.approx(151.21, abs=1e-3)
    assert exif_gps(_bytes(img, "JPEG")) is None
