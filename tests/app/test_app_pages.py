"""AppTest of every page with the real ``Predictor`` class and real shared images.

The model is the shipped ``assets/models/default.pt`` when present, else a checkpoint made here
with the real pretrained backbone and an untrained head (the page flow is the same).
"""
from __future__ import annotations

import os
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.app.apphelpers import MAIN, TIMEOUT, jpeg_with_gps, metric


def app() -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error] + [w.value for w in at.warning]
    parts += [i.value for i in at.info] + [c.value for c in at.caption] + [s.value for s in at.subheader]
    parts += [f"{m.label}={m.value}" for m in at.metric]
    return "\n".join(str(p) for p in parts)


def top_table(at: AppTest):
    return next(d.value for d in at.dataframe if "Place" in d.value.columns)


def upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    at.file_uploader(key="upload_files").set_value([(n, b, "image/jpeg") for n, b in files]).run()
    assert not at.exception, at.exception
    return at


def test_navigation_lists_the_pages(model_env):
    """main.py registers Predict, Your photos, Play, Explore and About, each at its own URL, plus a hidden default
    page that forwards the root URL to /predict (a default page is only served at "/"); the Play and
    Explore pages are tested by their own suites, so here they are only checked to exist."""
    import ast

    src = Path(MAIN).read_text()
    calls = sorted((c for c in ast.walk(ast.parse(src)) if isinstance(c, ast.Call) and getattr(c.func, "attr", "") == "Page"),
                   key=lambda c: c.lineno)
    files = [c.args[0].value for c in calls if isinstance(c.args[0], ast.Constant)]
    assert files == ["app_pages/predict.py", "app_pages/photos.py", "app_pages/play.py", "app_pages/explore.py",
                     "app_pages/about.py"]
    assert all((Path(MAIN).parent / p).is_file() for p in files)
    kw = [{k.arg: getattr(k.value, "value", None) for k in c.keywords} for c in calls]
    assert [k.get("url_path") for k in kw] == ["predict", "photos", "play", "explore", "about", "start"]
    assert [k.get("default") for k in kw] == [None] * 5 + [True] and kw[-1]["visibility"] == "hidden"
    at = app()  # the root forwards to Predict
    assert "Where was this photo taken" in at.title[0].value


def test_upload_real_image_predicts_with_exif_truth_and_distances(model_env, shared_test_image):
    path, lat, lon = shared_test_image
    at = upload(app(), ("street.jpg", jpeg_with_gps(path, lat, lon)))
    body = texts(at)
    assert "GPS coordinates in its EXIF data" in body
    assert metric(at, "Country confidence") and metric(at, "Expected error")
    assert metric(at, "Distance (M)").endswith(("km", "m"))
    score = int(metric(at, "Score (M)").replace(",", ""))
    assert 0 <= score <= 5000
    table = top_table(at)
    assert len(table) == 5 and {"Distance (km)", "Score", "Probability"} <= set(table.columns)
    assert (table["Probability"].diff().dropna() <= 0).all()
    at.slider(key="top_n").set_value(3).run()
    assert len(top_table(at)) == 3


def test_upload_several_views_without_gps(model_env, shared_test_image):
    path, _, _ = shared_test_image
    data = path.read_bytes()
    at = upload(app(), ("v0.jpg", data), ("v1.jpg", data))
    assert "EXIF" not in texts(at)
    assert any("2 view(s)" in c.value for c in at.caption)
    assert "Distance (M)" not in [m.label for m in at.metric]  # no truth, no distance
    assert metric(at, "Country confidence")


def test_camera_photo(model_env, shared_test_image):
    path, _, _ = shared_test_image
    at = app()
    at.segmented_control(key="source").set_value("Camera").run()
    at.camera_input(key="camera_shot").set_value(("camera.jpg", path.read_bytes(), "image/jpeg")).run()
    assert not at.exception, at.exception
    assert metric(at, "Country confidence") and any("camera photo" in c.value for c in at.caption)


def test_gradcam_on_and_shortcut_test(model_env, shared_test_image):
    path, lat, lon = shared_test_image
    at = upload(app(), ("street.jpg", jpeg_with_gps(path, lat, lon)))
    at.toggle(key="cam_on").set_value(True).run()
    assert not at.exception, at.exception
    share = metric(at, "Heat in the bottom band")
    assert share.endswith("%") and 0 <= int(share[:-1]) <= 100
    assert metric(at, "Heat at the edges").endswith("%")
    assert len(at.get("image")) >= 1
    sel = next(s for s in at.selectbox if s.key and s.key.startswith("cam_target_"))
    sel.set_value(1).run()  # the predicted country as target
    assert not at.exception, at.exception
    at.radio(key="hide_what").set_value("Both").run()
    at.button(key="hide_go").click().run()
    assert not at.exception, at.exception
    assert metric(at, "The guess moved")
    assert metric(at, "Distance to the truth")


