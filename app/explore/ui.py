"""Streamlit sections of the Explore page shared by its tabs: the data source (an evaluation read
from disk or computed with a progress bar), the filters, the headline numbers and the detail panel
of the selected location. The logic lives in the pure ``app.explore_*`` modules.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import streamlit as st

from app.explore import data as xd
from app.explore import stats as xs
from app.predict import logic as pl
from app.explore.maps import fmt_km
from app.predict.sources import load_paths
from model import explain as ex
from model.locks import model_lock
from model.geo import geoscore
from model.revgeo import country_name

SEL = "explore_sel"  # session key: the selected location_id
MODES = ("Evaluate the loaded model", "Open an evaluation folder")
SPLITS = ("test", "val", "train", "all")
CONFIRM_IMAGES = 1500  # a first evaluation larger than this waits for a click (val: 704 images, 2 min)
SECONDS_PER_IMAGE = 0.17  # measured: the val split's 704 images in 118 s on 2 cores
NOT_HELD_OUT = {
    "val": "The val split chose the training epoch and the retrieval settings, and its places are in the "
           "retrieval gallery (the best guess can land on the place itself): these numbers flatter the model. "
           "Use test for honest figures.",
    "train": "The model was trained on these places: these numbers measure memorisation, not geolocation.",
    "all": "Most of these places were used for training or model selection: these numbers flatter the model.",
}


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


def _default_manifest() -> str:
    from model.manifest import default_manifest_path

    p = default_manifest_path()
    return str(p) if p else ""


def _computed(predictor: Any) -> tuple[Path, Path, str]:
    """Manifest and split widgets: (evaluation folder, manifest, split) of the loaded model."""
    from model.manifest import ManifestError, resolve_manifest

    c1, c2 = st.columns([4, 1])
    text = c1.text_input("Manifest (CSV, or a folder with manifest.csv)", value=_default_manifest(), key="ex_manifest")
    split = c2.selectbox("Split", SPLITS, key="ex_split")
    try:
        man = resolve_manifest(text.strip() or None)
    except ManifestError as e:
        st.error(str(e))
        st.stop()
    return xd.eval_dir_for(predictor.path, man, split), man, split


def _evaluate(predictor: Any, folder: Path, man: Path, split: str) -> None:
    """First use of a model on a split: evaluate it with a progress bar (the result is cached on disk)."""
    from model.manifest import ManifestError, read_manifest

    try:
        rows = xd.select_split(read_manifest(man), split)
    except ManifestError as e:  # malformed CSV: say why (line and reason), keep the page
        st.error(f"This manifest cannot be used: {e}")
        st.stop()
    n = len(rows)
    if n == 0:
        st.error(f"`{man}` has no images in the {split} split.")
        st.stop()
    if n > CONFIRM_IMAGES and not st.button(f"Evaluate {n:,} images (about {n * SECONDS_PER_IMAGE / 60:.0f} min "
                                            "on 2 CPU cores)", key="ex_eval_go", icon=":material/play_arrow:"):
        st.info(f"The {split} split of `{man}` has not been evaluated with this model yet.")
        st.stop()
    note = st.info(f"First use of this model on the {split} split of `{man}`: evaluating its {n} images once. The "
                   "result is cached on disk for every later visit and every user.", icon=":material/hourglass_top:")
    bar = st.progress(0.0, text="Evaluating…")
    try:
        xd.run_evaluation(predictor, man, split, folder, progress=progress_callback(bar, "Images evaluated"))
    except (ValueError, ManifestError) as e:
        st.error(f"The evaluation failed: {e}")
        st.stop()
    bar.empty()
    note.empty()


def _from_folder() -> tuple[Path, str | None]:
    """Folder widgets: (evaluation folder, manifest its image paths are relative to)."""
    c1, c2 = st.columns(2)
    folder = c1.text_input("Evaluation folder (written by `python -m model.evaluate --out DIR`)",
                           value="runs/eval-default", key="ex_folder")
    man = c2.text_input("Manifest the images' paths are relative to", value=_default_manifest(),
                        key="ex_folder_manifest")
    f = Path(folder.strip()).expanduser()
    from model.manifest import ManifestError, resolve_manifest

    try:  # a folder holding manifest.csv is accepted, as everywhere else
        man_path = str(resolve_manifest(man.strip() or None))
    except ManifestError as e:
        st.warning(f"{e} Images of this evaluation cannot be shown.")
        man_path = None
    return (f if f.is_absolute() else xd.ROOT / f), man_path


def choose_evaluation(predictor: Any) -> xd.Evaluation:
    """The evaluation to explore (data source widgets in an expander; a first evaluation runs below it
    with a progress bar); stops the page if there is none."""
    with st.expander("Data: which evaluation to explore", icon=":material/dataset:"):
        mode = st.radio("Source", MODES, horizontal=True, key="ex_mode", label_visibility="collapsed")
        if mode == MODES[0]:
            folder, man, split = _computed(predictor)
        else:
            (folder, man), split = _from_folder(), ""
    if not xd.has_evaluation(folder):
        if mode != MODES[0]:
            st.error(f"No predictions.csv in {folder}. Run `python -m model.evaluate --split test --out {folder}` "
                     "first, or evaluate the loaded model (Data, above).")
            st.stop()
        _evaluate(predictor, folder, man, split)
    ev = xd.load_evaluation(folder, man)
    if split in NOT_HELD_OUT:
        st.warning(NOT_HELD_OUT[split], icon=":material/warning:")
    locs = ev.locations
    what = f"split **{ev.info['split']}** of `{Path(ev.info['manifest']).name}`" if ev.info else f"`{ev.folder}`"
    st.caption(f"Evaluation of `{Path(ev.checkpoint).name or '?'}` on {what}: {len(locs)} locations, "
               f"{len(ev.images)} images. Predictions fuse the views of each location.")
    if ev.checkpoint and Path(ev.checkpoint).resolve() != Path(predictor.path).resolve():
        st.warning(f"This evaluation was made with `{ev.checkpoint}`, not the loaded model (`{predictor.path}`): "
                   "the detail panel, Grad-CAM and the audit use the loaded model.")
    if locs.empty:
        st.warning("The evaluation holds no location.")
        st.stop()
    return ev


def filters(locs: pd.DataFrame) -> xs.Filters:
    """Filter widgets (country, source, right/wrong, error range, confidence)."""
    c = st.columns([2.2, 1.8, 1.3, 2.2, 1.8])
    codes = sorted(set(locs["true_country"]) - {""}, key=lambda k: country_name(k))
    countries = c[0].multiselect("Country (actual)", codes, format_func=lambda k: f"{country_name(k)} ({k})",
                                 key="ex_f_country", placeholder="All countries")
    sources = c[1].multiselect("Source", sorted(set(locs["source"])), key="ex_f_source", placeholder="All sources")
    rw = c[2].selectbox("Country guess", xs.RIGHT_WRONG, key="ex_f_rw")
    lo, hi = c[3].select_slider("Error range", xs.ERROR_STOPS, value=(xs.ERROR_STOPS[0], xs.ERROR_STOPS[-1]),
                                key="ex_f_err", help="Distance from the model's guess to the actual place")
    clo, chi = c[4].slider("Confidence", 0.0, 1.0, (0.0, 1.0), 0.05, key="ex_f_conf",
                           help="Probability the model gave its top country")
    mn, mx = xs.error_range(lo, hi)
    return xs.Filters(tuple(countries), tuple(sources), rw, mn, mx, clo, chi)


def headline(view: pd.DataFrame, total: int) -> None:
    """Metrics of the filtered locations."""
    s = xs.summary(view)

    def pct(v: float) -> str:
        return "–" if math.isnan(v) else f"{v:.0%}"

    best = pd.to_numeric(view.get("best_distance_km", pd.Series(dtype=float)), errors="coerce").dropna()
    e_note = (f" The expected-score guess (E, what Play's model plays): median {fmt_km(float(best.median()))}, "
              f"mean score {float(np.mean(geoscore(best.to_numpy()))):,.0f}.") if len(best) else ""
    m = st.columns(5)
    m[0].metric("Locations", f"{s['n']} of {total}")
    m[1].metric("Country accuracy", pct(s["country_acc"]), help="Share of locations whose top country is right")
    m[2].metric("Median error", fmt_km(s["median_km"]), help="Distance from the predicted place (M) to the truth."
                + e_note)
    m[3].metric("Mean score", "–" if math.isnan(s["mean_score"]) else f"{s['mean_score']:,.0f}",
                help="GeoGuessr world map, 5000·exp(−d/1492.7 km), of the predicted place (M)." + e_note)
    m[4].metric("Within 750 km", pct(s["acc_750km"]))


def location_picker(view: pd.DataFrame, key: str) -> None:
    """A selectbox of the filtered locations (worst errors first) that drives the selection."""
    order = view.sort_values("distance_km", ascending=False, na_position="last")
    ids = [""] + order["location_id"].tolist()
    labels = {r.location_id: f"{country_name(r.true_country) or '?'} → {country_name(r.pred_country) or '?'}, "
                             f"{fmt_km(r.distance_km)} ({r.source}, {r.location_id})" for r in order.itertuples()}
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
    truth = None if pd.isna(row["true_lat"]) else pl.Truth(float(row["true_lat"]), float(row["true_lon"]), "test set")
    st.caption(f"{row['source']} · location {row['location_id']} · {len(views.images)} view(s) · "
               f"{row['true_admin1'] or 'region unknown'}. Top-N, map and Grad-CAM come from the loaded model.")
    top_n = st.slider("Top-N guesses", 1, 10, 5, key=f"{key}_topn")
    c1, c2 = st.columns([3, 2])
    with c1:
        show_map(pl.prediction_map(pred, truth, top_n, cells=predictor.cells.table), key=f"{key}_map", height=420,
                 legend=["truth", "model", "best", "candidate"] if truth else ["model", "best", "candidate"])
    with c2:
        st.dataframe(pl.guess_table(pl.guess_rows(pred, truth, top_n)).drop(columns=["Region"], errors="ignore"),
                     hide_index=True, key=f"{key}_top",
                     column_config={"Probability": st.column_config.NumberColumn(format="%.1f %%")})
    _views_and_cam(predictor, views, pred, top_n, key, row["location_id"])


def _views_and_cam(predictor: Any, views: Any, pred: Any, top_n: int, key: str, loc: str) -> None:
    c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
    on = c1.toggle("Grad-CAM overlay", key=f"{key}_cam")
    opts = pl.target_options(pred, top_n)
    pick = c2.selectbox("Explain", range(len(opts)), format_func=lambda i: opts[i][0], key=f"{key}_target",
                        disabled=not on)
    cols = st.columns(max(2, min(4, len(views.images))))
    if not on:
        for i, img in enumerate(views.images):
            cols[i % len(cols)].image(pl.thumbnail(img), caption=views.names[i], width="stretch")
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
