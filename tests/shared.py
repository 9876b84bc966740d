"""Where the tests find things: the repository root and the development set beside the checkout.

``../shared/geodata`` holds third-party Street View imagery for development only: tests read it at run
time and skip when it is absent (a user's clone); nothing from it is ever copied into the repository.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from model.paths import ROOT, SHARED_DATA

REPO: Path = ROOT
SHARED: Path = SHARED_DATA  # the folder; images are SHARED / row["image"]
SHARED_MANIFEST: Path = SHARED_DATA / "manifest.csv"


def require_shared() -> None:
    """Skip the calling test when the shared set is not beside the checkout."""
    if not SHARED_MANIFEST.is_file():
        pytest.skip("shared data not found at ../shared/geodata")


def shared_table() -> pd.DataFrame:
    """The shared manifest as strings (no parsing), skipping when absent."""
    require_shared()
    return pd.read_csv(SHARED_MANIFEST, keep_default_na=False, dtype=str)


def tiny_manifest(path: Path, per_source: dict[str, int]) -> Path:
    """Write a manifest of real shared test locations (the first ``per_source`` locations of each
    source, all their views) with absolute image paths; returns its path."""
    t = shared_table()
    t = t[t["split"] == "test"]  # screenshots have a country but no coordinates
    keep: list[str] = []
    for src, n in per_source.items():
        keep += list(t[t["source"] == src]["location_id"].drop_duplicates()[:n])
    sub = t[t["location_id"].isin(keep)].copy()
    sub["image"] = [str(SHARED / i) for i in sub["image"]]
    path.parent.mkdir(parents=True, exist_ok=True)
    sub.to_csv(path, index=False)
    return path
