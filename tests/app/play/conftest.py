"""Fixtures for the Play tests: the synthetic data set, the fake predictor, an isolated leaderboard, and
the app's data-set registry and opponent list pointed at temporary folders (nothing of this checkout's
data/, ../shared, runs/ or the hub cache leaks in)."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.app.play.playhelpers import PlayPredictor, make_dataset


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("playdata"))


@pytest.fixture
def isolated_datasets(tmp_path, monkeypatch) -> Path:
    """``app.common.datasets`` looks in an empty data folder, no shared set, no remembered default;
    no checkpoint but the shipped one is found and no registered predictor can run. Returns the data folder."""
    import app.common.datasets as ds
    import app.play.opponents as opp
    import model.predictors as mp

    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setattr(ds, "DATA", data)
    monkeypatch.setattr(ds, "SHARED", tmp_path / "no-shared")
    monkeypatch.setattr(ds, "SETTINGS", data / "app_settings.json")
    monkeypatch.setattr(opp, "find_checkpoints", lambda root=None: [])
    monkeypatch.setattr(mp, "availability", lambda name: SimpleNamespace(
        available=False, reason=f"{name}: weights not on this machine (download: hf download {name})"))
    monkeypatch.delenv("GEOLOC_MODEL", raising=False)
    return data


@pytest.fixture
def play_env(dataset, tmp_path, monkeypatch, isolated_datasets) -> Path:
    """Point the app at the synthetic data, a fresh leaderboard file and the fake predictor."""
    import app.common.resources as res

    monkeypatch.setenv("GEOLOC_DATA", str(dataset))
    board = tmp_path / "board.sqlite3"
    monkeypatch.setenv("GEOLOC_LEADERBOARD", str(board))
    fake = PlayPredictor()
    monkeypatch.setattr(res, "get_predictor", lambda *a, **k: fake)
    res.clear_all()
    yield board
    res.clear_all()
