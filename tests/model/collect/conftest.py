"""Fixtures for the collector tests: the fake Street View server, CLI runner, offline Hugging Face."""
from __future__ import annotations

import os

import pytest

# Hugging Face code must never reach the Hub from tests (set before `datasets` is imported).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from tests.model.collect.helpers import KEY, KEY_VARS  # noqa: E402
from tests.model.collect.fakes.streetview_server import SHARED_IMAGES, FakeStreetView, shared_images  # noqa: E402


@pytest.fixture
def fake():
    """A running fake Street View server accepting ``KEY``; dense coverage (0.01 deg grid)."""
    if not shared_images():
        pytest.skip(f"shared Street View images not found at {SHARED_IMAGES}")
    with FakeStreetView(key=KEY, grid_deg=0.01, coverage=0.9) as f:
        yield f


@pytest.fixture(autouse=True)
def _no_key_env(monkeypatch, tmp_path):
    for name in KEY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
