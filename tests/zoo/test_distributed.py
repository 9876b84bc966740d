"""Two processes with torchrun (gloo, CPU) give the single-process result up to numerical noise."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from model.manifest import write_manifest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _run(cmd: list[str], out: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    (out.parent / f"{out.name}.log").write_text(r.stdout + r.stderr)
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_subset):
    d = tmp_path_factory.mktemp("ddp")
    m = tiny_subset.copy()
    m["image"] = m["path"]
    man = write_manifest(m, d / "manifest.csv")
    # frozen pretrained features + one augmented round (sharded extraction with replayed augmentation),
    # no dropout (masks are per process), global batches of 7 (36 = 5*7 + 1): uneven 3/4 slices, one empty
    args = ["--data", str(man), "--backbone", "efficientnet_lite0", "--mode", "frozen", "--aug-rounds", "1",
            "--epochs", "3", "--batch-size", "7", "--dropout", "0", "--patience", "5", "--min-cell", "3",
            "--max-cell", "6", "--no-eval", "--threads", "1"]
    _run([sys.executable, "-m", "model.train", *args, "--out", str(d / "single"), "--cache", str(d / "c1")],
         d / "single")
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
          "-m", "model.train", *args, "--out", str(d / "ddp"), "--cache", str(d / "c2")], d / "ddp")
    return d


def test_sharded_extraction_writes_the_same_cache(runs):
    # (the pooled-vector caches beside them are written when the maps come from disk: not compared)
    c1 = sorted(p.relative_to(runs / "c1") for p in (runs / "c1").rglob("*.npy") if ".pooled" not in p.name)
    c2 = sorted(p.relative_to(runs / "c2") for p in (runs / "c2").rglob("*.npy") if ".pooled" not in p.name)
    assert c1 == c2 and any("aug1" in str(p) for p in c1) and any("clean" in str(p) for p in c1)
    for p in c1:
        a, b = np.load(runs / "c1" / p), np.load(runs / "c2" / p)
        assert a.shape == b.shape and a.any()
        assert np.allclose(a.astype(np.float32), b.astype(np.float32), rtol=1e-2, atol=1e-2), p


def test_two_processes_train_like_one(runs):
    s = torch.load(runs / "single" / "model.pt", weights_only=True)
    p = torch.load(runs / "ddp" / "model.pt", weights_only=True)
    assert s["cells"] == p["cells"] and s["head"] == p["head"]
    for k, v in s["head_state"].items():
        assert torch.allclose(v, p["head_state"][k], rtol=1e-3, atol=1e-4), k
    hs = json.loads((runs / "single" / "metrics.json").read_text())["epochs"]
    hp = json.loads((runs / "ddp" / "metrics.json").read_text())["epochs"]
    assert len(hs) == len(hp) == 3
    for a, b in zip(hs, hp):
        for part in ("train", "val"):
            assert a[part]["loss"] == pytest.approx(b[part]["loss"], rel=1e-4), (a["epoch"], part)
    assert hs[-1]["train"]["loss"] < hs[0]["train"]["loss"]  # and it learned something


def test_only_rank_zero_writes(runs):
    assert sorted(x.name for x in (runs / "ddp").iterdir()) == sorted(x.name for x in (runs / "single").iterdir())
    log = (runs / "ddp.log").read_text()
    assert log.count("saved ") == 1


def test_two_processes_stream_shards_each_training_sample_once_per_epoch(tmp_path, tiny_subset, monkeypatch):
    """torchrun, 2 processes (gloo) x 1 loader worker on a shard folder: the rows the ranks trained on,
    recorded with $GEOLOC_RECORD_ROWS, are together the training split, each once, in every epoch."""
    from model.shards import read_table

    m = tiny_subset.copy()
    m["image"] = m["path"]
    man = write_manifest(m, tmp_path / "manifest.csv")
    shards = tmp_path / "shards"
    _run([sys.executable, "-m", "model.shards", "write", "--data", str(man), "--out", str(shards),
          "--shard-size", "5"], tmp_path / "write")
    out = tmp_path / "ddp"
    env_cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "model.train", "--data", str(shards), "--backbone", "geocnn", "--mode", "full",
               "--input-size", "48", "--epochs", "2", "--patience", "5", "--batch-size", "8", "--cells", "country",
               "--workers", "1", "--device", "cpu", "--no-eval", "--no-gallery", "--threads", "1", "--out", str(out)]
    monkeypatch.setenv("GEOLOC_RECORD_ROWS", "1")  # the training loop's debug hook (model/train_loop.py)
    _run(env_cmd, tmp_path / "ddp")
    table = read_table(shards)
    train = sorted(table.loc[table.split == "train", "row"].tolist())
    assert len(train) > 10
    for ep in (1, 2):
        parts = [np.load(out / "consumed_rows" / f"epoch{ep}-rank{r}.npy").tolist() for r in (0, 1)]
        assert all(parts), "both ranks trained"
        seen = parts[0] + parts[1]
        assert sorted(seen) == train and len(set(seen)) == len(seen), ep
    hist = json.loads((out / "metrics.json").read_text())["epochs"]
    assert len(hist) == 2 and all(h["train_images"] == len(train) for h in hist)
    assert (out / "model.pt").is_file() and (out / "tb").is_dir()
