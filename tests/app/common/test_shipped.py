"""The evaluation shipped with a checkpoint (app.common.shipped): packaged without pixels, installed only
for the very checkpoint and manifest bytes it was made from, and Explore's first open on the shipped
model reading it in seconds instead of evaluating 673 images."""
from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app.explore import data as xd
from app.common import shipped
from tests.app.apphelpers import DEFAULT_MODEL, MAIN, SHARED


def _run(tmp_path: Path, image: str = "images/a_0.jpg", name: str = "run") -> Path:
    """A minimal model.evaluate output folder (two images of one location) plus an audit."""
    run = tmp_path / name
    run.mkdir()
    pd.DataFrame({"image": [image, image.replace("_0", "_1")], "location_id": ["a", "a"], "source": ["s", "s"],
                  "split": ["test", "test"], "true_country": ["HR", "HR"], "loc_pred_country": ["HR", "HR"],
                  "true_lat": [45.0, 45.0], "true_lon": [16.0, 16.0], "loc_distance_km": [10.0, 10.0],
                  "loc_score": [4966.0, 4966.0]}).to_csv(run / "predictions.csv", index=False)
    (run / "metrics.json").write_text(json.dumps({"per_location": {"n": 1}, "checkpoint": "/home/me/x.pt"}))
    (run / "audit.csv").write_text("location_id,source\na,s\n")
    (run / "audit.json").write_text(json.dumps({"checkpoint": "/home/me/x.pt", "data": "/home/me/m.csv",
                                                "seconds": 9.0, "overall": {"n": 1}}))
    return run


@pytest.fixture
def model_and_data(tmp_path):
    ck, man = tmp_path / "model.pt", tmp_path / "manifest.csv"
    ck.write_bytes(b"weights v1")
    man.write_text("image,split\nimages/a_0.jpg,test\n")
    return ck, man


def test_package_then_install_round_trip(tmp_path, model_and_data):
    ck, man = model_and_data
    dest = shipped.package(_run(tmp_path), ck, man, "test")
    assert dest == tmp_path / "model.eval"
    names = sorted(p.name for p in dest.iterdir())
    assert names == ["audit.csv", "audit.json", "metrics.json", "predictions.csv.gz", "shipped.json"]  # no pixels
    text = "".join((dest / n).read_text() for n in ("metrics.json", "audit.json", "shipped.json"))
    assert "/home/me" not in text and str(tmp_path) not in text  # nothing of this machine's layout
    info = shipped.read_info(dest)
    assert info["checkpoint_sha256"] == shipped.content_hash(ck) and info["split"] == "test" and info["n_images"] == 2
    first = (dest / "predictions.csv.gz").read_bytes()
    shipped.package(_run(tmp_path, name="again"), ck, man, "test")
    assert (dest / "predictions.csv.gz").read_bytes() == first  # byte-stable: no timestamp in the gzip

    out = tmp_path / "cache" / "eval" / "key"
    assert shipped.install_matching(ck, man, "test", out)
    assert (out / "predictions.csv").read_bytes() == gzip.decompress(first)
    src = json.loads((out / "source.json").read_text())
    assert src["checkpoint"] == str(ck.resolve()) and src["manifest"] == str(man.resolve()) and src["shipped"]
    assert json.loads((out / "audit.json").read_text())["checkpoint"] == str(ck.resolve())  # the local model
    ev = xd.load_evaluation(out)
    assert len(ev.locations) == 1 and ev.checkpoint == str(ck.resolve())


def test_a_changed_model_data_set_or_split_is_not_served_the_shipped_evaluation(tmp_path, model_and_data):
    ck, man = model_and_data
    assert "no evaluation is shipped" in shipped.mismatch(ck, man, "test")
    shipped.package(_run(tmp_path), ck, man, "test")
    assert shipped.mismatch(ck, man, "test") is None
    assert "'test' split" in shipped.mismatch(ck, man, "val")
    man.write_text(man.read_text() + "images/b_0.jpg,test\n")
    assert "data set" in shipped.mismatch(ck, man, "test")
    assert not shipped.install_matching(ck, man, "test", tmp_path / "out") and not (tmp_path / "out").exists()
    shipped.package(_run(tmp_path, name="again"), ck, man, "test")
    assert shipped.mismatch(ck, man, "test") is None
    time.sleep(0.01)
    ck.write_bytes(b"weights, version 2")
    assert "checkpoint changed" in shipped.mismatch(ck, man, "test")
    assert "single file" in shipped.mismatch(ck, tmp_path, "test")


def test_absolute_image_paths_are_never_shipped(tmp_path, model_and_data):
    ck, man = model_and_data
    with pytest.raises(ValueError, match="absolute path"):
        shipped.package(_run(tmp_path, "/data/secret/a_0.jpg"), ck, man, "test")
    with pytest.raises(FileNotFoundError):
        shipped.package(tmp_path / "nothing", ck, man, "test")


def _shared_manifest() -> Path:
    m = SHARED / "manifest.csv"
    if not (m.is_file() and DEFAULT_MODEL.is_file()):
        pytest.skip("shared data or the shipped model missing")
    return m


