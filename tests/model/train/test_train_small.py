"""Training, checkpoint round trip, evaluation and the Predictor on a small real subset."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from model.net.checkpoint import load_checkpoint
from model.evaluate import main as evaluate_main
from model.data.manifest import write_manifest
from model.predict import Predictor
from model.train import main as train_main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, small_subset):
    d = tmp_path_factory.mktemp("run")
    m = small_subset.copy()
    m["image"] = m["path"]
    # one bad file among the training rows: reported and skipped, not fatal
    bad = d / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    extra = m.iloc[[0]].copy()
    extra["image"] = str(bad)
    extra["location_id"] = extra["group_id"] = "broken"
    m = pd.concat([m, extra], ignore_index=True)
    man = write_manifest(m, d / "manifest.csv")
    out = d / "run"
    res = train_main(["--data", str(man), "--out", str(out), "--mode", "finetune", "--finetune-blocks", "2",
                      "--aug-rounds", "1", "--epochs", "3", "--cells", "geocells", "--min-cell", "3",
                      "--max-cell", "6", "--cache", str(d / "cache"), "--patience", "5"])
    return man, out, res


def test_training_writes_run_directory(small_run):
    man, out, res = small_run
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["backbone"] == "efficientnet_lite2" and cfg["mode"] == "finetune"
    hist = json.loads((out / "metrics.json").read_text())["epochs"]
    assert len(hist) == 3 and all(np.isfinite(h["train"]["loss"]) for h in hist)
    assert hist[-1]["train"]["loss"] < hist[0]["train"]["loss"]  # it learns
    for f in ("predictions.csv", "metrics.json", "confusion_country.png", "classification_report_country.csv"):
        assert (out / "eval_test" / f).is_file()


def test_checkpoint_roundtrip_weights_only(small_run):
    man, out, res = small_run
    ck = torch.load(out / "model.pt", map_location="cpu", weights_only=True)
    assert ck["backbone"] == "efficientnet_lite2" and ck["preprocess"]["mean"] == [0.5, 0.5, 0.5]
    assert "test" in ck["metrics"] and ck["metrics"]["test"]["per_location"]["n"] > 0
    net, cells, _ = load_checkpoint(out / "model.pt")
    assert len(cells) == ck["head"]["n_cells"]
    # The retrieval gallery: one entry per train or val location (settings tuned on val first), never a
    # test one; the broken row is not one.
    from model.net.checkpoint import load_gallery

    g = load_gallery(ck)
    m = pd.read_csv(man)
    fit_groups = set(ck["extra"]["train_groups"]) | set(ck["extra"]["val_groups"])
    n_places = m[m.group_id.isin(fit_groups) & (m.location_id != "broken")].location_id.nunique()
    assert len(g) == n_places and np.allclose(np.linalg.norm(g.embed, axis=1), 1, atol=1e-2)
    info = ck["extra"]["gallery"]
    assert info["locations"] == n_places and info["includes_val"] and info["val_locations"] > 0
    test_ll = set(zip(m.loc[m.split == "test", "lat"].round(4), m.loc[m.split == "test", "lon"].round(4)))
    assert not test_ll & set(zip(np.round(g.lat, 4), np.round(g.lon, 4)))
    # The fine-tuned tail was restored, not the pretrained one.
    key = next(k for k in ck["backbone_state"] if k.endswith("weight"))
    assert torch.equal(dict(net.backbone.named_parameters())[key].detach(), ck["backbone_state"][key])


def test_evaluate_cli_on_any_manifest(small_run, tmp_path, small_subset):
    man, out, _ = small_run
    sub = small_subset[small_subset.split == "test"].drop(columns=["split"]).copy()
    sub["image"] = sub["path"]
    m2 = write_manifest(sub, tmp_path / "nosplit.csv")  # no split column: evaluated whole
    m = evaluate_main(["--checkpoint", str(out / "model.pt"), "--data", str(m2), "--out", str(tmp_path / "ev")])
    pred = pd.read_csv(tmp_path / "ev" / "predictions.csv")
    need = {"image", "location_id", "true_lat", "true_lon", "true_country", "pred_lat", "pred_lon", "pred_country",
            "distance_km", "score", "loc_pred_lat", "loc_pred_lon", "loc_pred_country", "top1_prob", "top1_cell"}
    assert need <= set(pred.columns) and len(pred) == len(sub)
    pl = m["per_location"]
    for k in ("country_top1", "median_km", "geoscore_mean", "acc_750km"):
        assert k in pl
    assert 0 <= pl["country_top1"] <= 1 and 0 <= pl["acc_750km"] <= 1
    # the per-location distance is the distance of the fused prediction, repeated on every view
    g = pred.groupby("location_id")["loc_pred_lat"].nunique()
    assert (g == 1).all()


def test_predictor_on_real_views(small_run, shared_manifest):
    _, out, _ = small_run
    p = Predictor.load(out / "model.pt")
    views = shared_manifest[shared_manifest.location_id == shared_manifest.location_id.iloc[0]]["path"].tolist()
    pred = p.predict(views, top_k=3)
    assert pred.n_views == len(views) and len(pred.top) == 3
    assert pred.top[1].prob >= pred.top[2].prob  # after the predicted cell, by probability
    assert pred.top[0].country_code == pred.country_code and (pred.top[0].lat, pred.top[0].lon) == (pred.lat, pred.lon)
    assert abs(sum(pred.cell_probs) - 1) < 1e-6 and -90 <= pred.lat <= 90 and -180 <= pred.lon <= 180
    assert pred.expected_km > 0 and pred.entropy > 0
    one = p.predict(views[0])
    assert one.n_views == 1 and not np.allclose(one.cell_probs, pred.cell_probs)
    cropped = p.predict(views[0], crop=0.3)
    assert cropped.crop == 0.3 and not np.allclose(cropped.cell_probs, one.cell_probs)
    json.dumps(pred.to_dict())
    # the best guess is refined among training places: it is one of the gallery's locations
    assert pred.refined and any(np.isclose(pred.best_lat, p.gallery.lat, atol=1e-4)
                                & np.isclose(pred.best_lon, p.gallery.lon, atol=1e-4))


def test_predict_cli_json_and_bad_file(small_run, shared_manifest, tmp_path):
    _, out, _ = small_run
    img = shared_manifest["path"].iloc[0]
    r = subprocess.run([sys.executable, "-m", "model.predict", img, "--checkpoint", str(out / "model.pt")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert {"top", "lat", "lon", "best_lat", "country", "entropy", "expected_km"} <= set(d)
    bad = tmp_path / "x.jpg"
    bad.write_text("nope")
    r = subprocess.run([sys.executable, "-m", "model.predict", str(bad), "--checkpoint", str(out / "model.pt")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "x.jpg" in r.stderr


def test_train_on_val_uses_every_epoch_and_keeps_no_held_out(small_subset, tmp_path):
    m = small_subset.copy()
    m["image"] = m["path"]
    man = write_manifest(m, tmp_path / "manifest.csv")
    res = train_main(["--data", str(man), "--out", str(tmp_path / "run"), "--mode", "frozen", "--epochs", "3",
                      "--patience", "1", "--train-on-val", "--cells", "country", "--no-eval",
                      "--gallery-settings", '{"top_cells": 3, "temperature": 0.05}', "--cache", str(tmp_path / "c")])
    assert len(res["epochs"]) == 3  # no early stopping, no selection
    ck = torch.load(tmp_path / "run" / "model.pt", map_location="cpu", weights_only=True)
    val_groups = set(small_subset.loc[small_subset.split == "val", "group_id"])
    assert val_groups <= set(ck["extra"]["train_groups"]) and not ck["extra"]["val_groups"]
    g = ck["extra"]["gallery"]
    assert (g["top_cells"], g["temperature"]) == (3, 0.05) and "val_locations" not in g
    assert g["locations"] == small_subset[small_subset.split != "test"].location_id.nunique()  # all have coordinates


def test_evaluate_fills_labels_and_counts_only_what_it_can(small_run, tmp_path, small_subset):
    man, out, _ = small_run
    ck = str(out / "model.pt")
    sub = small_subset[small_subset.split == "test"].copy()
    sub["image"] = sub["path"]
    full = evaluate_main(["--checkpoint", ck, "--data", str(write_manifest(sub, tmp_path / "a.csv")),
                          "--out", str(tmp_path / "a")])
    # No country columns: reverse geocoding labels the rows, as the README says, and the figures stand.
    nolab = write_manifest(sub.drop(columns=["country_code", "country", "admin1"]), tmp_path / "b.csv")
    m = evaluate_main(["--checkpoint", ck, "--data", str(nolab), "--out", str(tmp_path / "b")])
    assert m["per_location"]["country_top1"] == pytest.approx(full["per_location"]["country_top1"])
    # Label-only places (no coordinates) have no cell: cell accuracy is unknown, not 0, and JSON stays strict.
    lab = write_manifest(sub.assign(lat=np.nan, lon=np.nan), tmp_path / "c.csv")
    evaluate_main(["--checkpoint", ck, "--data", str(lab), "--out", str(tmp_path / "c")])
    strict = json.loads((tmp_path / "c" / "metrics.json").read_text(),
                        parse_constant=lambda c: pytest.fail(f"{c} in metrics.json"))
    assert strict["per_location"]["cell_top1"] is None and strict["per_location"]["country_top1"] is not None
    assert strict["per_image"]["country_f1_macro"] is not None
    # --top-k only shortens the lists written, never the top-10 metrics.
    k1 = evaluate_main(["--checkpoint", ck, "--data", str(tmp_path / "a.csv"), "--out", str(tmp_path / "d"),
                        "--top-k", "1"])
    assert k1["per_location"]["cell_top10"] == full["per_location"]["cell_top10"]
    assert pd.read_csv(tmp_path / "d" / "predictions.csv")["cell_rank"].astype(str).str.split().str.len().max() == 1


def test_cli_user_errors_are_one_line_messages(small_run, tmp_path, shared_manifest, capsys):
    from model.predict import main as predict_main

    man, out, _ = small_run
    ck = str(out / "model.pt")
    (tmp_path / "nocol.csv").write_text("picture,lat,lon\na.jpg,1,2\n")
    (tmp_path / "empty.csv").write_text("image,lat,lon\n")
    (tmp_path / "not_a_model.pt").write_bytes(b"\xff\xd8\xff\xe0 a jpeg, not a checkpoint")
    for argv, needle in ((["--data", str(tmp_path / "nocol.csv")], "missing column"),
                         (["--data", str(tmp_path / "empty.csv")], "has no rows"),
                         (["--data", str(man), "--checkpoint", str(tmp_path / "not_a_model.pt")], "not a checkpoint")):
        with pytest.raises(SystemExit, match=f"^error: .*{needle}"):
            evaluate_main(["--checkpoint", ck, "--out", str(tmp_path / "ev")] + argv)
    # Label-only data cannot make geocells: say which scheme works instead of a KeyError.
    lab = shared_manifest[shared_manifest.lat.isna()].head(40).assign(image=lambda d: d["path"])
    with pytest.raises(SystemExit, match="^error: no geocells cells.*--cells country"):
        train_main(["--data", str(write_manifest(lab, tmp_path / "lab.csv")), "--out", str(tmp_path / "r"),
                    "--mode", "frozen", "--cache", str(tmp_path / "cache")])
    # predict: an impossible crop is refused; with --separate an unreadable file does not stop the others.
    img = shared_manifest["path"].iloc[0]
    with pytest.raises(SystemExit):
        predict_main([img, "--checkpoint", ck, "--crop", "1.0"])
    assert "between 0 and 0.5" in capsys.readouterr().err
    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")
    assert predict_main([str(bad), img, "--separate", "--checkpoint", ck]) == 2
    res = json.loads(capsys.readouterr().out)
    assert "bad.jpg" in res[0]["error"] and res[1]["images"] == [img] and "best_lat" in res[1]
