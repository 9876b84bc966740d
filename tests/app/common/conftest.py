"""Fixtures of the app/common tests: the data-set registry pointed at a checkout-like temporary folder."""
from __future__ import annotations

from pathlib import Path

import pytest

import app.common.datasets as ds


@pytest.fixture
def where(tmp_path, monkeypatch) -> Path:
    """A checkout-like folder: DATA = tmp/repo/data, SHARED = tmp/shared/geodata (absent), no $GEOLOC_DATA."""
    data = tmp_path / "repo" / "data"
    data.mkdir(parents=True)
    monkeypatch.setattr(ds, "DATA", data)
    monkeypatch.setattr(ds, "SHARED", tmp_path / "shared" / "geodata")
    monkeypatch.setattr(ds, "SETTINGS", data / "app_settings.json")
    monkeypatch.delenv("GEOLOC_DATA", raising=False)
    return tmp_path