def test_the_shipped_evaluation_is_that_of_the_shipped_model_on_the_shared_test_split():
    """Fails when default.pt or the shared manifest change without `make shipped-eval`: Explore would then
    evaluate afresh (correct, but slow), and this says why."""
    man = _shared_manifest()
    assert shipped.mismatch(DEFAULT_MODEL, man, "test") is None
    import torch

    stored = torch.load(DEFAULT_MODEL, weights_only=True, map_location="cpu")["metrics"]["test"]["per_location"]
    sidecar = shipped.sidecar_dir(DEFAULT_MODEL)
    m = json.loads((sidecar / "metrics.json").read_text())["per_location"]
    for k in ("n", "country_top1", "country_top3", "cell_top1", "acc_750km"):
        assert m[k] == pytest.approx(stored[k], abs=1e-6), k
    assert m["geoscore_mean"] == pytest.approx(stored["geoscore_mean"], abs=0.5)
    size = sum(p.stat().st_size for p in sidecar.iterdir())
    assert size < 1_000_000 and not any(p.suffix in (".jpg", ".png", ".jpeg") for p in sidecar.iterdir())


def test_first_open_of_explore_on_the_shipped_model_reads_the_shipped_evaluation(real_predictor, tmp_path,
                                                                                  monkeypatch):
    """Item 14: with an empty cache, Explore opens on the shipped model without evaluating (the old code
    evaluated 673 images: 71 s on an idle machine, 487 s under the load of this test machine)."""
    man = _shared_manifest()
    if Path(real_predictor.path).resolve() != DEFAULT_MODEL.resolve():
        pytest.skip("the shipped model is not the loaded one")

    def no_evaluation(*a, **k):
        raise AssertionError("Explore evaluated the shipped model instead of reading its shipped evaluation")

    monkeypatch.setattr(xd, "run_evaluation", no_evaluation)
    monkeypatch.setenv("GEOLOC_DATA", str(man))
    monkeypatch.setenv(xd.CACHE_ENV, str(tmp_path / "cache"))
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.run()
    t0 = time.perf_counter()
    at.switch_page("app_pages/explore.py").run()
    took = time.perf_counter() - t0
    assert not at.exception, at.exception
    assert not at.error and took < 60, took
    assert any(m.value.startswith("**241 of 241 locations**") for m in at.markdown)
    assert next(m.delta for m in at.metric if m.label == "Country accuracy").endswith("n=241")
    assert any("shipped with the model" in c.value for c in at.caption)
    folder = xd.eval_dir_for(real_predictor.path, man, "test")
    assert json.loads((folder / "source.json").read_text())["shipped"]
    if (shipped.sidecar_dir(DEFAULT_MODEL) / "audit.json").is_file():  # the audit tab opens on the shipped audit
        at.session_state["explore_tab"] = "Shortcut audit"
        at.run()
        assert not at.exception and any("Shortcut audit of" in m.value for m in at.markdown)


def test_a_regenerated_shipped_evaluation_replaces_the_copy_installed_before(real_predictor, tmp_path, monkeypatch):
    """The page's cache folder is keyed by the checkpoint and manifest files, which do not change when the
    sidecar is regenerated (here: its audit added, as commit 3403d57 did): the copy installed before must be
    replaced, or Explore keeps saying 'No audit yet' on a model that ships one. An evaluation the page
    computed itself (no 'shipped' in source.json) is never touched."""
    man = _shared_manifest()
    if Path(real_predictor.path).resolve() != DEFAULT_MODEL.resolve():
        pytest.skip("the shipped model is not the loaded one")
    real = shipped.sidecar_dir(DEFAULT_MODEL)
    if not (real / "audit.json").is_file():
        pytest.skip("the shipped evaluation carries no audit")
    side = tmp_path / "default.eval"
    side.mkdir()
    for p in real.iterdir():
        if p.name not in shipped.AUDIT:
            (side / p.name).write_bytes(p.read_bytes())
    monkeypatch.setattr(shipped, "sidecar_dir", lambda checkpoint: side)
    monkeypatch.setenv("GEOLOC_DATA", str(man))
    monkeypatch.setenv(xd.CACHE_ENV, str(tmp_path / "cache"))

    def audit_tab() -> str:
        at = AppTest.from_file(MAIN, default_timeout=120)
        at.switch_page("app_pages/explore.py")
        at.session_state["explore_tab"] = "Shortcut audit"
        at.run()
        assert not at.exception, at.exception
        return "\n".join([m.value for m in at.markdown] + [i.value for i in at.info])

    assert "No audit yet" in audit_tab()  # installed without an audit
    for name in shipped.AUDIT:  # the sidecar is regenerated with its audit; the checkpoint and data are unchanged
        (side / name).write_bytes((real / name).read_bytes())
    assert "Shortcut audit of 241 locations" in audit_tab()
    folder = xd.eval_dir_for(real_predictor.path, man, "test")
    src = json.loads((folder / "source.json").read_text())
    del src["shipped"]  # as if the page had evaluated the model itself: left alone
    (folder / "source.json").write_text(json.dumps(src))
    (folder / "audit.json").unlink()
    assert not shipped.refresh_install(DEFAULT_MODEL, man, "test", folder)
    assert "No audit yet" in audit_tab()
