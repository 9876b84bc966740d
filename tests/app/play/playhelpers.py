"""Helpers for the Play tests: a small synthetic data set made at run time (coloured JPEGs that
carry EXIF GPS, so that leaks can be tested), a fake predictor with training groups, and
synthetic locations for the pure rules."""
from __future__ import annotations

import io
import random
from pathlib import Path

import pandas as pd
from PIL import Image

from app.play.game import Location
from tests.app.apphelpers import FakePredictor

# (country code, country, centre lat, lon, number of test locations): Croatia is dense like the real data.
COUNTRIES = [("HR", "Croatia", 45.1, 15.9, 12), ("FR", "France", 46.5, 2.5, 6), ("US", "United States", 39.5, -100.0, 8),
             ("JP", "Japan", 36.0, 138.0, 4)]
TRAIN_GROUP = "g-HR-00"  # a test group the fake model "trained on": never playable


class PlayPredictor(FakePredictor):
    """The app tests' fake predictor plus ``train_groups`` (like ``model.predict.Predictor``)."""

    train_groups = {TRAIN_GROUP, "g-train-0"}


def gps_jpeg(color: tuple[int, int, int], lat: float, lon: float) -> bytes:
    """A 96x96 JPEG of one colour with the place in its EXIF GPS (what a careless pipeline would leak)."""
    img = Image.new("RGB", (96, 96), color)
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = ("N" if lat >= 0 else "S"), (int(abs(lat)), 0, 0)
    gps[3], gps[4] = ("E" if lon >= 0 else "W"), (int(abs(lon)), 0, 0)
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def make_dataset(root: Path) -> Path:
    """Write images and a manifest under ``root``; returns the manifest path.

    Test locations: 30 with 4 views (group ``g-<cc>-<i>``), the first Croatian one in a training
    group; plus label-only screenshot rows (test split, no coordinates) and a few train rows."""
    rng = random.Random(7)
    rows = []
    (root / "images").mkdir(parents=True, exist_ok=True)

    def add(loc: str, group: str, lat, lon, cc, country, split, views=4, source="gsv_synth"):
        for v in range(views):
            name = f"images/{rng.getrandbits(40):010x}.jpg"
            (root / name).write_bytes(gps_jpeg((rng.randrange(256), rng.randrange(256), 90 * v % 256),
                                               lat if lat != "" else 0.0, lon if lon != "" else 0.0))
            rows.append({"image": name, "location_id": loc, "group_id": group, "source": source, "view": v,
                         "heading": 90 * v if views > 1 else "", "lat": lat, "lon": lon, "country_code": cc,
                         "country": country, "admin1": "", "split": split})

    for cc, country, la, lo, n in COUNTRIES:
        for i in range(n):
            lat, lon = round(la + rng.uniform(-1.5, 1.5), 6), round(lo + rng.uniform(-2, 2), 6)
            add(f"loc-{cc}-{i:02d}", f"g-{cc}-{i:02d}", lat, lon, cc, country, "test")
    for i in range(3):
        add(f"shot-{i}", f"shot-{i}", "", "", "HR", "Croatia", "test", views=1, source="screenshots")
        add(f"train-{i}", f"g-train-{i}", 45.0 + i, 16.0, "HR", "Croatia", "train")
    path = root / "manifest.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def loc(i: int, cc: str = "HR", lat: float = 45.0, lon: float = 16.0, group: str | None = None, views: int = 4) -> Location:
    """A synthetic location for pure-rule tests (no files)."""
    return Location(location_id=f"L{i:03d}", group_id=group or f"G{i:03d}", lat=lat, lon=lon, country_code=cc,
                    country={"HR": "Croatia", "FR": "France", "US": "United States"}.get(cc, cc),
                    paths=tuple(f"/nowhere/{i}_{v}.jpg" for v in range(views)),
                    headings=tuple(float(90 * v) for v in range(views)))
