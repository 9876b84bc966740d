"""Issue 19.1: Explore on a machine with no data at all (no ../shared, no data/, no GEOLOC_DATA) opens the
evaluation shipped with the model (predictions and metrics, no pixels): every tab that needs only predictions
works, and where a view needs the images it shows the place and says that they are not on this machine.
(The old page stopped at "No data found: set GEOLOC_DATA, ...".)"""
from __future__ import annotations

import pytest

from app.common import shipped
from app.explore import data as xd
from tests.app.apphelpers import DEFAULT_MODEL
from tests.app.explore.pages import open_explore


def explore(tab: str | None = None, **state):
    return open_explore(tab, **state)


def test_explore_opens_the_shipped_evaluation_without_any_data(no_data):
    at = explore()
    assert not at.error, [e.value for e in at.error]
    assert any(m.value.startswith("**241 of 241 locations**") for m in at.markdown)
    assert next(m.delta for m in at.metric if m.label == "Country accuracy").endswith("n=241")
    assert any("No data set on this machine" in i.value for i in at.info)
    assert any("images are not on this machine" in c.value for c in at.caption)
    assert not (no_data / "cache").exists() or not any((no_data / "cache").rglob("predictions.csv"))  # read in place


def test_the_shipped_evaluation_also_names_the_three_routes(no_data):
    """Issue 19.6: Explore opened on the shipped evaluation (no data set) still says how to get photos, with
    the exact commands and the demo button, in the expander its note points to."""
    from app.common import datasets as ds

    at = explore()
    assert any("*Get a data set* below" in i.value for i in at.info)
    body = "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.code)
    for route in ("Your own photos", "open demo set", "manifest CSV or shard folder", ds.DEMO_COMMAND,
                  ds.PHOTOS_COMMAND):
        assert route in body, route
    assert [b for b in at.button if b.key == "ex_shipped_nodata_demo"]


@pytest.mark.parametrize("tab", ["Map", "Table", "Countries", "Confusion", "Similarity", "Calibration",
                                 "Shortcut audit"])
def test_every_prediction_only_tab_works_without_images(no_data, tab):
    at = explore(tab, ex_sim_src="soft")
    assert not at.error, [e.value for e in at.error]
    if tab == "Table":
        table = next(d.value for d in at.dataframe if "Photo" in d.value.columns)
        assert len(table) == 241 and table["Photo"].isna().all()
        assert any("not on this machine" in c.value for c in at.caption)
    elif tab == "Countries":
        assert any("Accuracy" in d.value.columns for d in at.dataframe)
    elif tab == "Shortcut audit":  # the shipped full audit, and no run without the images
        assert any("Shortcut audit of 241 locations" in m.value for m in at.markdown)
        assert any("needs the images" in i.value for i in at.info)
        assert not [b for b in at.button if b.key == "ex_audit_go"]


def test_a_place_without_its_images_shows_the_place_and_says_why(no_data):
    ev = xd.load_evaluation(shipped.sidecar_dir(DEFAULT_MODEL))
    loc = ev.locations[ev.locations["true_lat"].notna()].iloc[0]["location_id"]
    at = explore("Map", explore_sel=loc)
    assert not at.error, [e.value for e in at.error]
    assert any("images of this place are not on this machine" in i.value for i in at.info)
    top = next(d.value for d in at.dataframe if "Likeliest countries" in d.value.columns)
    assert len(top) == 5 and "Likeliest cells" in top.columns  # the stored rankings, cells named by the loaded model
    assert not [t for t in at.toggle if t.key == "ex_d_map_cam"]  # no Grad-CAM without the pixels


def test_without_data_or_a_shipped_evaluation_the_page_names_the_three_routes(no_data, monkeypatch):
    """Issue 19.6: the empty state says what to do (your photos, the demo set, a manifest), with the commands."""
    from app.common import datasets as ds

    monkeypatch.setattr(shipped, "shipped_folder", lambda checkpoint: None)
    at = explore()
    body = "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.code)
    assert any("no data set on this machine" in w.value for w in at.warning)
    for route in ("Your own photos", "open demo set", "manifest CSV or shard folder", ds.DEMO_COMMAND,
                  ds.PHOTOS_COMMAND):
        assert route in body, route
    assert not at.metric  # nothing pretends to be an evaluation
