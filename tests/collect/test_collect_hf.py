"""Hugging Face imports keyed by content (hole 3)."""
from __future__ import annotations

from pathlib import Path

import pytest

from model.collect.huggingface import import_hf
from model.manifest import read_manifest
from tests.collect.helpers import hf_dataset
from tests.fakes.streetview_server import shared_images


@pytest.fixture(scope="module")
def jpegs() -> list[Path]:
    imgs = shared_images()
    if len(imgs) < 12:
        pytest.skip("shared images not available")
    return imgs[:12]


def test_a_reimport_in_another_order_never_pairs_old_images_with_new_labels(tmp_path, jpegs):
    # no id column: the old importer keyed images by stream position
    lats = [40.0 + k for k in range(10)]
    src = hf_dataset(tmp_path / "ds", [p.read_bytes() for p in jpegs[:10]], ids=False, lats=lats)
    truth = {lat: p.read_bytes() for lat, p in zip(lats, jpegs)}
    out = tmp_path / "osv"
    orders = []
    for buffer in (0, 100):  # the same folder: the stream in order, then shuffled
        df = import_hf(str(src), out, n=6, shuffle_buffer=buffer, seed=2)
        orders.append(list(df["lat"]))
        m = read_manifest(out / "manifest.csv")
        assert len(m) == 6
        for lat, path in zip(m["lat"], m["path"]):
            assert Path(path).read_bytes() == truth[round(lat, 6)], f"image of another sample at lat {lat}"
        assert m["location_id"].is_unique and m["image"].is_unique
    assert orders[0] != orders[1]  # the shuffles really differ
    on_disk = sorted(p.name for p in (out / "images").iterdir())
    assert len(on_disk) == len(set(orders[0]) | set(orders[1]))  # one file per distinct image, reused across runs