def test_test_set_image_with_truth(model_env):
    at = app()
    at.segmented_control(key="source").set_value("Test set").run()
    assert not at.exception, at.exception
    at.selectbox(key="test_idx").set_value(3).run()
    assert not at.exception, at.exception
    assert "actual location from the test set" in texts(at)
    assert metric(at, "Distance (M)")
    assert "Distance (km)" in top_table(at).columns


def test_corrupt_and_unsupported_files_get_clear_messages(model_env, shared_test_image):
    path, _, _ = shared_test_image
    at = upload(app(), ("broken.jpg", b"\xff\xd8\xff\xe0 not really a jpeg"))
    errs = [e.value for e in at.error]
    assert any("broken.jpg" in e and ("corrupt" in e or "not a recognised" in e) for e in errs), errs
    assert not at.metric  # nothing predicted, page alive
    # other extensions are refused by the uploader itself (type=[jpg, jpeg, png, webp])
    at = upload(app(), ("broken.png", b"garbage"), ("good.jpg", path.read_bytes()), ("empty.webp", b""))
    errs = [e.value for e in at.error]
    assert len(errs) == 2 and any("empty file" in e for e in errs), errs
    assert metric(at, "Country confidence")  # the good view still predicted


def test_streetview_without_key_says_so(model_env, monkeypatch):
    for v in ("GOOGLE_MAPS_API_KEY", "GSV_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(v, raising=False)
    at = app()
    at.segmented_control(key="source").set_value("Street View").run()
    at.text_input[0].set_value("45.8150, 15.9819")
    at.button[0].click().run()  # the form's submit button
    assert not at.exception, at.exception
    assert any("No Street View API key" in e.value for e in at.error)


def test_streetview_bad_link_says_so(model_env, monkeypatch):
    monkeypatch.setenv("GOOGLE_MAPS_API_KEY", "whatever")
    at = app()
    at.segmented_control(key="source").set_value("Street View").run()
    at.text_input[0].set_value("https://example.com/not-a-map")
    at.button[0].click().run()
    assert any("link or those coordinates could not be used" in e.value for e in at.error)
    at.text_input[0].set_value("95, 200")
    at.button[0].click().run()
    assert any("out of range" in e.value for e in at.error)


def test_about_page_model_card(model_env):
    at = app()
    at.switch_page("app_pages/about.py").run()
    assert not at.exception, at.exception
    body = texts(at)
    assert "Backbone" in str(at.table[0].value) and "efficientnet" in str(at.table[0].value).lower()
    assert "never leave this machine" in body and "Grad-CAM" in body
    assert len(at.dataframe[-1].value) >= 1
    from model.net.checkpoint import DEFAULT_CHECKPOINT

    shipped = os.environ.get("GEOLOC_MODEL") is None
    assert any(h.value == ("Test metrics of the shipped model" if shipped else "Test metrics of `dev.pt`")
               for h in at.header), [h.value for h in at.header]
    assert DEFAULT_CHECKPOINT.is_file() == shipped


def test_about_page_names_a_checkpoint_other_than_the_shipped_one(model_env, tmp_path, monkeypatch):
    from app.common.resources import clear_all
    from tests.app.apphelpers import make_dev_checkpoint

    monkeypatch.setenv("GEOLOC_MODEL", str(make_dev_checkpoint(tmp_path / "mine.pt")))
    clear_all()
    try:
        at = app()
        at.switch_page("app_pages/about.py").run()
        assert not at.exception, at.exception
        heads = [h.value for h in at.header]
        assert "Test metrics of `mine.pt`" in heads and "Test metrics of the shipped model" not in heads
    finally:
        monkeypatch.undo()  # the session's model setting back, then the caches that hold "mine.pt" cleared
        clear_all()


def test_test_set_picker_follows_an_edited_manifest(model_env, tmp_path, monkeypatch):
    """The picker's places and the caption's count come from the same manifest: after the file is edited
    (places added while the server runs) both show the new places; the picker's cached table was keyed by
    the path alone and kept the old list while the caption (keyed by modification time) counted the new one."""
    import time

    import pandas as pd

    from tests.app.apphelpers import SHARED

    if not (SHARED / "manifest.csv").is_file():
        import pytest

        pytest.skip("shared data not found")
    df = pd.read_csv(SHARED / "manifest.csv", keep_default_na=False, dtype=str)
    df["image"] = [str(SHARED / i) for i in df["image"]]
    test = df[(df["split"] == "test") & (df["lat"] != "")]
    ids = test["location_id"].drop_duplicates().tolist()
    man = tmp_path / "manifest.csv"
    df[df["split"] == "test"][lambda d: d["location_id"].isin(ids[:3])].to_csv(man, index=False)
    monkeypatch.setenv("GEOLOC_DATA", str(man))
    at = app()
    at.segmented_control(key="source").set_value("Test set").run()
    assert len(at.selectbox(key="test_idx").options) == 3
    time.sleep(0.01)
    df[df["split"] == "test"][lambda d: d["location_id"].isin(ids[:5])].to_csv(man, index=False)
    at.run()
    assert not at.exception, at.exception
    assert any("one of the 5 held-out test places" in c.value for c in at.caption), [c.value for c in at.caption]
    assert len(at.selectbox(key="test_idx").options) == 5
