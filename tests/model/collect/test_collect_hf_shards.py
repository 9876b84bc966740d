"""``python -m model.collect hf NAME --shards``: a streamed Hugging Face data set straight into WebDataset
shards (issue 13, item 3), tested offline on local Parquet and WebDataset data sets in streaming mode."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from model.collect.hf_shards import STATE, hashed_split, import_hf_shards
from model.collect.lock import LOCK_NAME
from model.data.images import open_image
from model.data.manifest import read_manifest
from model.shards import read_table, verify
from tests.model.collect.helpers import REPO, hold_in_subprocess, run_main
from tests.model.collect.fakes.streetview_server import shared_images

N = 30
GIF, JUNK, DUP, PNG, FOREIGN = 5, 13, 21, 9, 17  # stream positions of the special samples


@pytest.fixture(scope="module")
def jpegs() -> list[Path]:
    imgs = shared_images()
    if len(imgs) < N:
        pytest.skip("shared images not available")
    return imgs[:N]


def encoded(fmt: str, color=(10, 200, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buf, fmt)
    return buf.getvalue()


def samples(jpegs: list[Path]) -> list[dict]:
    """30 samples with OSV-5M's columns: JPEGs, one GIF, one non-image, one PNG, one repeat, labels
    given or empty (filled from coordinates), coordinates in Croatia, Slovenia and Austria."""
    rng = np.random.default_rng(3)
    out = []
    for k in range(N):
        img = jpegs[k].read_bytes()
        if k == GIF:
            img = encoded("GIF")
        elif k == JUNK:
            img = b"<html>not an image</html>"
        elif k == PNG:
            img = encoded("PNG", (200, 40, 90))
        elif k == DUP:
            img = jpegs[2].read_bytes()
        place = ((45.81, 15.98, "HR"), (46.05, 14.51, "SI"), (47.07, 15.44, "AT"))[k % 3]
        out.append({"image": {"bytes": img, "path": None}, "id": f"osv{k}",
                    "latitude": place[0] + rng.uniform(-0.2, 0.2), "longitude": place[1] + rng.uniform(-0.2, 0.2),
                    "country": place[2] if k % 4 else "", "region": "Grad Zagreb" if k == 0 else "",
                    "captured_at": f"2019-05-{1 + k % 28:02d}"})
    out[FOREIGN]["country"] = "Narnia"  # not a country: skipped like in the folder import
    return out


def parquet_dataset(root: Path, rows: list[dict], files: int = 3) -> Path:
    """A local Parquet data set in ``files`` files (so a resume can pass over whole files)."""
    import datasets

    feats = datasets.Features({"image": datasets.Image(), "id": datasets.Value("string"),
                               "latitude": datasets.Value("float64"), "longitude": datasets.Value("float64"),
                               "country": datasets.Value("string"), "region": datasets.Value("string"),
                               "captured_at": datasets.Value("string")})
    (root / "data").mkdir(parents=True)
    per = -(-len(rows) // files)
    for f in range(files):
        part = rows[f * per:(f + 1) * per]
        cols = {k: [r[k] for r in part] for k in feats}
        datasets.Dataset.from_dict(cols, features=feats).to_parquet(
            str(root / "data" / f"train-{f:05d}-of-{files:05d}.parquet"))
    return root


@pytest.fixture
def ds(tmp_path, jpegs) -> Path:
    return parquet_dataset(tmp_path / "osv_local", samples(jpegs))


def shards_argv(src: Path, out: Path, *extra: str) -> list[str]:
    return ["hf", str(src), "--shards", "--shard-size", "8", "--split", "0.6,0.2,0.2", "--out", str(out), *extra]


def test_a_stream_goes_straight_into_shards_as_the_folder_import_would_label_it(tmp_path, ds, jpegs, capsys):
    out = tmp_path / "shards"
    code, stdout, err = run_main(shards_argv(ds, out), capsys)
    assert code == 0, err
    assert "Skipped 4 of 30 samples: 2 x not JPEG, PNG or WebP, 1 x label is not a country, " \
           "1 x duplicate image." in err, err
    assert f"sample {GIF} (id osv{GIF}): not JPEG, PNG or WebP (GIF): skipped" in err
    assert f"sample {DUP} (id osv{DUP}): duplicate image (same bytes as sample 2 (id osv2)): skipped" in err
    assert err.count(": skipped") == 4  # each skip named once (not again by the shard writer)
    assert "26 samples in 4 shard(s)" in stdout
    assert not (out / "images").exists() and not (out / "manifest.csv").exists() and not (out / LOCK_NAME).exists()
    assert not (out / STATE).exists()

    t = read_table(out)
    assert len(t) == 26 and sorted(set(t["shard"])) == [f"shard-00000{i}.tar" for i in range(4)]
    assert list(t["sample_id"]) == [f"osv{k}" for k in range(N) if k not in (GIF, JUNK, DUP, FOREIGN)]
    assert set(t["split"]) <= {"train", "val", "test"} and t.groupby("group_id")["split"].nunique().max() == 1
    assert (t["source"] == "osv_local").all() and t["country_code"].isin(["HR", "SI", "AT"]).all()
    assert t.loc[0, "admin1"] == "Grad Zagreb" and (t["admin1"] != "").all() and (t["country"] != "").all()
    assert verify(out) == []

    # the same rows and skips as the folder import of the same stream
    folder = tmp_path / "folder"
    code, _, err2 = run_main(["hf", str(ds), "--n", "30", "--out", str(folder)], capsys)
    assert code == 0, err2
    m = read_manifest(folder / "manifest.csv")
    for c in ("sample_id", "image", "location_id", "country_code", "country", "admin1", "label", "date", "source"):
        assert list(t[c].astype(str)) == list(m[c].astype(str)), c
    assert np.allclose(t[["lat", "lon"]].to_numpy(), m[["lat", "lon"]].to_numpy(), atol=1e-6)
    rows = [list(csv.reader(open(d / "skipped.csv", newline=""))) for d in (out, folder)]
    assert rows[0] == rows[1] and len(rows[0]) == 5

    # pixels: a JPEG is stored as it was; the PNG as a JPEG of the same picture
    k = list(t["sample_id"]).index("osv7")
    assert np.array_equal(np.asarray(open_image(t["path"][k])), np.asarray(open_image(jpegs[7].read_bytes())))
    k = list(t["sample_id"]).index(f"osv{PNG}")
    diff = np.abs(np.asarray(open_image(t["path"][k]), int) - np.asarray(open_image(encoded("PNG", (200, 40, 90))), int))
    assert diff.mean() < 3


def test_max_side_a_split_name_and_worker_processes(tmp_path, ds):
    out = tmp_path / "small"
    r = import_hf_shards(str(ds), out, 10, shard_size=4, max_side=64, manifest_split="test", log=None)
    t = read_table(out)
    assert r.streamed == 10 and len(t) == 9 and (t["split"] == "test").all()  # the GIF skipped
    assert all(max(open_image(p).size) <= 64 for p in t["path"])
    assert json.loads((out / "index.json").read_text())["splits"] == {"test": 9}
    par = tmp_path / "workers"
    import_hf_shards(str(ds), par, 10, shard_size=4, max_side=64, manifest_split="test", workers=2, log=None)
    assert (par / "index.json").read_text().replace(str(par), "") == (out / "index.json").read_text().replace(str(out), "")


@pytest.mark.parametrize("resume", ["stream state", "skip"])
def test_an_interrupted_import_resumes_to_the_same_shards(tmp_path, ds, resume):
    whole = tmp_path / "whole"
    import_hf_shards(str(ds), whole, shard_size=8, manifest_split=(0.6, 0.2, 0.2), log=None)

    cut = tmp_path / "cut"

    def stop_at_27(k: int) -> None:  # a hook that interrupts before stream sample 27 (in the third shard)
        if k == 27:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_hf_shards(str(ds), cut, shard_size=8, manifest_split=(0.6, 0.2, 0.2), progress=stop_at_27, log=None)
    half = json.loads((cut / "index.json").read_text())
    assert not half["complete"] and len(half["shards"]) == 2 and 16 <= half["inputs"] < 27
    assert not (cut / LOCK_NAME).exists()
    if resume == "skip":
        (cut / STATE).unlink()
    seen: list[int] = []
    r = import_hf_shards(str(ds), cut, shard_size=8, manifest_split=(0.6, 0.2, 0.2), progress=seen.append, log=None)
    assert r.resumed_at == half["inputs"] and seen[0] == half["inputs"] + 1 and seen[-1] == N
    assert resume in r.how
    assert (cut / "index.json").read_text() == (whole / "index.json").read_text()
    assert read_table(cut).drop(columns="path").equals(read_table(whole).drop(columns="path"))
    assert (cut / "skipped.csv").read_text() == (whole / "skipped.csv").read_text()  # earlier runs' skips kept
    for e in half["shards"]:
        assert (cut / e["file"]).read_bytes() == (whole / e["file"]).read_bytes()


def test_a_second_import_into_the_folder_is_refused_while_one_runs(tmp_path, ds, capsys):
    out = tmp_path / "busy"
    holder = hold_in_subprocess(out)
    try:
        code, _, err = run_main(shards_argv(ds, out), capsys)
        assert code == 2 and f"pid {holder.pid}" in err and "Only one run may write a folder" in err, err
        assert not (out / "index.json").exists()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert run_main(shards_argv(ds, out, "--n", "8"), capsys)[0] == 0


def test_another_data_set_or_other_settings_are_refused(tmp_path, ds, jpegs, capsys):
    out = tmp_path / "s"
    assert run_main(shards_argv(ds, out, "--n", "12"), capsys)[0] == 0
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir()}
    other = parquet_dataset(tmp_path / "other", samples(jpegs)[:6], files=1)
    for argv, words in ((shards_argv(other, out, "--n", "12"), ["other settings", "dataset was"]),
                        (shards_argv(ds, out, "--n", "12", "--max-side", "64"), ["other settings", "max_side"]),
                        (shards_argv(ds, out, "--n", "20"), ["n was 12, now 20"]),
                        (["hf", str(ds), "--n", "12", "--out", str(out)], ["other settings", "shards was"])):
        code, _, err = run_main(argv, capsys)
        assert code == 2 and all(w in err for w in words), (argv, err)
    code, _, err = run_main(shards_argv(ds, out, "--n", "12"), capsys)  # the same command: nothing to do
    assert code == 0 and "complete: nothing to do" in err
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir()} == before  # untouched
    # an image-folder import is not turned into shards, and `model.shards write` does not add to them
    folder = tmp_path / "folder"
    assert run_main(["hf", str(ds), "--n", "4", "--out", str(folder)], capsys)[0] == 0
    code, _, err = run_main(shards_argv(ds, folder), capsys)
    assert code == 2 and "an hf import into an image folder" in err
    r = subprocess.run([sys.executable, "-m", "model.shards", "write", "--data", str(folder), "--out", str(out)],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "already holds a different data set" in r.stderr
    code, _, err = run_main(["hf", str(ds), "--max-side", "64", "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "--max-side only apply with --shards" in err


def wds_dataset(root: Path, jpegs: list[Path]) -> Path:
    """A local copy of the layout of ``osv5m/osv5m-wds``: ``train/0000.tar``, ... with ``<key>.jpg`` and
    ``<key>.json`` (OSV-5M's metadata columns) per sample."""
    (root / "train").mkdir(parents=True)
    for s in range(2):
        with tarfile.open(root / "train" / f"{s:04d}.tar", "w") as tf:
            for k in range(3 * s, 3 * s + 3):
                meta = {"id": f"{1000 + k}", "latitude": 45.8 + 0.3 * k, "longitude": 15.9 - 0.3 * k,
                        "country": "", "region": "", "sub-region": "", "city": "", "sequence": "q"}
                for ext, data in (("jpg", jpegs[k].read_bytes()), ("json", json.dumps(meta).encode())):
                    info = tarfile.TarInfo(f"{1000 + k}.{ext}")
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
    return root


def test_a_webdataset_with_json_metadata_like_osv5m_wds(tmp_path, jpegs, capsys):
    src = wds_dataset(tmp_path / "osv5m-wds", jpegs)
    out = tmp_path / "wds_shards"
    code, stdout, err = run_main(["hf", str(src), "--hf-split", "train", "--shards", "--shard-size", "4",
                                  "--out", str(out)], capsys)
    assert code == 0, err
    t = read_table(out)
    assert list(t["sample_id"]) == [f"{1000 + k}" for k in range(6)]
    assert np.allclose(t["lat"], [45.8 + 0.3 * k for k in range(6)]) and (t["country_code"] != "").all()
    assert (t["split"] == "").all() and "6 samples in 2 shard(s)" in stdout
    assert verify(out) == []


def test_hashed_split_keeps_groups_together_and_follows_the_fractions():
    groups = [f"g{i}" for i in range(4000)]
    s = hashed_split(groups, (0.8, 0.1, 0.1), seed=1)
    assert s == hashed_split(list(reversed(groups)), (0.8, 0.1, 0.1), seed=1)[::-1]  # order-free
    share = pd.Series(s).value_counts(normalize=True)
    assert abs(share["train"] - 0.8) < 0.03 and abs(share["test"] - 0.1) < 0.03
    assert s != hashed_split(groups, (0.8, 0.1, 0.1), seed=2)
    assert set(hashed_split(groups, (1, 0, 0))) == {"train"}


@pytest.mark.slow
def test_train_and_evaluate_accept_the_shard_folder(tmp_path, ds, capsys):
    out = tmp_path / "shards"
    assert run_main(shards_argv(ds, out, "--split", "0.5,0.25,0.25"), capsys)[0] == 0
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="2")
    for args in (["model.train", "--data", str(out), "--mode", "full", "--device", "cpu", "--workers", "0",
                  "--backbone", "geocnn", "--input-size", "64", "--cells", "country", "--epochs", "1",
                  "--batch-size", "8", "--out", str(tmp_path / "run"), "--no-eval"],
                 ["model.evaluate", "--data", str(out), "--split", "test", "--device", "cpu",
                  "--checkpoint", str(tmp_path / "run" / "model.pt"), "--out", str(tmp_path / "eval")]):
        r = subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, f"{args[0]}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    pred = pd.read_csv(tmp_path / "eval" / "predictions.csv")
    assert len(pred) == int((read_table(out)["split"] == "test").sum()) > 0


