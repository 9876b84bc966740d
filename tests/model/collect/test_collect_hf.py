"""Hugging Face imports keyed by content (hole 3); bad samples named and skipped, linear in the samples (hole 4)."""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from PIL import Image

from model.collect.huggingface import import_hf
from model.data.manifest import read_manifest
from tests.model.collect.helpers import hf_dataset, run_main
from tests.model.collect.fakes.streetview_server import shared_images


@pytest.fixture(scope="module")
def jpegs() -> list[Path]:
    imgs = shared_images()
    if len(imgs) < 12:
        pytest.skip("shared images not available")
    return imgs[:12]


def other_format(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 200, 30)).save(buf, fmt)
    return buf.getvalue()


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


def test_a_sample_that_is_not_jpeg_png_or_webp_is_named_and_skipped(tmp_path, jpegs, capsys):
    imgs = [p.read_bytes() for p in jpegs[:6]]
    imgs[2], imgs[4] = other_format("GIF"), other_format("BMP")
    imgs.append(imgs[0])  # the same image twice
    imgs.append(b"\x00not an image at all")
    src = hf_dataset(tmp_path / "ds", imgs)
    out = tmp_path / "osv"
    code, stdout, err = run_main(["hf", str(src), "--n", "8", "--out", str(out)], capsys)
    assert code == 0, err
    assert "sample 2 (id x2): not JPEG, PNG or WebP (GIF): skipped" in err
    assert "sample 4 (id x4): not JPEG, PNG or WebP (BMP): skipped" in err
    assert "sample 6 (id x6): duplicate image (same bytes as sample 0 (id x0)): skipped" in err
    assert "sample 7 (id x7): not JPEG, PNG or WebP (starts with b'\\x00not'): skipped" in err
    assert "Skipped 4 of 8 samples: 3 x not JPEG, PNG or WebP, 1 x duplicate image." in err and "skipped.csv" in err
    assert "4 images" in stdout
    m = read_manifest(out / "manifest.csv")
    assert list(m["sample_id"]) == ["x0", "x1", "x3", "x5"]
    with open(out / "skipped.csv", newline="") as f:
        assert [r["sample"] for r in csv.DictReader(f)] == ["sample 2 (id x2)", "sample 4 (id x4)",
                                                           "sample 6 (id x6)", "sample 7 (id x7)"]


def test_an_import_lists_the_images_folder_once_not_once_per_sample(tmp_path, jpegs, monkeypatch):
    src = hf_dataset(tmp_path / "ds", [p.read_bytes() for p in jpegs[:10]])
    out = tmp_path / "osv"
    import_hf(str(src), out, n=4)  # some files already there: a resume
    images = str((out / "images").resolve())
    listings = []
    real_scandir, real_glob, real_iterdir = os.scandir, Path.glob, Path.iterdir

    def scandir(path="."):
        if str(Path(os.fspath(path)).resolve()) == images:
            listings.append("scandir")
        return real_scandir(path)

    def glob(self, pattern):
        if str(self.resolve()) == images:
            listings.append("glob")
        return real_glob(self, pattern)

    def iterdir(self):
        if str(self.resolve()) == images:
            listings.append("iterdir")
        return real_iterdir(self)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(Path, "glob", glob)
    monkeypatch.setattr(Path, "iterdir", iterdir)
    df = import_hf(str(src), out, n=10)
    assert len(df) == 10 and len(listings) <= 1, listings


def test_a_torn_image_is_rewritten_on_reimport(tmp_path, jpegs):
    src = hf_dataset(tmp_path / "ds", [p.read_bytes() for p in jpegs[:3]])
    out = tmp_path / "osv"
    m = import_hf(str(src), out, n=3)
    a, b = (out / m["image"][0]), (out / m["image"][1])
    good_a, good_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(good_a[: len(good_a) // 2])             # cut short by a power cut
    b.write_bytes(bytes(len(good_b)))                      # right size, zeros (some file systems)
    import_hf(str(src), out, n=3)
    assert a.read_bytes() == good_a and b.read_bytes() == good_b


def test_a_sample_with_one_coordinate_missing_is_named_and_skipped(tmp_path, jpegs, capsys):
    # one of the pair missing: the manifest reader refuses such a row, and with it the whole import
    lats = [45.0, 45.1, float("nan"), 45.3]
    src = hf_dataset(tmp_path / "ds", [p.read_bytes() for p in jpegs[:4]], lats=lats)
    out = tmp_path / "osv"
    code, stdout, err = run_main(["hf", str(src), "--n", "4", "--out", str(out)], capsys)
    assert code == 0, err
    assert "sample 2 (id x2): unusable coordinates (lat and lon must both be given or both empty): skipped" in err
    m = read_manifest(out / "manifest.csv")
    assert list(m["sample_id"]) == ["x0", "x1", "x3"]
    with open(out / "skipped.csv", newline="") as f:
        assert [r["reason"] for r in csv.DictReader(f)] == ["unusable coordinates"]


def test_a_negative_shuffle_buffer_is_refused(tmp_path, jpegs, capsys):
    # datasets' shuffle(buffer_size=-5) yields the first sample only: '--n 4' imported 1 image, exit 0
    src = hf_dataset(tmp_path / "ds", [p.read_bytes() for p in jpegs[:4]])
    out = tmp_path / "osv"
    code, _, err = run_main(["hf", str(src), "--n", "4", "--shuffle-buffer", "-5", "--out", str(out)], capsys)
    assert code == 2 and "--shuffle-buffer" in err and not out.exists(), err
