"""Fixtures for the app tests: the fake predictor, real shared images read at run time from
``<repo>/../shared/geodata`` (skipped when absent), and whether the real model is shipped."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from tests.app.apphelpers import DEFAULT_MODEL, SHARED, FakePredictor, make_dev_checkpoint


@pytest.fixture
def fake_predictor() -> FakePredictor:
    return FakePredictor()


def _manifest() -> pd.DataFrame:
    if not (SHARED / "manifest.csv").is_file():
        pytest.skip("shared data not found at ../shared/geodata")
    return pd.read_csv(SHARED / "manifest.csv", keep_default_na=False)


@pytest.fixture(scope="session")
def shared_test_image() -> tuple[Path, float, float]:
    """(path, lat, lon) of one real test-split Street View image."""
    df = _manifest()
    row = df[(df["split"] == "test") & (df["lat"] != "") & df["source"].str.startswith("gsv_strips")].iloc[0]
    return SHARED / row["image"], float(row["lat"]), float(row["lon"])


@pytest.fixture(scope="session")
def shared_ui_screenshot() -> Path:
    """A real GeoGuessr screenshot with the game UI visible."""
    df = _manifest()
    return SHARED / df[df["source"] == "screenshots_ui"].iloc[0]["image"]


@pytest.fixture(scope="session")
def has_real_model() -> bool:
    return DEFAULT_MODEL.is_file()


@pytest.fixture(scope="session")
def model_env(tmp_path_factory):
    """Point the app at a checkpoint (GEOLOC_MODEL) for the session (the shipped model, else a dev
    checkpoint); caches are cleared around it so the model loads once."""
    from app.common.resources import clear_all

    old = os.environ.get("GEOLOC_MODEL")
    if DEFAULT_MODEL.is_file():
        os.environ.pop("GEOLOC_MODEL", None)
    else:
        os.environ["GEOLOC_MODEL"] = str(make_dev_checkpoint(tmp_path_factory.mktemp("model") / "dev.pt"))
    clear_all()
    yield
    clear_all()
    if old is None:
        os.environ.pop("GEOLOC_MODEL", None)
    else:
        os.environ["GEOLOC_MODEL"] = old
