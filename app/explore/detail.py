"""The detail panel of the selected place on the Explore page (Streamlit): its views with Grad-CAM on demand,
the loaded model's top-N guesses (sorted by probability, M marked: ``app.explore.guesses``) and map; for a
place whose images are not on this machine (the shipped evaluation on a machine without its data), the
place, the stored answer and the line on a map, and a sentence saying why the rest is missing.
"""
from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app.common import results as rs
from app.common.formatting import fmt_km
from app.common.photos import load_paths, thumbnail
from app.common.result_map import prediction_map
from app.explore import data as xd
from app.explore import guesses as gs
from app.explore import stats as xs
from app.explore.ui import select, selected_row
from model import explain as ex
from model.data.revgeo import country_name
from model.locks import model_lock

NO_PIXELS = ("The images of this place are not on this machine (this evaluation holds predictions and figures, "
             "not photos): its views, Grad-CAM and the loaded model's full top-N need them. Shown: the place, the "
             "evaluated answer and the line between them. To explore with photos, pick a data set under Data.")


def _live(predictor: Any, row: pd.Series) -> tuple[Any, Any]:
    """(LoadedViews, Prediction of the loaded model) of a location, kept in this session's state."""
    k = (str(predictor.path), row["location_id"])
    got = st.session_state.get("_ex_live")
    if not got or got[0] != k:
        views = load_paths(row["paths"])
        pred = None
        if views.images:
            with model_lock(predictor):
                pred = predictor.predict(views.images, top_k=10)
        got = (k, views, pred)
        st.session_state["_ex_live"] = got
    return got[1], got[2]


def _header(row: pd.Series, key: str) -> None:
    st.divider()
    hd, close = st.columns([6, 1], vertical_alignment="center")
    hd.subheader(f"{country_name(row['true_country']) or '?'} → {country_name(row['pred_country']) or '?'}: "
                 f"{fmt_km(float(row['distance_km']))}")
    close.button("Close", key=f"{key}_close", on_click=select, args=(None,), icon=":material/close:",
                 help="Close this place's detail")


def detail(predictor: Any, locs: pd.DataFrame, key: str, same_model: bool = True) -> None:
    """Detail of the selected location: all views (with Grad-CAM on demand), top-N guesses and map; without
    its images, :func:`stored_detail`."""
    from app.common.widgets import show_map

    row = selected_row(locs)
    if row is None:
        return
    _header(row, key)
    if not xd.pixels_here(row["paths"]):
        stored_detail(predictor, row, key, same_model)
        return
    views, pred = _live(predictor, row)
    for msg in views.errors:
        st.error(msg)
    if pred is None:
        st.error("None of this location's images could be loaded.")
        return
    truth = None if pd.isna(row["true_lat"]) else rs.Truth(float(row["true_lat"]), float(row["true_lon"]), "test set")
    st.caption(f"{xs.source_label(row['source'])} · location {row['location_id']} · {len(views.images)} view(s) · "
               f"{row['true_admin1'] or 'region unknown'}. Top-N, map and Grad-CAM come from the loaded model.")
    top_n = st.slider("Top-N guesses", 1, 10, 5, key=f"{key}_topn")
    show_map(prediction_map(pred, truth, top_n, cells=predictor.cells.table), key=f"{key}_map", height=420,
             legend=["truth", "model", "best", "candidate"] if truth else ["model", "best", "candidate"])
    st.dataframe(rs.guess_table(rs.guess_rows(pred, truth, top_n)), hide_index=True, key=f"{key}_top",
                 width="stretch", column_config=_top_columns())
    note = rs.m_note(pred)
    st.caption("Sorted by probability; **M** marks the model's guess (the predicted place)." +
               (f" {note}" if note else ""))
    _views_and_cam(predictor, views, pred, top_n, key, row["location_id"])


def _top_columns() -> dict:
    return {"#": st.column_config.TextColumn(width=60, help="Rank by probability over every cell; M: the model's "
                                                           "guess"),
            "Probability": st.column_config.NumberColumn(format="%.1f%%", width=90, help="Probability of the cell"),
            "Distance (km)": st.column_config.NumberColumn(format="localized", width=100,
                                                           help="Distance to the actual place"),
            "Score": st.column_config.NumberColumn(format="localized", width=60, help="GeoGuessr points (0..5000)"),
            "Place": st.column_config.TextColumn(width="large"),
            "Country": st.column_config.TextColumn(width="medium", help="The cell's country and that country's "
                                                   "probability over all its cells")}


def stored_detail(predictor: Any, row: pd.Series, key: str, same_model: bool) -> None:
    """A place without its images: the actual place, the evaluated guess and the line on a map, the stored
    ranking of countries (and cells when the evaluation is the loaded model's), and why nothing else."""
    from app.common.widgets import show_map
    from app.explore.maps import errors_map

    st.info(NO_PIXELS, icon=":material/hide_image:")
    st.caption(f"{xs.source_label(row['source'])} · location {row['location_id']} · {int(row['n_views'])} view(s) · "
               f"{row['true_admin1'] or 'region unknown'}.")
    top_n = st.slider("Top-N guesses", 1, 10, 5, key=f"{key}_topn")
    c1, c2 = st.columns([3, 2])
    with c1:
        if pd.isna(row["true_lat"]):
            st.caption("This place has a country label only (no coordinates): there is no line to draw.")
        else:
            show_map(errors_map(pd.DataFrame([row]), row, cluster=False), key=f"{key}_map", height=380,
                     legend=["truth", "model"])
    with c2:
        cells = predictor.cells.table if same_model else None
        st.dataframe(gs.stored_guesses(row, cells, top_n), hide_index=True, key=f"{key}_top", width="stretch")
        st.caption("The evaluated answer's two rankings, best first: its likeliest countries and its likeliest cells "
                   "(each with its own country). The file keeps only the top country's probability.")


def _views_and_cam(predictor: Any, views: Any, pred: Any, top_n: int, key: str, loc: str) -> None:
    c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
    on = c1.toggle("Grad-CAM overlay", key=f"{key}_cam")
    opts = rs.target_options(pred, top_n)
    pick = c2.selectbox("Explain", range(len(opts)), format_func=lambda i: opts[i][0], key=f"{key}_target",
                        disabled=not on)
    cols = st.columns(max(2, min(4, len(views.images))))
    if not on:
        for i, img in enumerate(views.images):
            cols[i % len(cols)].image(thumbnail(img), caption=views.names[i], width="stretch")
        return
    label, target = opts[int(pick) if pick is not None else 0]
    ck = (str(predictor.path), loc, target)
    cam = st.session_state.get("_ex_cam")
    if not cam or cam[0] != ck:
        with st.spinner("Computing Grad-CAM…"):
            cam = (ck, ex.explain(predictor, views.images, target))
        st.session_state["_ex_cam"] = cam
    e = cam[1]
    for i, img in enumerate(views.images):
        cols[i % len(cols)].image(ex.overlay(img, e.cams[i], e.boxes[i], 0.5), caption=f"{views.names[i]}: {label}",
                                  width="stretch")
    r = ex.shortcut_readout(sum(e.cams) / len(e.cams))
    m1, m2 = st.columns(2)
    m1.metric("Heat in the bottom band", f"{r.bottom_share:.0%}", help=f"{r.bottom_area:.0%} of the model's view")
    m2.metric("Heat at the edges", f"{r.edge_share:.0%}", help=f"{r.edge_area:.0%} of the model's view")
    for msg in r.flags():
        st.warning(msg)
