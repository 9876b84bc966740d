"""Fixtures for the shard tests: a ~40-image manifest of the real shared set and its shards."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.shared import SHARED


def make_manifest(path: Path, per_source: int = 6) -> Path:
    """A manifest of ``per_source`` real images of every shared source (absolute image paths, labels and
    coordinates as given, one extra column), written to ``path``."""
    if not (SHARED / "manifest.csv").is_file():
        pytest.skip("../shared/geodata is not beside the checkout")
    df = pd.read_csv(SHARED / "manifest.csv", dtype=str, keep_default_na=False)
    sub = pd.concat([g.head(per_source) for _, g in df.groupby("source", sort=True)]).reset_index(drop=True)
    sub["image"] = [str(SHARED / x) for x in sub["image"]]
    sub["photographer"] = [f"p{i % 5}" for i in range(len(sub))]  # an extra column must survive
    path.parent.mkdir(parents=True, exist_ok=True)
    sub.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def manifest(tmp_path_factory) -> Path:
    """42 real images (6 from each of the 7 shared sources: train/val/test, with and without coordinates)."""
    return make_manifest(tmp_path_factory.mktemp("man") / "manifest.csv")


@pytest.fixture(scope="session")
def shard_dir(manifest, tmp_path_factory) -> Path:
    """The manifest written as shards of 8 samples (6 shards, the last one partial)."""
    from model.shards import write_manifest_shards

    out = tmp_path_factory.mktemp("shards") / "set"
    write_manifest_shards(manifest, out, shard_size=8, progress=False)
    return out


@pytest.fixture
def shard_copy(shard_dir, tmp_path) -> Path:
    """A private copy of the shard folder, for tests that damage it."""
    dst = tmp_path / "copy"
    shutil.copytree(shard_dir, dst)
    return dst
