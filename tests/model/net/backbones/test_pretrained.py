"""Pretrained weights: read from the libraries' caches offline, or a clear error, never a download or random weights."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from model.net.backbones import PretrainedWeightsMissing, create_model
from model.net.backbones.hf_vit import VIT_ID
from model.net.backbones.torchvision_zoo import torch_hub_file

from tests.shared import REPO as ROOT


@pytest.mark.parametrize("name,file", [("resnet34", "resnet34-b627a593.pth"),
                                       ("resnet50", "resnet50-11ad3fa6.pth"),
                                       ("resnet101", "resnet101-cd907fc2.pth"),
                                       ("resnet152", "resnet152-f82ba261.pth"), ("alexnet", "alexnet-owt-7be5be79.pth")])
def test_torchvision_weights_missing_is_a_clear_error(empty_caches, name, file):
    with pytest.raises(PretrainedWeightsMissing) as e:
        create_model(name, pretrained=True)
    msg = str(e.value)
    assert file in msg and str(empty_caches / "torch") in msg and "--no-pretrained" in msg
    assert f"torchvision.models.{name}(weights='DEFAULT')" in msg


def test_torchvision_weights_load_from_the_hub_cache(empty_caches):
    """A file at torchvision's cache path is what gets loaded (no download, no random init)."""
    import torchvision

    ref = torchvision.models.resnet34(weights=None)
    with torch.no_grad():
        ref.conv1.weight.fill_(0.125)
    path = torch_hub_file(torchvision.models.ResNet34_Weights.DEFAULT)
    assert path.parent == empty_caches / "torch" / "hub" / "checkpoints"
    path.parent.mkdir(parents=True)
    torch.save(ref.state_dict(), path)
    bb = create_model("resnet34", pretrained=True)
    assert torch.equal(bb.stem[0].weight, ref.conv1.weight)
    assert torch.equal(bb.blocks[-1].conv2.weight, ref.layer4[-1].conv2.weight)


def test_vit_weights_missing_is_a_clear_error(empty_caches):
    with pytest.raises(PretrainedWeightsMissing) as e:
        create_model("vit_b16_in21k", pretrained=True)
    msg = str(e.value)
    assert VIT_ID in msg and f"hf download {VIT_ID}" in msg and str(empty_caches / "hf") in msg
    assert "--no-pretrained" in msg


def test_vit_weights_load_from_the_hf_cache(empty_caches):
    """A model in the Hugging Face hub-cache layout under $HF_HOME is loaded with local_files_only."""
    from transformers import ViTConfig, ViTModel

    cfg = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    ref = ViTModel(cfg, add_pooling_layer=True)
    repo = empty_caches / "hf" / "hub" / ("models--" + VIT_ID.replace("/", "--"))
    snap = repo / "snapshots" / ("0" * 40)
    ref.save_pretrained(snap)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    bb = create_model("vit_b16_in21k", pretrained=True)
    assert bb.feature_dim == 32 and bb.num_blocks == 2
    sd = {k: v for k, v in bb.state_dict().items() if k.endswith("patch_embeddings.projection.weight")}
    assert len(sd) == 1 and torch.equal(next(iter(sd.values())), ref.embeddings.patch_embeddings.projection.weight)


def test_no_pretrained_builds_the_reference_config():
    bb = create_model("vit_b16_in21k", pretrained=False)
    assert bb.feature_dim == 768 and bb.num_blocks == 12
    assert sum(p.numel() for p in bb.parameters()) == pytest.approx(85.8e6, rel=0.01)  # ViT-B/16 minus pooler


def test_train_cli_stops_with_the_message(tmp_path, tiny_subset):
    """`python -m model.train --backbone resnet50` without cached weights exits with the message, writes no model."""
    from model.data.manifest import write_manifest

    m = tiny_subset.copy()
    m["image"] = m["path"]
    man = write_manifest(m, tmp_path / "m.csv")
    env = dict(os.environ, TORCH_HOME=str(tmp_path / "torch"), HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    code = "import sys, model.train as t; t.main(sys.argv[1:])"
    r = subprocess.run([sys.executable, "-c", code, "--data", str(man), "--out", str(tmp_path / "run"),
                        "--backbone", "resnet50", "--mode", "frozen", "--cache", ""],
                       capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert r.returncode != 0
    assert "PretrainedWeightsMissing" in r.stderr and "resnet50-11ad3fa6.pth" in r.stderr
    assert not (tmp_path / "run" / "model.pt").exists()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["pretrained"] is True
