"""Streamlit sections of the Explore page shared by its tabs: the selection, the filters, the headline
numbers and the detail panel of the selected location (the data source is ``app.explore.source``).
The logic lives in the pure modules of ``app.explore`` and ``app.common``.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd
import streamlit as st

from app.common import results as rs
from app.common import uncertainty as un
from app.common.formatting import fmt_km
from app.common.photos import load_paths, thumbnail
from app.common.result_map import prediction_map
from app.explore import stats as xs
from model import explain as ex
from model.locks import model_lock
from model.geo import geoscore
from model.data.revgeo import country_name

SEL = "explore_sel"  # session key: the selected location_id


def select(loc_id: str | None) -> None:
    """Make ``loc_id`` the selected location (None clears it)."""
    st.session_state[SEL] = loc_id


def selected_row(locs: pd.DataFrame) -> pd.Series | None:
    """The row of the selected location, or None."""
    sel = st.session_state.get(SEL)
    hit = locs[locs["location_id"] == sel] if sel else locs.iloc[0:0]
    return hit.iloc[0] if len(hit) else None


def progress_callback(bar: Any, what: str) -> Callable[[int, int, str], None]:
    """A ``(done, total, message)`` callback that moves ``st.progress`` bar ``bar``."""
    def cb(done: int, total: int, _msg: str) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{what}: {done} of {total}")
    return cb


def filters(locs: pd.DataFrame) -> xs.Filters:
    """Filter widgets (country, source, right/wrong, error range, confidence)."""
    c = st.columns([2.2, 1.8, 1.3, 2.2, 1.8])
    codes = sorted(set(locs["true_country"]) - {""}, key=lambda k: country_name(k))
    countries = c[0].multiselect("Country (actual)", codes, format_func=lambda k: f"{country_name(k)} ({k})",
                                 key="ex_f_country", placeholder="All countries")
    sources = c[1].multiselect("Source", sorted(set(locs["source"]), key=xs.source_label), key="ex_f_source",
                               placeholder="All sources", format_func=xs.source_label)
    rw = c[2].selectbox("Country guess", xs.RIGHT_WRONG, key="ex_f_rw")
    lo, hi = c[3].select_slider("Error range", xs.ERROR_STOPS, value=(xs.ERROR_STOPS[0], xs.ERROR_STOPS[-1]),
                                key="ex_f_err", help="Distance from the model's guess to the actual place")
    clo, chi = c[4].slider("Confidence", 0, 100, (0, 100), 5, key="ex_f_conf", format="%d%%",
                           help="Probability the model gave its top country")
    mn, mx = xs.error_range(lo, hi)
    return xs.Filters(tuple(countries), tuple(sources), rw, mn, mx, clo / 100, chi / 100)


def headline(view: pd.DataFrame, total: int) -> None:
    """Metrics of the filtered locations, each with its n and 95 % interval (small samples flagged)."""
    lab = view[view["true_country"] != ""]
    acc = un.rate(lab["correct"].to_numpy(bool))
    d = pd.to_numeric(view["distance_km"], errors="coerce").dropna().to_numpy()
    med = un.bootstrap(d, np.median)
    score = un.bootstrap(pd.to_numeric(view["score"], errors="coerce").dropna().to_numpy())
    near = un.rate(d <= 750)
    best = pd.to_numeric(view.get("best_distance_km", pd.Series(dtype=float)), errors="coerce").dropna()
    e_note = (f" The expected-score guess (E, what Play's model plays): median {fmt_km(float(best.median()))}, "
              f"mean score {float(np.mean(geoscore(best.to_numpy()))):,.0f}.") if len(best) else ""
    km = lambda v: fmt_km(v)  # noqa: E731
    pts = lambda v: f"{v:,.0f}"  # noqa: E731
    st.markdown(f"**{len(view):,} of {total:,} locations** pass the filters: {len(lab):,} with a known country, "
                f"{len(d):,} with coordinates (distances and scores are over these).")
    m = st.columns([1, 1.2, 1.1, 1])
    m[0].metric("Country accuracy", un.pct(acc.value), un.describe(acc, compact=True) or None, delta_color="off",
                delta_arrow="off", help="Share of the locations with a known country whose top country is right. "
                                        "Below: its 95 % interval (Wilson) and n.")
    m[1].metric("Median error", fmt_km(med.value), un.describe(med, km, compact=True) or None, delta_color="off",
                delta_arrow="off", help="Distance from the predicted place (M) to the truth, over the locations with "
                                        "coordinates. Below: its 95 % interval (bootstrap) and n." + e_note)
    m[2].metric("Mean score", "–" if math.isnan(score.value) else pts(score.value),
                un.describe(score, pts, compact=True) or None, delta_color="off", delta_arrow="off",
                help="GeoGuessr world map, 5000·exp(−d/1492.7 km), of the predicted place (M). Below: its 95 % "
                     "interval (bootstrap) and n." + e_note)
    m[3].metric("Within 750 km", un.pct(near.value), un.describe(near, compact=True) or None, delta_color="off",
                delta_arrow="off", help="Share of the locations with coordinates whose predicted place is within "
                                        "750 km (country scale). Below: its 95 % interval (Wilson) and n.")


def location_picker(view: pd.DataFrame, key: str) -> None:
    """A selectbox of the filtered locations (worst errors first) that drives the selection."""
    order = view.sort_values("distance_km", ascending=False, na_position="last")
    ids = [""] + order["location_id"].tolist()
    labels = {r.location_id: f"{country_name(r.true_country) or '?'} → {country_name(r.pred_country) or '?'}, "
                             f"{fmt_km(r.distance_km)} ({xs.source_label(r.source)}, {r.location_id})"
              for r in order.itertuples()}
    cur = st.session_state.get(SEL) or ""
    st.session_state[key] = cur if cur in ids else ""  # follow selections made on the map or in the table
    st.selectbox("Open a location (worst errors first)", ids, key=key, format_func=lambda i: labels.get(i, "—"),
                 on_change=lambda: select(st.session_state[key] or None))


def _live(predictor: Any, row: pd.Series) -> tuple[Any, Any]:
    """(LoadedViews, Prediction of the loaded model) of a location, kept in session state."""
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


def detail(predictor: Any, locs: pd.DataFrame, key: str) -> None:
    """Detail of the selected location: all views (with Grad-CAM on demand), top-N guesses and map."""
    from app.common.widgets import show_map

    row = selected_row(locs)
    if row is None:
        return
    st.divider()
    hd, close = st.columns([6, 1], vertical_alignment="center")
    hd.subheader(f"{country_name(row['true_country']) or '?'} → {country_name(row['pred_country']) or '?'}: "
                 f"{fmt_km(float(row['distance_km']))}")
    close.button("Close", key=f"{key}_close", on_click=select, args=(None,), icon=":material/close:")
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
    c1, c2 = st.columns([3, 2])
    with c1:
        show_map(prediction_map(pred, truth, top_n, cells=predictor.cells.table), key=f"{key}_map", height=420,
                 legend=["truth", "model", "best", "candidate"] if truth else ["model", "best", "candidate"])
    with c2:
        st.dataframe(rs.guess_table(rs.guess_rows(pred, truth, top_n)).drop(columns=["Region"], errors="ignore"),
                     hide_index=True, key=f"{key}_top",
                     column_config={"Probability": st.column_config.NumberColumn(format="%.1f%%")})
    _views_and_cam(predictor, views, pred, top_n, key, row["location_id"])


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
