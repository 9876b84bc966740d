"""Shared fixtures for model tests: the real shared data set and small subsets of it."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from model.data.manifest import read_manifest

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "geodata" / "manifest.csv"


@pytest.fixture(scope="session")
def shared_manifest() -> pd.DataFrame:
    if not SHARED.is_file():
        pytest.skip("../shared/geodata is not beside the checkout")
    return read_manifest(SHARED)


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
