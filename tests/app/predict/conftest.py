"""The Predict AppTests' page: the whole app (app/main.py) run once on a fake predictor."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.apphelpers import MAIN, TIMEOUT, FakePredictor


@pytest.fixture
def at(monkeypatch) -> AppTest:
    """The app after its first run on :class:`FakePredictor` (kept as ``.fake``), with no exception."""
    fake = FakePredictor()
    monkeypatch.setattr("app.common.resources.get_predictor", lambda model=None: fake)
    t = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    t.run()
    assert not t.exception, t.exception
    t.fake = fake
    return t
