"""Evaluation folders: cache keys, reading predictions.csv, the per-location table, loading."""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pandas as pd
import pytest

from app.explore import data as xd


def _touch(path, text: str) -> None:
    path.write_text(text)


def test_eval_key_follows_checkpoint_manifest_and_split(tmp_path, cache_dir):
    ck, man = tmp_path / "m.pt", tmp_path / "manifest.csv"
    _touch(ck, "weights")
    _touch(man, "image\na.jpg\n")
    k = xd.eval_key(ck, man, "test")
    assert k == xd.eval_key(ck, man, "test") and len(k) == 16
    assert xd.eval_key(ck, man, "val") != k
    _touch(man, "image\na.jpg\nb.jpg\n")  # the data changed
    k2 = xd.eval_key(ck, man, "test")
    assert k2 != k
    os.utime(ck, ns=(time.time_ns(), time.time_ns() + 10**9))  # a retrained checkpoint at the same path
    assert xd.eval_key(ck, man, "test") != k2
    assert xd.eval_dir_for(ck, man, "test").parent == cache_dir / "eval"
    assert not xd.has_evaluation(xd.eval_dir_for(ck, man, "test")) and not xd.has_evaluation(None)


def test_select_split():
    df = pd.DataFrame({"split": ["train", "test", "test", "val"]})
    assert len(xd.select_split(df, "test")) == 2 and len(xd.select_split(df, "all")) == 4
    assert len(xd.select_split(pd.DataFrame({"split": ["", ""]}), "test")) == 2  # no splits: used whole


def _predictions() -> pd.DataFrame:
    """Three images of two locations, as model.evaluate writes them (rank lists as strings)."""
    base = {"source": "gsv", "split": "test", "true_admin1": "", "true_cell": 1, "pred_cell": 1, "confidence": 0.5,
            "pred_lat": 0.0, "pred_lon": 0.0, "pred_country": "ZA", "distance_km": 10.0, "score": 4966.0}
    rows = [
        {**base, "image": "img/a_0.jpg", "location_id": "A", "true_lat": 45.0, "true_lon": 15.0, "true_country": "HR",
         "loc_pred_lat": 46.0, "loc_pred_lon": 16.0, "loc_pred_country": "HR", "loc_pred_cell": 1,
         "loc_confidence": 0.4, "loc_country_confidence": 0.7, "loc_distance_km": 135.5, "loc_score": 4600.0,
         "loc_best_lat": 45.5, "loc_best_lon": 15.5, "loc_best_distance_km": 60.0, "loc_cell_rank": "1 3 2",
         "loc_country_rank": "HR SI", "cell_rank": "1 2", "country_rank": "HR"},
        {**base, "image": "/abs/a_1.jpg", "location_id": "A", "true_lat": 45.0, "true_lon": 15.0,
         "true_country": "HR", "loc_pred_lat": 46.0, "loc_pred_lon": 16.0, "loc_pred_country": "HR",
         "loc_pred_cell": 1, "loc_confidence": 0.4, "loc_country_confidence": 0.7, "loc_distance_km": 135.5,
         "loc_score": 4600.0, "loc_best_lat": 45.5, "loc_best_lon": 15.5, "loc_best_distance_km": 60.0,
         "loc_cell_rank": "1 3 2", "loc_country_rank": "HR SI", "cell_rank": "3", "country_rank": "SI"},
        {**base, "image": "img/b_0.jpg", "location_id": "B", "true_lat": np.nan, "true_lon": np.nan,
         "true_country": "NA", "loc_pred_lat": -20.0, "loc_pred_lon": 20.0, "loc_pred_country": "ZA",
         "loc_pred_cell": 4, "loc_confidence": 0.2, "loc_country_confidence": 0.3, "loc_distance_km": np.nan,
         "loc_score": np.nan, "loc_best_lat": -20.0, "loc_best_lon": 20.0, "loc_best_distance_km": np.nan,
         "loc_cell_rank": "4 0", "loc_country_rank": "ZA NA", "cell_rank": "4", "country_rank": "ZA", "true_cell": 0},
    ]
    return pd.DataFrame(rows)


