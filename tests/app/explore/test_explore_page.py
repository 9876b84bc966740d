"""AppTest of the Explore page with the real model on a small evaluation (six real test locations):
first visit computes and caches the evaluation, filters, selection from the picker / the table / the
confusion list, Grad-CAM in the detail, the other tabs, and the audit run from the page."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.explore import data as xd
from app.explore import stats as xs
from tests.app.explore.pages import open_explore
from tests.shared import REPO, tiny_manifest

MAIN = str(REPO / "app" / "main.py")


@pytest.fixture(scope="module")
def page_env(tmp_path_factory, real_predictor):
    """GEOLOC_DATA -> a manifest of six real test locations; the Explore cache in a temporary folder."""
    d = tmp_path_factory.mktemp("explore_page")
    man = tiny_manifest(d / "data" / "manifest.csv",
                        {"gsv_croatia": 2, "screenshots_ui": 1, "gsv_random": 2, "gsv_strips": 1})
    old = {k: os.environ.get(k) for k in ("GEOLOC_DATA", xd.CACHE_ENV)}
    os.environ["GEOLOC_DATA"] = str(man)
    os.environ[xd.CACHE_ENV] = str(d / "cache")
    yield {"manifest": man, "cache": d / "cache", "predictor": real_predictor}
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def explore(tab: str | None = None, **state) -> AppTest:
    return open_explore(tab, timeout=240, **state)


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def shown(at: AppTest) -> str:
    """'6 of 6' from the headline's "**6 of 6 locations** pass the filters" line."""
    import re

    return next(m.group(1) for x in at.markdown if (m := re.match(r"\*\*([\d,]+ of [\d,]+) locations\*\*", x.value)))


def evaluation(env) -> xd.Evaluation:
    folder = xd.eval_dir_for(env["predictor"].path, env["manifest"], "test")
    return xd.load_evaluation(folder)


def test_first_visit_evaluates_once_and_caches(page_env):
    folder = xd.eval_dir_for(page_env["predictor"].path, page_env["manifest"], "test")
    assert not folder.exists()
    at = explore()
    assert "Explore" in at.title[0].value
    assert xd.has_evaluation(folder) and (folder / "source.json").is_file()
    ev = xd.load_evaluation(folder)
    assert len(ev.locations) == 6 and ev.info["split"] == "test"
    assert shown(at) == "6 of 6"
    assert any("6 test places: 5 with coordinates" in c.value for c in at.caption)  # app.common.heldout wording
    stamp = xd.folder_stamp(folder)
    explore()
    assert xd.folder_stamp(folder) == stamp  # read from the cache, not recomputed


def test_an_evaluation_folder_can_be_opened(page_env, tmp_path):
    folder = xd.eval_dir_for(page_env["predictor"].path, page_env["manifest"], "test")
    at = explore(ex_mode="folder", ex_folder=str(folder))
    assert shown(at) == "6 of 6"
    at = explore(ex_mode="folder", ex_folder=str(tmp_path / "nothing"))
    assert any("No predictions.csv" in e.value for e in at.error) and not at.metric


def test_filters_drive_the_headline(page_env):
    ev = evaluation(page_env)
    at = explore()
    at.pills(key="ex_f_source").set_value(["gsv_random", "screenshots_ui"]).run()
    assert shown(at) == "3 of 6"
    at.pills(key="ex_f_source").set_value([]).run()
    at.select_slider(key="ex_f_err").set_value(("200 km", "any")).run()
    n = len(xs.apply_filters(ev.locations, xs.Filters(min_km=200.0)))
    assert shown(at) == f"{n} of 6"
    # the headline is about the predicted place (M); its help gives the expected-score guess (E) too
    at.select_slider(key="ex_f_err").set_value(("0 km", "any")).run()
    from app.common.formatting import fmt_km

    med_e = fmt_km(float(ev.locations["best_distance_km"].dropna().median()))
    help_text = next(m.help for m in at.metric if m.label == "Median error")
    assert "expected-score guess (E" in help_text and f"median {med_e}" in help_text


def test_picking_a_location_opens_the_detail_with_gradcam(page_env):
    ev = evaluation(page_env)
    loc = ev.locations[ev.locations["true_lat"].notna()].iloc[0]
    at = explore()
    at.selectbox(key="ex_pick_map").set_value(loc["location_id"]).run()
    assert not at.exception, at.exception
    assert at.session_state["explore_sel"] == loc["location_id"]
    assert any("→" in s.value for s in at.subheader)
    top = next(d.value for d in at.dataframe if "Place" in d.value.columns)  # top-N guesses
    assert top["Probability"].tolist() == sorted(top["Probability"], reverse=True)  # issue 22.2
    assert top["#"].str.endswith("· M").sum() == 1 and {"Distance (km)", "Score"} <= set(top.columns)
    at.toggle(key="ex_d_map_cam").set_value(True).run()
    assert not at.exception, at.exception
    assert 0 <= float(metric(at, "Heat in the bottom band").rstrip("%")) <= 100
    at.button(key="ex_d_map_close").click().run()
    assert at.session_state["explore_sel"] is None and not any("→" in s.value for s in at.subheader)


