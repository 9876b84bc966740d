"""Fixtures of the Explore tests: synthetic per-location tables, a disk cache in a temporary folder,
and a tiny manifest of real shared test images (read at run time, never copied into the repo)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.explore.stats import bucket_index
from tests.app.apphelpers import SHARED


CELL = {"NO": 0, "FI": 1, "HR": 2, "SI": 3, "US": 4, "CA": 5, "BR": 6, "FR": 7, "JP": 8}


def make_locs(rows: list[tuple]) -> pd.DataFrame:
    """Per-location table (the columns of ``app.explore.data.location_table``) from tuples
    ``(true_country, pred_country, distance_km, confidence, source)``; cells follow countries."""
    out = []
    for i, (t, p, d, c, s) in enumerate(rows):
        out.append({"location_id": f"L{i}", "source": s, "split": "test", "n_views": 1, "images": [f"i{i}.jpg"],
                    "paths": [f"/nowhere/i{i}.jpg"], "true_lat": 45.0 + i * 0.1 if d == d else np.nan,
                    "true_lon": 15.0 + i * 0.1 if d == d else np.nan,
                    "true_country": t, "true_admin1": "", "true_cell": CELL.get(t, -1),
                    "pred_lat": 40.0, "pred_lon": 10.0, "pred_country": p, "pred_cell": CELL[p],
                    "best_lat": 40.0, "best_lon": 10.0, "distance_km": d, "best_distance_km": d,
                    "score": 5000 * np.exp(-d / 1492.7) if d == d else np.nan, "confidence": c,
                    "cell_confidence": c / 2, "country_rank": [p], "cell_rank": [], "correct": bool(t) and t == p})
    df = pd.DataFrame(out)
    df["cell_correct"] = df["true_cell"] == df["pred_cell"]
    df["bucket"] = bucket_index(df["distance_km"].to_numpy(float))
    return df


@pytest.fixture
def locs() -> pd.DataFrame:
    """Ten locations: Norway taken for Finland twice, Finland right, Croatia right/wrong, ..."""
    return make_locs([
        ("NO", "FI", 400.0, 0.55, "gsv_strips"), ("NO", "FI", 900.0, 0.35, "gsv_strips"),
        ("NO", "NO", 20.0, 0.90, "gsv_random"), ("FI", "FI", 0.5, 0.95, "gsv_strips"),
        ("HR", "HR", 150.0, 0.80, "gsv_croatia"), ("HR", "SI", 260.0, 0.40, "gsv_croatia"),
        ("US", "CA", 3000.0, 0.25, "screenshots_ui"), ("BR", "BR", 800.0, 0.60, "screenshots"),
        ("", "FR", float("nan"), 0.30, "screenshots"), ("JP", "JP", 25.0, 1.0, "gsv_random"),
    ])


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    """The Explore disk cache (evaluations, thumbnails) redirected to a temporary folder."""
    d = tmp_path / "cache"
    monkeypatch.setenv("GEOLOC_EXPLORE_CACHE", str(d))
    return d


def _shared() -> pd.DataFrame:
    if not (SHARED / "manifest.csv").is_file():
        pytest.skip("shared data not found at ../shared/geodata")
    return pd.read_csv(SHARED / "manifest.csv", keep_default_na=False, dtype=str)


def tiny_manifest(path: Path, per_source: dict[str, int]) -> Path:
    """Write a manifest of real shared test locations (the first ``per_source`` locations of each
    source, all their views) with absolute image paths; returns its path."""
    df = _shared()
    t = df[df["split"] == "test"]  # screenshots have a country but no coordinates
    keep = []
    for src, n in per_source.items():
        keep += list(t[t["source"] == src]["location_id"].drop_duplicates()[:n])
    sub = t[t["location_id"].isin(keep)].copy()
    sub["image"] = [str(SHARED / i) for i in sub["image"]]
    path.parent.mkdir(parents=True, exist_ok=True)
    sub.to_csv(path, index=False)
    return path


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
    import os

    from app.common.resources import clear_all, get_predictor
    from tests.app.apphelpers import DEFAULT_MODEL, make_dev_checkpoint

    if DEFAULT_MODEL.is_file():
        os.environ.pop("GEOLOC_MODEL", None)
    else:
        os.environ["GEOLOC_MODEL"] = str(make_dev_checkpoint(tmp_path_factory.mktemp("model") / "dev.pt"))
    clear_all()
    return get_predictor()
