"""Fixtures for the backbone-family tests: offline hubs, empty or hand-filled weight caches, tiny
configurations of every family, and a handful of real shared images as a manifest."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from model.data.manifest import read_manifest

from tests.shared import SHARED_MANIFEST as SHARED

# Tiny random architectures (a few thousand parameters) of each family: the same loading code as the
# full models, built with --no-pretrained --backbone-config.
CLIP_TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=32,
                 patch_size=8)
SIGLIP_TINY = dict(CLIP_TINY)
DINO_TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, image_size=28, patch_size=7)
VIT_TINY = dict(CLIP_TINY)
TIMM_VIT_TINY = {"img_size": 64}  # timm's own 'test_vit' (6 blocks, 64-d) at 64 px


@pytest.fixture
def hf_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face hub cache (``$HF_HOME/hub``) and torch hub cache; returns the hub folder."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    return tmp_path / "hf" / "hub"


def hub_snapshot(hub: Path, repo: str) -> Path:
    """The snapshot folder of ``repo`` in a hub cache laid out as ``huggingface_hub`` writes it."""
    base = hub / ("models--" + repo.replace("/", "--"))
    snap = base / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    (base / "refs").mkdir(exist_ok=True)
    (base / "refs" / "main").write_text("0" * 40)
    return snap


def fake_streetclip(hub: Path):
    """geolocal/StreetCLIP as the hub holds it (a whole CLIP model: text + vision tower, and its image
    processor), tiny: vision 32-d, 2 layers, 32 px input from a 40 px short side, bicubic."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    text = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, vocab_size=100,
                bos_token_id=0, eos_token_id=1, pad_token_id=1)
    ref = CLIPModel(CLIPConfig(vision_config=CLIP_TINY, text_config=text, projection_dim=16)).eval()
    snap = hub_snapshot(hub, "geolocal/StreetCLIP")
    ref.save_pretrained(snap)
    CLIPImageProcessor(size={"shortest_edge": 40}, crop_size={"height": 32, "width": 32}, resample=3).save_pretrained(snap)
    return ref


@pytest.fixture(scope="session")
def few_images(tmp_path_factory) -> Path:
    """A manifest of 15 real shared images: one view of 5 places in each of HR, US, JP (train 3,
    val 1, test 1 per country), the manifest's own splits."""
    if not SHARED.is_file():
        pytest.skip("../shared/geodata is not beside the checkout")
    df = read_manifest(SHARED)
    rows = []
    for cc in ("HR", "US", "JP"):
        for split, n in (("train", 3), ("val", 1), ("test", 1)):
            sub = df[(df.country_code == cc) & (df.split == split) & df.lat.notna()]
            for loc in sub["location_id"].unique()[:n]:
                rows.append(sub[sub.location_id == loc].iloc[0])
    from model.data.manifest import write_manifest

    m = pd.DataFrame(rows).reset_index(drop=True)
    m["image"] = m["path"]
    return write_manifest(m, tmp_path_factory.mktemp("few") / "manifest.csv")