def test_table_has_thumbnails_and_a_row_selects(page_env):
    at = explore("Table")
    table = next(d.value for d in at.dataframe if "Photo" in d.value.columns)
    assert len(table) == 6 and table["Photo"].str.startswith("data:image/jpeg;base64,").all()
    d = table["Distance (km)"].dropna().tolist()
    assert d == sorted(d, reverse=True)  # worst first
    assert list(Path(page_env["cache"], "thumbs").rglob("*.jpg"))  # thumbnails cached on disk, not in the repo
    at.session_state["ex_table"] = {"selection": {"rows": [1]}}
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["explore_sel"] == table["Location"].iloc[1]


def test_confusion_pair_lists_its_images(page_env):
    at = explore("Confusion")
    pairs = [o for o in at.selectbox(key="ex_pair").options if o != "—"]
    assert pairs
    at.selectbox(key="ex_pair").select_index(1).run()
    assert not at.exception, at.exception
    assert any("location(s)" in m.value for m in at.markdown)
    opened = [b for b in at.button if b.key and b.key.startswith("ex_open_")]
    assert opened
    opened[0].click().run()
    assert at.session_state["explore_sel"] == opened[0].key.removeprefix("ex_open_")


@pytest.mark.parametrize("tab", ["Countries", "Calibration", "Similarity"])
def test_other_tabs_render(page_env, tab):
    at = explore(tab, ex_sim_src="weights")
    if tab == "Countries":  # one readable table (names, n, interval, precision / F1), no raw scikit-learn report
        table = next(d.value for d in at.dataframe if "Accuracy" in d.value.columns)
        assert {"Country", "Locations", "95% interval", "Precision", "F1"} <= set(table.columns)
        assert not any("precision" in d.value.columns or "support" in d.value.columns for d in at.dataframe)
        assert "Croatia" in set(table["Country"]) and table["Locations"].sum() == 6
        assert any("indicative" in c.value for c in at.caption)
    elif tab == "Calibration":
        conf, acc, gap = (metric(at, k) for k in ("Mean confidence", "Accuracy", "Over-confidence"))
        assert float(gap.split()[0]) == pytest.approx(float(conf[:-1]) - float(acc[:-1]), abs=1e-6)
        assert next(m.delta for m in at.metric if m.label == "Over-confidence") == f"{conf} − {acc}"
    else:  # only countries with enough training locations, and how many were left out
        from app.explore import embed as xe

        counts = xe.weight_counts(page_env["predictor"])
        table = next(d.value for d in at.dataframe if "Continent" in d.value.columns)
        assert len(table) == sum(n >= xe.MIN_PLACES for n in counts.values())
        assert any("left out with fewer" in c.value for c in at.caption)


def test_audit_runs_from_the_page_are_the_visitors_own(page_env):
    """Issue 22.3: a visitor's run is kept in their session beside the shared audit, labelled with its size;
    it is not written where every visitor reads (the old page wrote audit.json into the evaluation's folder,
    replacing the full audit for everyone without asking)."""
    folder = xd.eval_dir_for(page_env["predictor"].path, page_env["manifest"], "test")
    at = explore("Shortcut audit")
    assert any("No audit yet" in i.value for i in at.info)
    at.number_input(key="ex_audit_n").set_value(2)
    at.button(key="ex_audit_go").click().run()
    assert not at.exception, at.exception
    assert not (folder / "audit.json").exists() and not (folder / "audit.csv").exists()  # nothing shared written
    assert any("· Your run: 2 places (sample, seed 0)" in m.value for m in at.markdown)
    assert any(m.label == "Heat in the bottom band" for m in at.metric)
    by = next(d.value for d in at.dataframe if "Source" in d.value.columns).set_index("Source")
    assert by.loc["All sources", "Locations"] == 2 and by.drop("All sources")["Locations"].sum() == 2
    assert (by["Sample"] == "indicative").all()  # 2 locations say little, and the page says so
    assert any("Indicative" in m.value for m in at.markdown)
    other = explore("Shortcut audit")  # another visitor: still no audit
    assert any("No audit yet" in i.value for i in other.info)
    # an explicit, confirmed choice makes the run the shared audit
    assert at.button(key="ex_audit_replace_go").disabled
    at.checkbox(key="ex_audit_replace_ok").check().run()
    at.button(key="ex_audit_replace_go").click().run()
    assert not at.exception, at.exception
    assert (folder / "audit.json").is_file()
    other = explore("Shortcut audit")
    assert any("Shared audit: 2 places" in m.value and "by a visitor" in m.value for m in other.markdown)


