"""Optuna search on a small real subset: trials run, report per epoch, prune, persist in SQLite and resume."""
from __future__ import annotations

import optuna
import pytest

from model import tune
from model.net.checkpoint import load_checkpoint
from model.data.manifest import write_manifest
from model.train import parse_args

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_subset):
    d = tmp_path_factory.mktemp("tune")
    m = tiny_subset.copy()
    m["image"] = m["path"]
    man = write_manifest(m, d / "manifest.csv")
    train = ["--data", str(man), "--backbone", "efficientnet_lite0", "--mode", "frozen", "--aug-rounds", "0",
             "--epochs", "3", "--batch-size", "16", "--cache", str(d / "cache"), "--out", str(d / "runs")]
    return d, man, train


def test_study_runs_and_resumes_from_sqlite(setup, capsys):
    d, man, train = setup
    common = ["--study", "t1", "--storage", f"sqlite:///{d}/t1.db", *train]
    s1 = tune.main(common + ["--trials", "2"])
    first = [(t.number, t.params, t.value) for t in s1.trials]
    assert len(first) == 2 and all(t.state == optuna.trial.TrialState.COMPLETE for t in s1.trials)
    for t in s1.trials:
        assert {"lr", "dropout", "weight_decay", "scheduler", "tau", "min_cell", "max_cell"} == set(t.params)
        assert 0 <= t.value <= 5000 and t.value == t.user_attrs["val_geoscore_mean"]
        assert t.user_attrs["val_median_km"] > 0 and 1 <= t.user_attrs["epochs"] <= 3
        assert set(t.intermediate_values) == set(range(1, t.user_attrs["epochs"] + 1))  # reported every epoch
    assert len({t.params["lr"] for t in s1.trials}) == 2  # different hyper-parameters were tried
    best = (d / "runs" / "best.pt")
    net, cells, ck = load_checkpoint(best)
    assert ck["metrics"]["trial"] == s1.best_trial.number and ck["config"]["tau"] == s1.best_params["tau"]

    # a second run of the same command resumes: the stored trials stay, one more is added
    s2 = tune.main(common + ["--trials", "3"])
    assert len(s2.trials) == 3 and [(t.number, t.params, t.value) for t in s2.trials[:2]] == first
    capsys.readouterr()
    tune.main(common + ["--show"])
    shown = capsys.readouterr().out
    assert "study t1: 3 trials" in shown and f"best trial #{s2.best_trial.number}" in shown
    assert "--lr" in shown and "--tau" in shown


def test_poor_trials_are_pruned_after_a_report(setup):
    d, man, train = setup
    from model.data.manifest import read_manifest

    df = read_manifest(man)
    base = parse_args(train + ["--no-eval"])
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=1e9))
    study.optimize(tune.Objective(df, base, d / "pruned"), n_trials=1)
    t = study.trials[0]
    assert t.state == optuna.trial.TrialState.PRUNED and list(t.intermediate_values) == [1]


def test_location_metrics_fuse_views():
    """Two views of one location: fused logits pick the cell; distance and GeoScore follow from it."""
    import numpy as np
    import pandas as pd

    from model.net.cells import CellSet
    from model.geo import haversine_km

    table = pd.DataFrame({"key": ["a", "b"], "name": ["a", "b"], "country_code": ["HR", "JP"], "country": ["", ""],
                          "admin1": ["", ""], "lat": [45.0, 35.0], "lon": [16.0, 139.0], "n_train": [1, 1]})
    cells = CellSet("country", table, {"HR": [0], "JP": [1]})
    rows = pd.DataFrame({"location_id": ["x", "x", "y"], "lat": [45.0, 45.0, 35.0], "lon": [16.0, 16.0, 139.0],
                         "country_code": ["HR", "HR", "JP"]})
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])  # x: fused -> HR (right); y -> HR (wrong)
    m = tune.location_metrics({"logits": logits}, rows, cells)
    wrong = haversine_km(35.0, 139.0, 45.0, 16.0)
    assert m["country_top1"] == 0.5 and m["median_km"] == pytest.approx(wrong / 2)
    assert m["geoscore_mean"] == pytest.approx((5000 + 5000 * np.exp(-wrong / 1492.7)) / 2)


def test_search_space_is_the_issue_list():
    trial = optuna.trial.FixedTrial({"lr": 1e-3, "dropout": 0.2, "weight_decay": 1e-3, "scheduler": "cosine",
                                     "tau": 100.0, "min_cell": 5, "max_cell": 50})
    base = parse_args(["--seed", "3"])
    a = tune.suggest(trial, base)
    assert (a.lr, a.scheduler, a.tau, a.min_cell, a.max_cell) == (1e-3, "cosine", 100.0, 5, 50)
    assert a.seed == 3 and base.lr == 1e-3 and base.tau == 300.0 and a.dropout == 0.2  # base left as it was


def test_location_metrics_follow_the_country_head():
    """With a country head, the chosen cell is re-weighted by it (as in model.evaluate)."""
    import numpy as np
    import pandas as pd

    from model.net.cells import CellSet

    table = pd.DataFrame({"key": ["a", "b"], "name": ["a", "b"], "country_code": ["HR", "JP"], "country": ["", ""],
                          "admin1": ["", ""], "lat": [45.0, 35.0], "lon": [16.0, 139.0], "n_train": [1, 1]})
    cells = CellSet("country", table, {"HR": [0], "JP": [1]})
    rows = pd.DataFrame({"location_id": ["y"], "lat": [35.0], "lon": [139.0], "country_code": ["JP"]})
    out = {"logits": np.array([[1.0, 0.0]]), "country_logits": np.array([[0.0, 3.0]])}  # cells: HR; head: JP
    assert tune.location_metrics(out, rows, cells)["country_top1"] == 1.0
    assert tune.location_metrics({"logits": out["logits"]}, rows, cells)["country_top1"] == 0.0
