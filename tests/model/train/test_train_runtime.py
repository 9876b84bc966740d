"""Training on the DataLoader pipeline in bf16 on the CPU: --mode full and --mode finetune (cached and
streamed through the frozen trunk), TensorBoard logs read back, and the checkpoints predict."""
from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
import torch

from model.data.manifest import write_manifest
from model.predict import Predictor
from model.train import main as train_main

pytestmark = pytest.mark.slow
COMMON = ["--cells", "country", "--batch-size", "16", "--precision", "bf16", "--device", "cpu", "--patience", "5",
          "--no-eval"]


def tiny_manifest(df: pd.DataFrame, n: tuple[int, int, int] = (6, 2, 2)) -> pd.DataFrame:
    """About 60 real images: 3 countries x (train, val, test) locations, the manifest's splits kept."""
    keep = []
    for cc in ("HR", "US", "JP"):
        for split, k in zip(("train", "val", "test"), n):
            keep += list(df[(df.country_code == cc) & (df.split == split) & df.lat.notna()]["location_id"].unique()[:k])
    sub = df[df.location_id.isin(keep)].reset_index(drop=True)
    return sub.assign(image=sub["path"])


@pytest.fixture(scope="module")
def data(shared_manifest, tmp_path_factory):
    d = tmp_path_factory.mktemp("rt")
    m = tiny_manifest(shared_manifest)
    bad = d / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    extra = m[m.split == "train"].iloc[[0]].assign(image=str(bad), location_id="broken", group_id="broken")
    return d, write_manifest(pd.concat([m, extra], ignore_index=True), d / "manifest.csv"), bad


def test_full_mode_in_bf16_trains_logs_and_predicts(data, shared_manifest, caplog):
    d, man, bad = data
    out = d / "full"
    with caplog.at_level(logging.WARNING):
        res = train_main(["--data", str(man), "--out", str(out), "--backbone", "geocnn", "--mode", "full",
                          "--input-size", "64", "--epochs", "3", "--workers", "2", "--lr", "3e-3", *COMMON])
    hist = res["epochs"]
    assert len(hist) == 3 and hist[-1]["train"]["loss"] < hist[0]["train"]["loss"]  # it learns, in bf16
    n_train = int((pd.read_csv(man).split == "train").sum()) - 1  # the broken image is skipped
    assert all(h["train_images"] == n_train and h["train_images_per_s"] > 0 for h in hist)
    assert set(hist[0]["val_metrics"]) == {"n", "country_top1", "cell_top1", "median_km", "geoscore_mean", "acc_750km"}
    assert 0 <= hist[0]["val_metrics"]["country_top1"] <= 1 and hist[0]["val_metrics"]["n"] > 0
    assert sum(str(bad) in r.getMessage() for r in caplog.records) == 1  # named once over 3 epochs
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["precision"] == "bf16" and cfg["workers"] == 2
    # TensorBoard: the expected scalars, one point per epoch
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(out / "tb"))
    ea.Reload()
    tags = set(ea.Tags()["scalars"])
    assert {"loss/train", "loss/val", "loss_cls/train", "loss_reg/val", "lr/group0", "val/country_top1",
            "val/median_km", "speed/train_images_per_s", "time/epoch_s"} <= tags
    assert [e.step for e in ea.Scalars("loss/train")] == [1, 2, 3]
    assert ea.Scalars("loss/train")[0].value == pytest.approx(hist[0]["train"]["loss"], rel=1e-5)
    # the checkpoint is device-independent float32 and predicts
    ck = torch.load(out / "model.pt", map_location="cpu", weights_only=True)
    assert all(v.device.type == "cpu" and v.dtype in (torch.float32, torch.int64)
               for v in list(ck["head_state"].values()) + list(ck["backbone_state"].values()))
    p = Predictor.load(out / "model.pt", device="cpu", precision="bf16")
    pred = p.predict(shared_manifest["path"].iloc[0])
    assert abs(sum(pred.cell_probs) - 1) < 1e-5 and pred.country_code in {"HR", "US", "JP"}


@pytest.mark.parametrize("streamed", [False, True])
def test_finetune_in_bf16_cached_or_through_the_frozen_trunk(data, shared_manifest, streamed):
    d, man, _ = data
    out, cache = d / f"ft{int(streamed)}", d / f"cache{int(streamed)}"
    args = ["--data", str(man), "--out", str(out), "--backbone", "efficientnet_lite0", "--mode", "finetune",
            "--finetune-blocks", "2", "--aug-rounds", "0", "--input-size", "64", "--epochs", "2", "--workers", "0",
            "--cache", str(cache), *COMMON]
    res = train_main(args + (["--no-cache"] if streamed else []))
    assert len(res["epochs"]) == 2 and np.isfinite(res["epochs"][-1]["train"]["loss"])
    files = sorted(p.name for p in cache.rglob("*.npy"))
    if streamed:
        assert files == []  # nothing of the trunk was kept, neither for training nor for the gallery
    else:
        assert any(f.startswith("clean-") for f in files) and all("bf16" in p.parent.name for p in cache.rglob("*.npy"))
    ck = torch.load(out / "model.pt", map_location="cpu", weights_only=True)
    assert ck["config"]["mode"] == "finetune" and ck["backbone_state"]  # the fine-tuned tail is stored
    pred = Predictor.load(out / "model.pt", device="cpu").predict(shared_manifest["path"].iloc[1])
    assert np.isfinite(pred.lat) and pred.refined
