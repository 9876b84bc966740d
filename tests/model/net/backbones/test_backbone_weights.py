"""Pretrained weights of the new families come from the local caches exactly (the hub's layout of the
whole model, only the vision tower taken), or the run stops with the command that fetches them."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from conftest import CLIP_TINY, DINO_TINY, SIGLIP_TINY, fake_streetclip, hub_snapshot
from model.net.backbones import BACKBONES, PretrainedWeightsMissing, create_model

from tests.shared import REPO as ROOT


def test_streetclip_loads_the_vision_tower_and_processor_from_the_hub_cache(hf_cache):
    ref = fake_streetclip(hf_cache)
    bb = create_model("streetclip")  # pretrained, local files only
    assert (bb.input_size, bb.resize, bb.interpolation, bb.crop_pct) == (32, "shortest", "bicubic", 0.8)
    assert bb.num_blocks == 2 and bb.feature_dim == 32 and bb.pretrained and bb.backbone_config is None
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():  # the pooler output (post-LayerNorm CLS) of the hub model's own vision tower
        assert torch.allclose(bb(x), ref.vision_model(pixel_values=x).pooler_output, atol=1e-5)


def test_siglip_and_dinov2_load_from_the_hub_cache(hf_cache):
    from transformers import Dinov2Config, Dinov2Model, SiglipConfig, SiglipImageProcessor, SiglipModel

    text = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, vocab_size=100)
    sig = SiglipModel(SiglipConfig(vision_config=SIGLIP_TINY, text_config=text)).eval()
    snap = hub_snapshot(hf_cache, "google/siglip-base-patch16-224")
    sig.save_pretrained(snap)
    SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(snap)
    dino = Dinov2Model(Dinov2Config(**DINO_TINY)).eval()
    dino.save_pretrained(hub_snapshot(hf_cache, "facebook/dinov2-small"))  # weights only, no processor config
    bb_s, bb_d = create_model("siglip_vitb16_224"), create_model("dinov2_vits14")
    assert (bb_s.input_size, bb_s.resize) == (32, "squash")
    assert (bb_d.input_size, bb_d.crop_pct, bb_d.interpolation) == (224, 0.875, "bicubic")  # the published values
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(bb_s(x), sig.vision_model(pixel_values=x).pooler_output, atol=1e-5)
        x = torch.randn(2, 3, 28, 28)
        assert torch.allclose(bb_d(x), dino(pixel_values=x).pooler_output, atol=1e-5)


def test_a_checkpoint_of_another_architecture_is_refused_not_started_randomly(hf_cache):
    from transformers import ViTConfig, ViTModel

    ViTModel(ViTConfig(**CLIP_TINY)).save_pretrained(hub_snapshot(hf_cache, "openai/clip-vit-base-patch32"))
    with pytest.raises(ValueError, match="does not hold the weights of a CLIPVisionModel"):
        create_model("clip_vit_b32")


def test_timm_weights_from_the_hub_cache(hf_cache):
    import timm
    from safetensors.torch import save_file

    ref = timm.create_model("test_vit", pretrained=False).eval()
    snap = hub_snapshot(hf_cache, "timm/test_vit.r160_in1k")  # timm's default tag of test_vit
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(snap / "model.safetensors"))
    bb = create_model("timm:test_vit")
    assert torch.equal(bb.model.patch_embed.proj.weight, ref.patch_embed.proj.weight)
    assert (bb.input_size, bb.crop_pct, bb.interpolation) == (160, 0.95, "bicubic")  # timm's data config


@pytest.mark.parametrize("name,fetch", [
    ("streetclip", "hf download geolocal/StreetCLIP"),
    ("clip_vit_l14_336", 'hf download openai/clip-vit-large-patch14-336 --include "*.json" "*.txt" "model.safetensors"'),
    ("dinov2_vitl14", 'hf download facebook/dinov2-large --include "*.json" "model.safetensors"'),
    ("siglip_vitb16_224", "hf download google/siglip-base-patch16-224"),
    ("timm:convnext_tiny.fb_in22k", "hf download timm/convnext_tiny.fb_in22k model.safetensors"),
])
def test_missing_weights_name_the_fetch_command(hf_cache, name, fetch):
    with pytest.raises(PretrainedWeightsMissing) as e:
        create_model(name)
    msg = str(e.value)
    assert fetch in msg and str(hf_cache) in msg and "--no-pretrained" in msg and "GEOLOC_DOWNLOAD_WEIGHTS=1" in msg


def test_train_cli_without_streetclip_weights_stops_with_the_fetch_command(tmp_path, few_images):
    """`python -m model.train --backbone streetclip` with an empty, offline HF cache: exits non-zero with
    the command that fetches the weights, and writes no model (never a silent random start)."""
    env = dict(os.environ, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    env.pop("HF_HUB_CACHE", None)
    env.pop("GEOLOC_DOWNLOAD_WEIGHTS", None)
    r = subprocess.run([sys.executable, "-m", "model.train", "--data", str(few_images), "--out", str(tmp_path / "run"),
                        "--backbone", "streetclip", "--cache", "", "--no-gallery", "--no-eval"],
                       capture_output=True, text=True, timeout=180, cwd=ROOT, env=env)
    assert r.returncode != 0
    assert "PretrainedWeightsMissing" in r.stderr and "hf download geolocal/StreetCLIP" in r.stderr
    assert not (tmp_path / "run" / "model.pt").exists()


def test_backbone_argument_is_checked_by_the_registry(capsys):
    from model.train import parse_args

    assert parse_args(["--backbone", "timm:convnext_tiny"]).backbone == "timm:convnext_tiny"
    assert parse_args(["--backbone", "dinov2_vitb14"]).backbone == "dinov2_vitb14"
    for bad in ("streetclip2", "timm:no_such_model_xyz"):
        with pytest.raises(SystemExit):
            parse_args(["--backbone", bad])
        err = capsys.readouterr().err
        assert bad.split(":")[-1] in err
    with pytest.raises(SystemExit):
        parse_args(["--backbone", "nope"])
    err = capsys.readouterr().err
    assert "streetclip" in err and "siglip_vitb16_224" in err and "timm:<model name>" in err
    assert parse_args(["--backbone-config", '{"num_hidden_layers": 2}']).backbone_config == {"num_hidden_layers": 2}
    for bad in ("[1, 2]", "{num_hidden_layers: 2}"):
        with pytest.raises(SystemExit):
            parse_args(["--backbone-config", bad])
    assert "--backbone-config" in capsys.readouterr().err


def test_backbone_config_needs_random_weights():
    with pytest.raises(ValueError, match="--no-pretrained"):
        create_model("streetclip", pretrained=True, config={"num_hidden_layers": 2})


def test_every_entry_of_the_field_is_registered():
    field = {"streetclip", "clip_vit_b32", "clip_vit_l14", "clip_vit_l14_336", "dinov2_vits14", "dinov2_vitb14",
             "dinov2_vitl14", "siglip_vitb16_224"}
    assert field <= set(BACKBONES)
    for n in field:
        spec = BACKBONES[n]
        assert spec.weights and spec.fetch.startswith("hf download ") and spec.library.startswith("transformers")
