"""Fixtures of the model tests: small subsets of the shared set (``shared_manifest`` is the root
conftest's) and empty weight caches."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from model.data.manifest import read_manifest

from tests.shared import SHARED_MANIFEST, require_shared



@pytest.fixture(scope="session")
def small_subset(shared_manifest) -> pd.DataFrame:
    """~60 real locations from a few countries, keeping the manifest's splits (groups intact)."""
    df = shared_manifest
    keep = []
    for cc in ("HR", "US", "JP", "BR", "RU"):
        for split, n in (("train", 8), ("val", 2), ("test", 2)):
            locs = df[(df.country_code == cc) & (df.split == split) & df.lat.notna()]["location_id"].unique()[:n]
            keep += list(locs)
    sub = df[df.location_id.isin(keep)].reset_index(drop=True)
    return sub


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
    require_shared()
    df = read_manifest(SHARED_MANIFEST)
    keep = []
    for cc in ("HR", "US", "JP"):
        for split, n in (("train", 6), ("val", 2), ("test", 1)):
            keep += list(df[(df.country_code == cc) & (df.split == split) & df.lat.notna()]["location_id"].unique()[:n])
    return df[df.location_id.isin(keep)].reset_index(drop=True)
