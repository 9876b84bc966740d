"""``model.evaluate`` and the Predictor give the same answer for the same place.

The error browser shows ``loc_best_*`` from the evaluation files, the Predict and Play pages show the
Predictor's ``best_lat/lon``: for one set of views they must be the same guess (the world-map GeoGuessr
objective), whatever the area the evaluated manifest spans.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import model.evaluate as ev
from model.net.checkpoint import DEFAULT_CHECKPOINT
from model.data.images import open_image
from model.predict import Predictor


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("no shipped model")
    return Predictor.load()


def test_evaluation_best_guess_is_the_predictors(shared_manifest, predictor, tmp_path, monkeypatch):
    df = shared_manifest
    # Croatian test places: a one-country manifest, whose scaled score (map size of a few hundred km)
    # would favour other guesses than the world map's.
    locs = df[(df.split == "test") & (df.country_code == "HR") & df.lat.notna()]["location_id"].unique()[:8]
    sub = df[df.location_id.isin(locs)].reset_index(drop=True)
    assert sub["location_id"].nunique() == 8

    def float32_outputs(net, ck, paths, cache=None, batch_size=128, **kw):
        """The Predictor's own forward pass (float32, no trunk cache): same inputs for both sides."""
        x = torch.stack([predictor.preprocess(open_image(p)) for p in paths])
        out = predictor.outputs(x)
        out["ok"] = np.ones(len(paths), bool)
        return out

    monkeypatch.setattr(ev, "network_outputs", float32_outputs)
    m = ev.evaluate_checkpoint(DEFAULT_CHECKPOINT, sub, tmp_path, cache=None)
    assert m["per_location"]["country_top1"] > 0.5  # Croatia is the model's best-known country
    pred = pd.read_csv(tmp_path / "predictions.csv").drop_duplicates("location_id").set_index("location_id")
    for loc, g in sub.groupby("location_id"):
        p = predictor.predict([open_image(x) for x in g["path"]])
        assert pred.loc[loc, "loc_pred_country"] == p.country_code, loc
        assert pred.loc[loc, "loc_best_lat"] == pytest.approx(p.best_lat, abs=1e-4), loc
        assert pred.loc[loc, "loc_best_lon"] == pytest.approx(p.best_lon, abs=1e-4), loc
