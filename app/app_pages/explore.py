"""Explore: where and why does the model fail? Browse an evaluation of the loaded model on a test
set: a map of the errors, a table of every location, per-country accuracy, a confusion matrix,
country similarity, calibration and a shortcut audit (``app.explore`` holds the widgets and the logic)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.explore import stats as xs
from app.explore import tabs
from app.explore.audit_tab import audit_tab
from app.explore.source import choose_evaluation
from app.explore.ui import filters, headline
from app.common.widgets import predictor_or_stop

st.title(":material/travel_explore: Explore the model's errors")
st.caption("Where does the model fail, and why? Evaluated on the held-out test split unless you pick another under "
           "Data; the filters apply to every tab.")
predictor = predictor_or_stop()
ev = choose_evaluation(predictor)
locs = ev.locations
view = xs.apply_filters(locs, filters(locs))
headline(view, len(locs))
same_model = not ev.checkpoint or Path(ev.checkpoint).resolve() == Path(predictor.path).resolve()

t_map, t_table, t_countries, t_conf, t_sim, t_cal, t_audit = st.tabs(tabs.TABS, key="explore_tab", on_change="rerun")
if t_map.open:
    with t_map:
        tabs.map_tab(predictor, view, locs)
if t_table.open:
    with t_table:
        tabs.table_tab(predictor, view, locs)
if t_countries.open:
    with t_countries:
        tabs.countries_tab(view)
if t_conf.open:
    with t_conf:
        tabs.confusion_tab(predictor, view, locs, same_model)
if t_sim.open:
    with t_sim:
        tabs.similarity_tab(predictor, ev, view)
if t_cal.open:
    with t_cal:
        tabs.calibration_tab(view)
if t_audit.open:
    with t_audit:
        audit_tab(predictor, ev)
