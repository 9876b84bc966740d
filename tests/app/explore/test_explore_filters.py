"""Issue 22.8: Explore's filters apply to every tab or the tab says where they do not; a selected place the
filters hide is closed (no detail, no line on the map). On the shipped evaluation (no images needed)."""
from __future__ import annotations

from app.common import shipped
from app.explore import data as xd
from tests.app.apphelpers import DEFAULT_MODEL
from tests.app.explore.pages import open_explore


def _locs():
    return xd.load_evaluation(shipped.sidecar_dir(DEFAULT_MODEL)).locations


def test_a_selected_place_the_filters_hide_is_closed(no_data):
    locs = _locs()
    hr = locs[(locs["true_country"] == "HR") & locs["true_lat"].notna()].iloc[0]["location_id"]
    at = open_explore("Map", explore_sel=hr)
    assert any("→" in s.value for s in at.subheader)  # open
    at.multiselect(key="ex_f_country").set_value(["US"]).run()
    assert not at.exception, at.exception
    assert at.session_state["explore_sel"] is None
    assert not any("→" in s.value for s in at.subheader)  # no detail panel (and so no line on the map)
    assert any("hidden by the filters" in c.value for c in at.caption)


def test_the_audit_follows_the_filters(no_data):
    locs = _locs()
    n_hr = int((locs["true_country"] == "HR").sum())
    at = open_explore("Shortcut audit", ex_f_country=["HR"])
    head = next(m.value for m in at.markdown if "· Shared audit" in m.value)
    assert head.startswith(f"**Shortcut audit of {n_hr} locations** (the filters keep {n_hr} of its 241 places)")
    by = next(d.value for d in at.dataframe if "Source" in d.value.columns).set_index("Source")
    assert by.loc["All sources", "Locations"] == n_hr


def test_similarity_says_which_vectors_the_filters_shape(no_data):
    at = open_explore("Similarity", ex_sim_src="weights", ex_f_country=["HR", "US"])
    assert any("The filters do not apply here" in c.value for c in at.caption)
    at = open_explore("Similarity", ex_sim_src="soft", ex_sim_min=1, ex_f_country=["HR", "US", "CA"])
    n = int(_locs()["true_country"].isin(["HR", "US", "CA"]).sum())
    assert any(f"Built from the {n} of 241 places that pass the filters" in c.value for c in at.caption)
