"""Fixtures of the Explore tests: synthetic per-location tables, a disk cache in a temporary folder,
and a tiny manifest of real shared test images (read at run time, never copied into the repo)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.explore.stats import bucket_index


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


def ten_locations() -> pd.DataFrame:
    """Ten locations: Norway taken for Finland twice, Finland right, Croatia right/wrong, ..."""
    return make_locs([
        ("NO", "FI", 400.0, 0.55, "gsv_strips"), ("NO", "FI", 900.0, 0.35, "gsv_strips"),
        ("NO", "NO", 20.0, 0.90, "gsv_random"), ("FI", "FI", 0.5, 0.95, "gsv_strips"),
        ("HR", "HR", 150.0, 0.80, "gsv_croatia"), ("HR", "SI", 260.0, 0.40, "gsv_croatia"),
        ("US", "CA", 3000.0, 0.25, "screenshots_ui"), ("BR", "BR", 800.0, 0.60, "screenshots"),
        ("", "FR", float("nan"), 0.30, "screenshots"), ("JP", "JP", 25.0, 1.0, "gsv_random"),
    ])


@pytest.fixture
def locs() -> pd.DataFrame:
    """:func:`ten_locations`."""
    return ten_locations()


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    """The Explore disk cache (evaluations, thumbnails) redirected to a temporary folder."""
    d = tmp_path / "cache"
    monkeypatch.setenv("GEOLOC_EXPLORE_CACHE", str(d))
    return d


@pytest.fixture
def no_data(tmp_path, monkeypatch, real_predictor):
    """Nothing beside the checkout (the data folder, the shared set and GEOLOC_DATA all absent), for the data-set
    registry and for the manifest resolver alike: Explore then opens the evaluation shipped with the model.
    Skips when the shipped model or its evaluation is missing."""
    from app.common import shipped
    from model.data import manifest
    from tests.app.apphelpers import DEFAULT_MODEL

    if real_predictor.path.name != "default.pt" or \
            not (shipped.sidecar_dir(DEFAULT_MODEL) / "predictions.csv.gz").is_file():
        pytest.skip("the shipped model or its evaluation is missing")
    monkeypatch.setattr(manifest, "DATA", tmp_path / "data")
    monkeypatch.setattr(manifest, "SHARED_DATA", tmp_path / "shared" / "geodata")
    try:
        from app.common import datasets as ds
    except ImportError:  # a checkout before the data-set registry
        ds = None
    if ds is not None:
        monkeypatch.setattr(ds, "DATA", tmp_path / "data")
        monkeypatch.setattr(ds, "SHARED", tmp_path / "shared" / "geodata")
        monkeypatch.setattr(ds, "SETTINGS", tmp_path / "data" / "app_settings.json")
    monkeypatch.delenv("GEOLOC_DATA", raising=False)
    monkeypatch.setenv("GEOLOC_EXPLORE_CACHE", str(tmp_path / "cache"))
    assert manifest.default_manifest_path() is None and (ds is None or ds.active_dataset({}) is None)
    return tmp_path
