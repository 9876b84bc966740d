"""The tiny end-to-end run as a new user types it: shards from a manifest, then training and evaluation
on the shard folder with --device cpu --precision bf16 --workers 2 (three separate commands)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from model.data.manifest import write_manifest

pytestmark = pytest.mark.slow
from tests.shared import REPO as ROOT


def run(*args: str, cwd: Path) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="2")
    r = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env)
    assert r.returncode == 0, f"{' '.join(args)}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r.stdout


def test_shards_then_train_then_evaluate(shared_manifest, tmp_path):
    df = shared_manifest
    keep = []
    for cc in ("HR", "US", "JP"):
        for split, k in (("train", 6), ("val", 2), ("test", 2)):
            keep += list(df[(df.country_code == cc) & (df.split == split) & df.lat.notna()]["location_id"].unique()[:k])
    sub = df[df.location_id.isin(keep)]
    write_manifest(sub.assign(image=sub["path"]), tmp_path / "M.csv")
    run("model.shards", "write", "--data", "M.csv", "--out", "shards", "--shard-size", "16", cwd=tmp_path)
    run("model.train", "--data", "shards", "--mode", "full", "--device", "cpu", "--precision", "bf16", "--workers", "2",
        "--backbone", "geocnn", "--input-size", "64", "--cells", "country", "--epochs", "2", "--batch-size", "16",
        "--out", "runs/tiny", "--no-eval", cwd=tmp_path)
    out = run("model.evaluate", "--data", "shards", "--split", "test", "--device", "cpu", "--workers", "2",
              "--checkpoint", "runs/tiny/model.pt", "--out", "runs/tiny/eval", cwd=tmp_path)
    shown = json.loads(out[: out.rindex("}") + 1])
    n_test_locs = sub[sub.split == "test"].location_id.nunique()
    assert shown["n"] == n_test_locs and 0 <= shown["country_top1"] <= 1
    pred = pd.read_csv(tmp_path / "runs/tiny/eval/predictions.csv")
    assert len(pred) == int((sub.split == "test").sum()) and set(pred["split"]) == {"test"}
    assert set(pred["image"]) == set(sub.loc[sub.split == "test", "path"])  # the samples' own manifest columns
    hist = json.loads((tmp_path / "runs/tiny/metrics.json").read_text())["epochs"]
    assert len(hist) == 2 and hist[0]["train_images"] == int((sub.split == "train").sum())
    assert any((tmp_path / "runs/tiny/tb").glob("events.out.tfevents.*"))
