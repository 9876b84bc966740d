"""Fixtures for the predictor tests: an offline hub holding tiny random CLIP models in the real cache
layout (:mod:`model.predictors.tiny`), the predictors loaded from it through their real loading code
(GeoCLIP with the wheel's real MLP, location encoder and 100k gallery), and a few real shared images.

GeoCLIP's gallery encoding (about 15-30 s on 2 cores) is the slow part: it is cached in pytest's cache
folder (``.pytest_cache``; ``tests/artifacts/predictor-cache`` under ``-p no:cacheprovider``; both
git-ignored), keyed like any predictor cache entry by the weights' sha256, so only the first session pays
for it; a fresh clone computes it (``test_geoclip_gallery_cache_holds_the_wheels_encoding`` checks the
cached vectors against a fresh encoding)."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from model.data.manifest import read_manifest, write_manifest

from tests.shared import REPO
from tests.shared import SHARED_MANIFEST as SHARED

OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No hub access in any test, and no opt-in downloads."""
    for k, v in OFFLINE.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("GEOLOC_DOWNLOAD_WEIGHTS", raising=False)


@pytest.fixture(scope="session")
def tiny_home(tmp_path_factory) -> Path:
    """``HF_HOME`` with tiny random CLIPs as openai/clip-vit-large-patch14 (projection 768),
    geolocal/StreetCLIP (pytorch_model.bin) and openai/clip-vit-large-patch14-336."""
    from model.predictors.tiny import write_tiny_hub

    home = tmp_path_factory.mktemp("hf")
    write_tiny_hub(home)
    return home


@pytest.fixture(scope="session")
def predictor_cache(request, tmp_path_factory) -> Path:
    """``GEOLOC_CACHE`` for the predictors, kept between sessions: pytest's cache folder, else (``-p
    no:cacheprovider``) ``tests/artifacts/predictor-cache``; a temporary folder when neither is writable."""
    try:
        return Path(request.config.cache.mkdir("geoloc-predictor-cache"))
    except AttributeError:  # -p no:cacheprovider
        pass
    d = REPO / "tests" / "artifacts" / "predictor-cache"
    try:
        d.mkdir(parents=True, exist_ok=True)
        return d
    except OSError:
        return tmp_path_factory.mktemp("cache")


@pytest.fixture
def tiny_env(monkeypatch, tiny_home, predictor_cache) -> dict:
    """This test's environment finds the tiny hub and the predictor cache (what ``env`` gives a subprocess)."""
    monkeypatch.setenv("HF_HOME", str(tiny_home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("GEOLOC_CACHE", str(predictor_cache))
    return {"HF_HOME": str(tiny_home), "GEOLOC_CACHE": str(predictor_cache)}


@pytest.fixture(scope="session")
def env(tiny_home, predictor_cache) -> dict:
    """The environment of a subprocess that finds the tiny hub and the predictor cache, offline."""
    e = dict(os.environ, HF_HOME=str(tiny_home), GEOLOC_CACHE=str(predictor_cache), **OFFLINE)
    e.pop("HF_HUB_CACHE", None)
    e.pop("GEOLOC_DOWNLOAD_WEIGHTS", None)
    return e


def _load(name: str, tiny_home: Path, predictor_cache: Path):
    from model.predictors import load_predictor

    with pytest.MonkeyPatch.context() as mp:
        for k, v in OFFLINE.items():
            mp.setenv(k, v)
        mp.setenv("HF_HOME", str(tiny_home))
        mp.delenv("HF_HUB_CACHE", raising=False)
        mp.setenv("GEOLOC_CACHE", str(predictor_cache))
        return load_predictor(name, device="cpu")


@pytest.fixture(scope="session")
def geoclip_predictor(tiny_home, predictor_cache):
    return _load("geoclip", tiny_home, predictor_cache)


@pytest.fixture(scope="session")
def streetclip_predictor(tiny_home, predictor_cache):
    return _load("streetclip-zeroshot", tiny_home, predictor_cache)


@pytest.fixture(scope="session")
def clip_predictor(tiny_home, predictor_cache):
    return _load("clip-zeroshot", tiny_home, predictor_cache)


@pytest.fixture(scope="session")
def shipped_predictor():
    from model.predictors import load_predictor

    return load_predictor(None, device="cpu")


@pytest.fixture(scope="session")
def places(tmp_path_factory) -> Path:
    """A manifest of real held-out shared images: two 4-view Street View places (HR, US), two single
    views with coordinates and one country-labelled screenshot (no coordinates): 11 images."""
    if not SHARED.is_file():
        pytest.skip("../shared/geodata is not beside the checkout")
    df = read_manifest(SHARED)
    t = df[df["split"] == "test"]
    n = t.groupby("location_id")["image"].transform("size")
    rows = []
    for cc in ("HR", "US"):
        loc = t[(n == 4) & (t["country_code"] == cc) & t["lat"].notna()]["location_id"].iloc[0]
        rows.append(t[t["location_id"] == loc])
    singles = t[(n == 1) & t["lat"].notna()].drop_duplicates("country_code")
    rows.append(singles.iloc[:2])
    rows.append(t[(n == 1) & t["lat"].isna()].iloc[:1])
    m = pd.concat(rows).reset_index(drop=True)
    m["image"] = m["path"]
    return write_manifest(m, tmp_path_factory.mktemp("places") / "manifest.csv")
