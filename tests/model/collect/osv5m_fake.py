"""A small local copy of ``osv5m/osv5m`` in the Hub's layout (``test.csv``, ``images/test/NN.zip``) for the
demo-set tests, with pixels generated here (never taken from ../shared), and a source that counts reads."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from model.collect.hub_zip import LocalSource

# test.csv's columns in the official order (osv5m.py)
CSV_COLUMNS = ["id", "latitude", "longitude", "thumb_original_url", "country", "sequence", "captured_at", "lon_bin",
               "lat_bin", "cell", "region", "sub-region", "city", "land_cover", "road_index", "drive_side", "climate",
               "soil", "dist_sea", "quadtree_10_5000", "quadtree_10_25000", "quadtree_10_1000", "quadtree_10_50000",
               "quadtree_10_12500", "quadtree_10_500", "quadtree_10_2500", "unique_region", "unique_sub-region",
               "unique_city", "unique_country", "creator_username", "creator_id"]
PLACES = [("HR", 45.81, 15.98), ("NA", -22.56, 17.08), ("JP", 35.68, 139.69), ("BR", -23.55, -46.63),
          ("US", 39.74, -104.99), ("FR", 48.86, 2.35)]


def _jpeg(rng: np.random.Generator, exif: Image.Exif | None = None) -> bytes:
    a = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=90, **({"exif": exif} if exif is not None else {}))
    return buf.getvalue()


def fake_osv5m(root: Path, rows: int = 120, per_zip: int = 60) -> Path:
    """``root`` holding test.csv (``rows`` places over 6 countries, Namibia's code ``NA`` included) and
    images/test/00.zip (stored, members ``00/<id>.jpg``), 01.zip (deflated) ...; the last CSV row has no image;
    image 1 carries EXIF GPS and image 2 an EXIF orientation (the served copies must drop/apply them)."""
    rng = np.random.default_rng(7)
    (root / "images" / "test").mkdir(parents=True)
    lines = [",".join(CSV_COLUMNS)]
    ids = [str(1000000000000000 + 7919 * k) for k in range(rows)]
    for k, i in enumerate(ids):
        cc, lat, lon = PLACES[k % len(PLACES)]
        vals = {c: "" for c in CSV_COLUMNS}
        vals.update(id=i, latitude=f"{lat + 0.05 * (k // 6):.6f}", longitude=f"{lon + 0.03 * (k // 6):.6f}", country=cc,
                    sequence=f"seq{k // 3}", captured_at=str(1500000000000 + k * 86400000),
                    creator_username=f"mapper_{k % 9}" if k % 10 else "", creator_id=str(100 + k))
        lines.append(",".join(vals[c] for c in CSV_COLUMNS))
    (root / "test.csv").write_text("\n".join(lines) + "\n")
    for z in range((rows - 1 + per_zip - 1) // per_zip):
        method = zipfile.ZIP_STORED if z == 0 else zipfile.ZIP_DEFLATED
        with zipfile.ZipFile(root / "images" / "test" / f"{z:02d}.zip", "w", method) as zf:
            for k in range(z * per_zip, min((z + 1) * per_zip, rows - 1)):
                exif = None
                if k in (1, 2):
                    exif = Image.Exif()
                    if k == 1:
                        gps = exif.get_ifd(0x8825)
                        gps[1], gps[2], gps[3], gps[4] = "S", (22.0, 33.0, 36.0), "E", (17.0, 4.0, 48.0)
                    else:
                        exif[0x0112] = 6
                zf.writestr(f"{z:02d}/{ids[k]}.jpg", _jpeg(rng, exif))
    return root


class CountingSource(LocalSource):
    """A :class:`LocalSource` that records which files were opened and how many bytes were read."""

    def __init__(self, root: Path):
        super().__init__(root)
        self.opened: list[str] = []
        self.bytes_read = 0

    def open(self, rel: str):
        f = super().open(rel)
        self.opened.append(rel)
        return _Counting(f, self)

    open_stream = open


class _Counting:
    def __init__(self, f, owner: CountingSource):
        self._f, self._owner = f, owner

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._owner.bytes_read += len(data)
        return data

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()
