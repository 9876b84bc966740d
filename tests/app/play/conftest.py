"""Fixtures for the Play tests: the synthetic data set, the fake predictor, an isolated leaderboard."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.play.playhelpers import PlayPredictor, make_dataset


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("playdata"))


@pytest.fixture
def play_env(dataset, tmp_path, monkeypatch) -> Path:
    """Point the app at the synthetic data, a fresh leaderboard file and the fake predictor."""
    import app.common.resources as res

    monkeypatch.setenv("GEOLOC_DATA", str(dataset))
    board = tmp_path / "board.sqlite3"
    monkeypatch.setenv("GEOLOC_LEADERBOARD", str(board))
    fake = PlayPredictor()
    monkeypatch.setattr(res, "get_predictor", lambda: fake)
    res.clear_all()
    yield board
    res.clear_all()
