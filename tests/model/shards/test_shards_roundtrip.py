"""Write -> read round trip on real images: same rows, same columns, same decoded pixels."""
from __future__ import annotations

import json
import tarfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from model.data.images import ImageLoadError, open_image
from model.data.manifest import read_manifest, resolve_manifest
from model.shards import ShardError, info, is_shard_dir, load_index, open_sample, read_table, write_manifest_shards
from model.shards.__main__ import main
from model.data.splits import ensure_split


def test_table_has_every_manifest_row_and_column(manifest, shard_dir):
    src, tab = read_manifest(manifest), read_table(shard_dir)
    assert is_shard_dir(shard_dir) and not is_shard_dir(manifest.parent)
    assert len(tab) == len(src) == 42
    for c in src.columns.drop("path"):  # every normalised column, the extra one included, same values/dtype
        pd.testing.assert_series_equal(tab[c], src[c], check_names=True)
    assert tab["row"].tolist() == list(range(42)) and tab["source_row"].tolist() == list(range(42))
    assert tab["key"].is_unique and tab["path"].is_unique
    assert tab["path"][9] == f"{shard_dir.resolve()}/shard-000001.tar#000000009"
    assert tab.groupby("shard").size().tolist() == [8, 8, 8, 8, 8, 2]


def test_index_counts_and_checksums(shard_dir):
    ix = load_index(shard_dir)
    tab = read_table(shard_dir)
    assert ix["samples"] == 42 and ix["inputs"] == 42 and ix["skipped"] == 0
    assert ix["splits"] == {k: v for k, v in tab["split"].value_counts().items()}
    for e in ix["shards"]:
        part = tab[tab["shard"] == e["file"]]
        assert e["samples"] == len(part) and e["first_row"] == part["row"].iloc[0]
        assert e["splits"] == {k: v for k, v in part["split"].value_counts().items()}
        assert e["bytes"] == (shard_dir / e["file"]).stat().st_size
    assert ix["bytes"] == sum((shard_dir / e["file"]).stat().st_size for e in ix["shards"])


def test_pixels_and_bytes_are_the_originals(manifest, shard_dir):
    src, tab = read_manifest(manifest), read_table(shard_dir)
    for i in range(0, 42, 5):
        a = np.asarray(open_sample(tab["path"][i]))
        assert np.array_equal(a, np.asarray(open_image(src["path"][i])))
        assert np.array_equal(a, np.asarray(open_image(tab["path"][i])))  # open_image delegates '.tar#' paths
    with tarfile.open(shard_dir / "shard-000002.tar") as tf:
        names = tf.getnames()
        assert names[:2] == ["000000016.jpg", "000000016.json"]
        assert tf.extractfile("000000017.jpg").read() == open(src["path"][17], "rb").read()  # JPEG kept as is
        meta = json.loads(tf.extractfile("000000017.json").read())
    assert meta["row"] == 17 and meta["photographer"] == src["photographer"][17] and meta["split"] == src["split"][17]
    assert set(meta) == set(src.columns.drop("path")) | {"row", "source_row"}


def test_read_manifest_and_splits_work_on_a_shard_folder(shard_dir):
    assert resolve_manifest(shard_dir) == shard_dir.resolve()
    df = read_manifest(shard_dir)
    pd.testing.assert_frame_equal(df, read_table(shard_dir))
    split = ensure_split(df)
    assert split["split"].tolist() == df["split"].tolist()  # given splits are kept, no re-split


def test_env_var_may_name_a_shard_folder(shard_dir, monkeypatch):
    monkeypatch.setenv("GEOLOC_DATA", str(shard_dir))
    assert len(read_manifest(None)) == 42


def test_open_sample_names_what_is_wrong(shard_dir):
    with pytest.raises(ImageLoadError, match="no such sample"):
        open_sample(f"{shard_dir}/shard-000000.tar#000000009")  # row 9 lives in shard 1
    with pytest.raises(ImageLoadError, match="no shard folder"):
        open_image(f"{shard_dir}/missing/shard-000000.tar#000000001")


def test_max_side_resizes_and_re_encodes(manifest, tmp_path):
    out = tmp_path / "small"
    assert main(["write", "--data", str(manifest), "--out", str(out), "--shard-size", "20", "--max-side", "128"]) == 0
    src, tab = read_manifest(manifest), read_table(out)
    for i in (0, 20, 41):
        small, big = open_sample(tab["path"][i]), open_image(src["path"][i])
        assert max(small.size) == 128 and min(small.size) == round(min(big.size) * 128 / max(big.size))
        ref = np.asarray(big.resize(small.size, Image.Resampling.LANCZOS), np.float32)
        err = np.abs(np.asarray(small, np.float32) - ref).mean()
        assert err < 5 < np.abs(np.asarray(small, np.float32) - ref[::-1]).mean()  # same picture, JPEG loss only
    assert load_index(out)["settings"]["max_side"] == 128


def test_non_jpeg_is_re_encoded_and_bad_images_are_skipped_by_name(manifest, tmp_path, caplog):
    df = pd.read_csv(manifest, dtype=str, keep_default_na=False).head(6)
    Image.open(df["image"][1]).convert("RGBA").save(tmp_path / "one.png")
    (tmp_path / "broken.jpg").write_bytes(open(df["image"][2], "rb").read()[:300])
    df.loc[1, "image"], df.loc[2, "image"], df.loc[3, "image"] = "one.png", "broken.jpg", "gone.jpg"
    df.to_csv(tmp_path / "m.csv", index=False)
    ix = write_manifest_shards(tmp_path / "m.csv", tmp_path / "out", shard_size=2, progress=False)
    assert ix["samples"] == 4 and ix["skipped"] == 2 and ix["inputs"] == 6
    assert [s["input"] for s in ix["skipped_samples"]] == [2, 3]
    assert "broken.jpg" in ix["skipped_samples"][0]["reason"] and "gone.jpg: file not found" in caplog.text
    tab = read_table(tmp_path / "out")
    assert tab["source_row"].tolist() == [0, 1, 4, 5] and tab["row"].tolist() == [0, 1, 2, 3]
    png = np.asarray(open_sample(tab["path"][1]), np.float32)
    assert np.abs(png - np.asarray(open_image(tmp_path / "one.png"), np.float32)).mean() < 2
    assert "skipped while writing: 2" in info(tmp_path / "out")


def test_reserved_column_is_refused(manifest, tmp_path):
    df = pd.read_csv(manifest, dtype=str, keep_default_na=False).head(3)
    df["row"] = "x"
    df.to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(ShardError, match="reserved"):
        write_manifest_shards(tmp_path / "m.csv", tmp_path / "out", progress=False)
