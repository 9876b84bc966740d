"""Fixtures for the architecture-zoo tests: offline hubs, empty weight caches, a small real subset."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import model.net.backbones  # noqa: F401  (registers every family)
from model.data.manifest import read_manifest

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "geodata" / "manifest.csv"


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No hub access in any test: transformers/huggingface_hub offline, and downloads fail loudly."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")

    def no_download(*a, **k):
        raise AssertionError(f"a download was attempted: {a[:1]}")

    monkeypatch.setattr("torch.hub.download_url_to_file", no_download)


@pytest.fixture
def empty_caches(tmp_path, monkeypatch) -> Path:
    """Point the torch hub and Hugging Face caches at empty folders."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def tiny_subset() -> pd.DataFrame:
    """~27 real locations (3 countries; train 6 / val 2 / test 1 each), manifest splits kept."""
    if not SHARED.is_file():
        pytest.skip("../shared/geodata is not beside the checkout")
    df = read_manifest(SHARED)
    keep = []
    for cc in ("HR", "US", "JP"):
        for split, n in (("train", 6), ("val", 2), ("test", 1)):
            keep += list(df[(df.country_code == cc) & (df.split == split) & df.lat.notna()]["location_id"].unique()[:n])
    return df[df.location_id.isin(keep)].reset_index(drop=True)