def test_read_predictions_keeps_namibia_and_parses_ranks(tmp_path):
    _predictions().to_csv(tmp_path / "predictions.csv", index=False)
    df = xd.read_predictions(tmp_path / "predictions.csv")
    assert df["true_country"].tolist() == ["HR", "HR", "NA"]  # "NA" is Namibia, not a missing value
    assert df["loc_country_rank"].iloc[2] == ["ZA", "NA"] and df["loc_cell_rank"].iloc[0] == ["1", "3", "2"]
    assert np.isnan(df["loc_distance_km"].iloc[2])


def test_location_table_fuses_views_and_resolves_paths(tmp_path):
    locs = xd.location_table(xd.read_predictions(_write(tmp_path)), base=tmp_path / "data")
    assert locs["location_id"].tolist() == ["A", "B"]
    a, b = locs.iloc[0], locs.iloc[1]
    assert a["n_views"] == 2 and b["n_views"] == 1
    assert a["paths"] == [str(tmp_path / "data" / "img/a_0.jpg"), "/abs/a_1.jpg"]
    assert (a["pred_lat"], a["pred_country"], a["distance_km"]) == (46.0, "HR", 135.5)  # fused, not per image
    assert a["confidence"] == 0.7 and a["cell_confidence"] == 0.4 and a["best_distance_km"] == 60.0
    assert bool(a["correct"]) and bool(a["cell_correct"]) and a["bucket"] == 2
    assert not b["correct"] and b["bucket"] == -1 and b["country_rank"] == ["ZA", "NA"]
    assert xd.location_table(pd.DataFrame()).empty


def _write(folder, info: dict | None = None):
    folder.mkdir(parents=True, exist_ok=True)
    _predictions().to_csv(folder / "predictions.csv", index=False)
    if info is not None:
        (folder / "source.json").write_text(json.dumps(info))
    return folder / "predictions.csv"


def test_load_evaluation_reads_source_and_reloads_on_change(tmp_path):
    man = tmp_path / "data" / "manifest.csv"
    man.parent.mkdir()
    man.write_text("image\n")
    f = tmp_path / "ev"
    _write(f, {"checkpoint": "/m/model.pt", "manifest": str(man), "split": "test"})
    pd.DataFrame({"class": ["HR", "accuracy"], "precision": [1.0, 0.5]}).to_csv(
        f / "classification_report_country.csv", index=False)
    ev = xd.load_evaluation(f)
    assert ev.checkpoint == "/m/model.pt" and ev.info["split"] == "test" and len(ev.images) == 3
    assert ev.locations.iloc[0]["paths"][0] == str(tmp_path / "data" / "img/a_0.jpg")
    assert ev.report is not None and ev.report["class"].tolist() == ["HR", "accuracy"]
    assert xd.load_evaluation(f) is ev  # cached while nothing changed
    df = _predictions().iloc[:2]
    time.sleep(0.01)
    df.to_csv(f / "predictions.csv", index=False)
    ev2 = xd.load_evaluation(f)
    assert ev2 is not ev and len(ev2.locations) == 1
    with pytest.raises(FileNotFoundError):
        xd.load_evaluation(tmp_path / "nothing")


def test_run_evaluation_matches_the_predictor(real_predictor, shared_manifest_path, cache_dir):
    """The chunked evaluation of the page gives, per location, the country the Predictor gives for
    the fused views; it writes model.evaluate's files plus source.json, atomically."""
    from model.data.manifest import read_manifest

    seen = []
    out = cache_dir / "eval" / "x"
    m = xd.run_evaluation(real_predictor, shared_manifest_path, "test", out, chunk=4,
                          progress=lambda d, t, _m: seen.append((d, t)))
    df = read_manifest(shared_manifest_path)
    assert seen[-1] == (len(df), len(df)) and len(seen) == -(-len(df) // 4)
    assert {"predictions.csv", "metrics.json", "source.json", "classification_report_country.csv",
            "confusion_country.csv"} <= {p.name for p in out.iterdir()}
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp folder left
    ev = xd.load_evaluation(out)
    assert m["n_images"] == len(df) == len(ev.images) and len(ev.locations) == df["location_id"].nunique()
    for loc, g in df.groupby("location_id"):
        pred = real_predictor.predict(g.sort_values("view")["path"].tolist())
        row = ev.locations.set_index("location_id").loc[loc]
        assert row["pred_country"] == pred.country_code
        assert row["cell_confidence"] == pytest.approx(pred.confidence, abs=2e-3)
