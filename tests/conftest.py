"""The one root conftest: the offline guard every test runs under, and the shared development set.

Offline: the Hugging Face hub, transformers and datasets are put offline before anything imports them
(subprocesses inherit it), ``GEOLOC_DOWNLOAD_WEIGHTS`` is cleared and torch hub downloads fail loudly, so
a test that would reach the network fails here as it would on a machine without one. The shared set
(``tests.shared``) is read at run time and skipped when absent.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ[_var] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from tests.shared import SHARED_MANIFEST, require_shared, tiny_manifest  # noqa: E402


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No hub access in any test: the hubs offline, no opt-in download, torch hub downloads raise."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.delenv("GEOLOC_DOWNLOAD_WEIGHTS", raising=False)

    def no_download(*a, **k):
        raise AssertionError(f"a download was attempted: {a[:1]}")

    monkeypatch.setattr("torch.hub.download_url_to_file", no_download)


@pytest.fixture(scope="session")
def shared_manifest() -> pd.DataFrame:
    """The whole shared manifest, read and validated by ``model.data.manifest.read_manifest``."""
    from model.data.manifest import read_manifest

    require_shared()
    return read_manifest(SHARED_MANIFEST)


@pytest.fixture(scope="session")
def shared_manifest_path(tmp_path_factory) -> Path:
    """A manifest of three real test locations of three sources (incl. the game-UI screenshots)."""
    d = tmp_path_factory.mktemp("manifest")
    return tiny_manifest(d / "manifest.csv", {"gsv_croatia": 1, "screenshots_ui": 1, "gsv_random": 1})


@pytest.fixture(scope="session")
def shared_rows(shared_manifest_path) -> pd.DataFrame:
    """The rows of :func:`shared_manifest_path` as read by ``model.data.manifest.read_manifest``."""
    from model.data.manifest import read_manifest

    return read_manifest(shared_manifest_path)


@pytest.fixture(scope="session")
def real_predictor(tmp_path_factory):
    """The app's shared Predictor (``app.common.resources.get_predictor``, so AppTests reuse it): the shipped
    default model, or a checkpoint with the real backbone and an untrained head when it is absent."""
    from app.common.resources import clear_all, get_predictor
    from tests.app.apphelpers import DEFAULT_MODEL, make_dev_checkpoint

    if DEFAULT_MODEL.is_file():
        os.environ.pop("GEOLOC_MODEL", None)
    else:
        os.environ["GEOLOC_MODEL"] = str(make_dev_checkpoint(tmp_path_factory.mktemp("model") / "dev.pt"))
    clear_all()
    return get_predictor()