def test_a_data_set_read_by_a_loading_script_is_refused_with_the_ways_out(tmp_path, capsys):
    src = tmp_path / "osv5m"  # the official OSV-5M repository's layout: a loading script, CSVs, zips
    (src / "images" / "test").mkdir(parents=True)
    (src / "osv5m.py").write_text("import datasets\n")
    (src / "test.csv").write_text("id,latitude,longitude\n1,45.0,16.0\n")
    out = tmp_path / "o"
    code, _, err = run_main(["hf", str(src), "--hf-split", "test", "--shards", "--out", str(out)], capsys)
    assert code == 2 and "loading script" in err and "osv5m/osv5m-wds" in err and "docs/data.md" in err, err
    assert not out.exists()


def test_the_documented_osv5m_manifest_script_then_model_shards_write(tmp_path, jpegs):
    doc = (REPO / "docs" / "data.md").read_text()
    script = doc.split("<!-- osv5m_manifest.py:", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    root = tmp_path / "datasets" / "osv5m"
    imgs = root / "images" / "test" / "test"  # wherever the zips put them: found by name
    imgs.mkdir(parents=True)
    ids = [str(3859149887465501 + k) for k in range(5)]
    for k, i in enumerate(ids[:4]):  # the fifth image is missing from this copy
        (imgs / f"{i}.jpg").write_bytes(jpegs[k].read_bytes())
    pd.DataFrame({"id": ids, "latitude": [45.81, 46.05, 47.07, 45.33, 48.2], "longitude": [15.98, 14.51, 15.44, 14.44, 16.37],
                  "thumb_original_url": "", "country": ["HR", "SI", "AT", "HR", "AT"], "sequence": ["a", "a", "b", "", "c"],
                  "captured_at": "2019-05-01"}).to_csv(root / "test.csv", index=False)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-c", "\n".join(line[2:] for line in script.splitlines())], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "4 of 5 rows of test.csv have an image" in r.stdout, r.stderr
    r = subprocess.run([sys.executable, "-m", "model.shards", "write", "--data", "datasets/osv5m/manifest_test.csv",
                        "--out", "data/osv5m_test"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    t = read_table(tmp_path / "data" / "osv5m_test")
    assert list(t["location_id"]) == ids[:4] and (t["split"] == "test").all()
    assert list(t["country_code"]) == ["HR", "SI", "AT", "HR"] and list(t["group_id"])[:3] == ["a", "a", "b"]
    assert verify(tmp_path / "data" / "osv5m_test") == []


KILLED_WHILE_OPENING = """
import os, sys
import model.collect.hf_shards as h
real = os.replace
def replace(a, b):  # kill -9 at the moment the new folder's first index is moved in
    if str(b).endswith("index.json") and ".new-" in str(a):
        os._exit(137)
    real(a, b)
h.os.replace = replace
from model.collect.__main__ import main
main(sys.argv[1:])
"""


def test_a_kill_while_the_shard_folder_is_being_opened_still_resumes(tmp_path, ds, capsys):
    out = tmp_path / "s"
    argv = shards_argv(ds, out, "--n", "8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.run([sys.executable, "-c", KILLED_WHILE_OPENING, *argv], cwd=REPO, env=env, capture_output=True,
                       timeout=120)
    assert p.returncode == 137 and any(x.name.startswith(".new-") for x in out.iterdir())
    code, _, err = run_main(argv, capsys)  # was: '--out ... holds .new-xyz but no shard index; choose a new folder'
    assert code == 0, err
    assert not any(x.name.startswith(".new-") for x in out.iterdir())
