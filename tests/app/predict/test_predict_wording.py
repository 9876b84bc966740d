"""Issue 22 item 11 (Predict): Grad-CAM has a colour scale; the test-set picker has a hidden-answer mode (its
labels gave the answer away: "#1: United States, Texas"). The fake predictor keeps these quick; the
not-a-street-photo answer in small print is in ``test_app_predict_odd.py`` (real model and calibration)."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image



def test_gradcam_overlay_has_a_colour_scale(at):
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 120, 60)).save(buf, "PNG")
    at.file_uploader(key="upload_files").set_value([("a.png", buf.getvalue(), "image/png")]).run()
    assert not any("colour scale" in m.value for m in at.markdown)  # off: no overlay, no scale
    at.toggle(key="cam_on").set_value(True).run()
    assert not at.exception, at.exception
    scale = next(m.value for m in at.markdown if "Grad-CAM colour scale" in m.value)
    assert "linear-gradient(to right, rgb(0,0,128) 0%" in scale and "rgb(128,0,0) 100%" in scale
    assert "0: no contribution" in scale and "1: strongest" in scale and 'role="img"' in scale


def test_colour_scale_is_the_overlays_colour_map():
    import numpy as np

    from model import explain as ex

    css = ex.colour_scale_css(5)
    stops = [tuple(int(v) for v in m) for m in re.findall(r"rgb\((\d+),(\d+),(\d+)\)", css)]
    want = [tuple(int(round(c * 255)) for c in ex._jet(np.array([v]))[0]) for v in (0, 0.25, 0.5, 0.75, 1)]
    assert stops == want


def test_the_test_set_can_be_picked_without_seeing_the_answers(at):
    at.segmented_control(key="source").set_value("Test set").run()
    if at.warning and any("No test set" in w.value for w in at.warning):
        pytest.skip("no test set here")
    sel = at.selectbox(key="test_idx")
    assert any(":" in o for o in sel.options)  # the default names places: '#1: United States, Texas (4 views)'
    assert any(m.label == "Distance (M)" for m in at.metric)
    at.toggle(key="test_blind").set_value(True).run()
    assert not at.exception, at.exception
    sel = at.selectbox(key="test_idx")
    assert all(re.fullmatch(r"Test place #\d+ \(\d+ views?\)", o) for o in sel.options), sel.options[:3]
    assert sel.label.endswith("answers hidden)")
    assert not any(m.label.startswith(("Distance", "Score")) for m in at.metric)
    assert any("actual location hidden" in c.value for c in at.caption)
    table = next(d.value for d in at.dataframe if "Place" in d.value.columns)
    assert "Distance (km)" not in table.columns
    i = int(sel.value)
    at.toggle(key=f"test_reveal_{i}").set_value(True).run()
    assert any(m.label == "Distance (M)" for m in at.metric)
    assert any("actual location from the test set" in c.value for c in at.caption)