def test_a_small_run_never_replaces_the_full_shared_audit(page_env):
    """The full audit stays what everyone sees when a visitor runs 1 place, and the visitor can switch."""
    folder = xd.eval_dir_for(page_env["predictor"].path, page_env["manifest"], "test")
    import json

    from model import audit as au

    rows, doc = au.read_audit(folder) if au.read_audit(folder) else (None, None)
    if rows is None:
        pytest.skip("no shared audit (run after the test above)")
    doc["limit"], doc["replaced"] = None, None
    au.write_audit(folder, rows, {k: v for k, v in doc.items() if k not in ("overall", "by_source")})
    before = (folder / "audit.json").read_text()
    at = explore("Shortcut audit")
    assert any("· Shared audit: all 2 places" in m.value for m in at.markdown)
    at.number_input(key="ex_audit_n").set_value(1)
    at.button(key="ex_audit_go").click().run()
    assert (folder / "audit.json").read_text() == before
    labels = at.radio(key="ex_audit_show").options
    assert labels[0].startswith("Shared audit: all 2 places") and labels[1].startswith("Your run 1: 1 place")
    assert any("· Your run: 1 place" in m.value for m in at.markdown)
    at.radio(key="ex_audit_show").set_value(0).run()
    assert any("· Shared audit: all 2 places" in m.value for m in at.markdown)
    assert json.loads(before)["overall"]["n"] == 2


def _use(path) -> dict:
    """Session state choosing the data set at ``path`` (what the data-set picker's path box does)."""
    from app.common import datasets as ds

    d = ds.custom_dataset(path)
    return {ds.SESSION_KEY: d.key, ds.CUSTOM_KEY: {d.key: str(d.manifest)}}


def test_bad_manifests_and_non_held_out_splits_are_flagged(page_env, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("image,lat,lon\na.jpg,abc,2\n")
    at = explore(**_use(bad))
    assert "cannot be used" in at.error[0].value and "line 2" in at.error[0].value  # a message, not a traceback
    at = explore(ex_split="val")  # the tiny manifest holds test rows only
    assert "no images in the val split" in at.error[0].value
    import pandas as pd

    val = pd.read_csv(page_env["manifest"], keep_default_na=False, dtype=str)
    val = val[val["location_id"].isin(val["location_id"].unique()[:2])].assign(split="val")
    val.to_csv(tmp_path / "val.csv", index=False)
    at = explore(**_use(tmp_path / "val.csv"), ex_split="val")
    assert not at.error and any("flatter the model" in w.value for w in at.warning)


def test_each_data_set_is_evaluated_on_first_open_and_cached_apart(page_env, tmp_path):
    """Issue 19: Explore on the session's data set (app.common.datasets), evaluated once per data set."""
    import pandas as pd

    first = xd.eval_dir_for(page_env["predictor"].path, page_env["manifest"], "test")
    df = pd.read_csv(page_env["manifest"], keep_default_na=False, dtype=str)
    df[df["location_id"].isin(df["location_id"].unique()[:2])].to_csv(tmp_path / "two.csv", index=False)
    at = explore(**_use(tmp_path / "two.csv"))
    assert shown(at) == "2 of 2"
    second = xd.eval_dir_for(page_env["predictor"].path, tmp_path / "two.csv", "test")
    assert second != first and xd.has_evaluation(second) and xd.has_evaluation(first)
    stamp = xd.folder_stamp(second)
    at = explore(**_use(tmp_path / "two.csv"))
    assert xd.folder_stamp(second) == stamp and shown(at) == "2 of 2"  # cached, not evaluated again


def test_a_place_the_filters_hide_does_not_stay_open(page_env):
    """Issue 22.8 on a data set with its images: the old page kept the hidden place's detail and its line."""
    explore()  # evaluated (once) on first open
    ev = evaluation(page_env)
    row = ev.locations[ev.locations["true_lat"].notna()].iloc[0]
    other = sorted(set(ev.locations["source"]) - {row["source"]})[0]
    at = explore(explore_sel=row["location_id"], ex_f_source=[other])
    assert at.session_state["explore_sel"] is None
    assert not any("→" in s.value for s in at.subheader)
