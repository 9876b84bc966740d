"""Explore: where and why does the model fail? Browse an evaluation of the loaded model: a map of the errors,
a table of every location, per-country accuracy, a confusion matrix, country similarity, calibration, a
comparison with another evaluation and a shortcut audit (``app.explore`` holds the widgets and the logic).
With no data on this machine it opens the evaluation shipped with the model (predictions, no images)."""
from __future__ import annotations

import streamlit as st

from app.common.widgets import predictor_or_stop
from app.explore import stats as xs
from app.explore import tabs
from app.explore.audit_tab import audit_tab
from app.explore.calibration_tab import calibration_tab
from app.explore.compare_tab import compare_tab
from app.explore.provenance import same_model
from app.explore.similarity_tab import similarity_tab
from app.explore.source import choose_evaluation
from app.explore.ui import drop_hidden_selection, filters, headline

st.title(":material/travel_explore: Explore the model's errors")
st.caption("Where does the model fail, and why? The filters narrow every tab; each tab says where they do not "
           "apply (the Similarity tab's model-own vectors, the comparison's filters on one model's answers).")
predictor = predictor_or_stop()
src = choose_evaluation(predictor)
ev = src.ev
locs = ev.locations
f = filters(locs)
view = xs.apply_filters(locs, f)
closed = drop_hidden_selection(view)
headline(view, len(locs))
if closed:
    st.caption(closed)
if src.attribution:
    st.caption(f"Images: {src.attribution}")
same = same_model(ev.checkpoint, predictor.path)

t_map, t_table, t_countries, t_conf, t_sim, t_cal, t_cmp, t_audit = st.tabs(tabs.TABS, key="explore_tab",
                                                                            on_change="rerun")
if t_map.open:
    with t_map:
        tabs.map_tab(predictor, view, locs, same)
if t_table.open:
    with t_table:
        tabs.table_tab(predictor, view, locs, same, src.pixels)
if t_countries.open:
    with t_countries:
        tabs.countries_tab(view)
if t_conf.open:
    with t_conf:
        tabs.confusion_tab(predictor, view, locs, same)
if t_sim.open:
    with t_sim:
        similarity_tab(predictor, ev, view)
if t_cal.open:
    with t_cal:
        calibration_tab(view)
if t_cmp.open:
    with t_cmp:
        compare_tab(ev, f)
if t_audit.open:
    with t_audit:
        audit_tab(predictor, ev, view, pixels=src.pixels, writable=src.writable)
