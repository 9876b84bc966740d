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

from app.common.heldout import count_heldout, heldout_for, page_line
from app.explore import data as xd
from app.explore import shipped
from app.explore import stats as xs
from app.explore import uncertainty as un
from app.predict import logic as pl
from app.explore.maps import fmt_km
from app.predict.sources import load_paths
from model import explain as ex
from model.locks import model_lock
from model.geo import geoscore
from model.data.revgeo import country_name

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
    from model.data.manifest import default_manifest_path

    p = default_manifest_path()
    return str(p) if p else ""


def _computed(predictor: Any) -> tuple[Path, Path, str]:
    """Manifest and split widgets: (evaluation folder, manifest, split) of the loaded model."""
    from model.data.manifest import ManifestError, resolve_manifest

    c1, c2 = st.columns([4, 1])
    text = c1.text_input("Manifest (CSV, or a folder with manifest.csv)", value=_default_manifest(), key="ex_manifest")
    split = c2.selectbox("Split", SPLITS, key="ex_split")
    try:
        man = resolve_manifest(text.strip() or None)
    except ManifestError as e:
        st.error(str(e))
        st.stop()
    return xd.eval_dir_for(predictor.path, man, split), man, split


def _short(path: str | Path) -> str:
    """'geodata/manifest.csv': enough of a path to recognise it, nothing of the machine's layout."""
    p = Path(path)
    return "/".join(p.parts[-2:])


def _evaluate(predictor: Any, folder: Path, man: Path, split: str) -> None:
    """First use of a model on a split: evaluate it with a progress bar (the result is cached on disk)."""
    from model.data.manifest import ManifestError, read_manifest

    try:
        rows = xd.select_split(read_manifest(man), split)
    except ManifestError as e:  # malformed CSV: say why (line and reason), keep the page
        st.error(f"This manifest cannot be used: {e}")
        st.stop()
    n = len(rows)
    if n == 0:
        st.error(f"`{_short(man)}` has no images in the {split} split.")
        st.stop()
    why = shipped.mismatch(predictor.path, man, split)
    if n > CONFIRM_IMAGES and not st.button(f"Evaluate {n:,} images (about {n * SECONDS_PER_IMAGE / 60:.0f} min "
                                            "on 2 CPU cores)", key="ex_eval_go", icon=":material/play_arrow:"):
        st.info(f"The {split} split of `{_short(man)}` has not been evaluated with this model yet.")
        st.stop()
    note = st.info(f"First use of this model on the {split} split of `{_short(man)}`: evaluating its {n:,} images "
                   f"once (about {n * SECONDS_PER_IMAGE / 60:.0f} min on 2 CPU cores; no shipped evaluation applies: "
                   f"{why}). The result is cached on disk for every later visit and every user.",
                   icon=":material/hourglass_top:")
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
    folder = c1.text_input("Evaluation folder (holding predictions.csv and metrics.json)",
                           value="runs/eval-default", key="ex_folder",
                           help="The output folder of an evaluation run (see Reproduce below when it is missing)")
    man = c2.text_input("Manifest the images' paths are relative to", value=_default_manifest(),
                        key="ex_folder_manifest")
    f = Path(folder.strip()).expanduser()
    from model.data.manifest import ManifestError, resolve_manifest

    try:  # a folder holding manifest.csv is accepted, as everywhere else
        man_path = str(resolve_manifest(man.strip() or None))
    except ManifestError as e:
        st.warning(f"{e} Images of this evaluation cannot be shown.")
        man_path = None
    return (f if f.is_absolute() else xd.ROOT / f), man_path


def choose_evaluation(predictor: Any) -> xd.Evaluation:
    """The evaluation to explore (data source widgets in an expander). A first use of the loaded model on a
    split installs the evaluation shipped with the checkpoint when its checkpoint and manifest hashes
    match (seconds), else evaluates with a progress bar; stops the page if there is none."""
    with st.expander("Data: which evaluation to explore", icon=":material/dataset:"):
        mode = st.radio("Source", MODES, horizontal=True, key="ex_mode", label_visibility="collapsed")
        if mode == MODES[0]:
            folder, man, split = _computed(predictor)
        else:
            (folder, man), split = _from_folder(), ""
    if not xd.has_evaluation(folder):
        if mode != MODES[0]:
            st.error(f"No predictions.csv in `{folder}`: evaluate the loaded model instead (Data, above), or make "
                     "one with the command under Reproduce.")
            with st.expander("Reproduce"):
                st.code(f"python -m model.evaluate --checkpoint {predictor.path} --split test --out {folder}",
                        language="bash")
            st.stop()
        if not shipped.install_matching(predictor.path, man, split, folder):
            _evaluate(predictor, folder, man, split)
    elif mode == MODES[0]:  # an earlier install of a since regenerated shipped evaluation: the new one
        shipped.refresh_install(predictor.path, man, split, folder)
    ev = xd.load_evaluation(folder, man)
    if split in NOT_HELD_OUT:
        st.warning(NOT_HELD_OUT[split], icon=":material/warning:")
    locs = ev.locations
    if locs.empty:
        st.warning("The evaluation holds no location.")
        st.stop()
    st.caption(f"{_provenance(ev)}: {_counts_line(ev, predictor)}. Each location's views are fused into one "
               "prediction.", help=_counts_help(ev, predictor))
    if ev.checkpoint and Path(ev.checkpoint).resolve() != Path(predictor.path).resolve():
        st.warning(f"This evaluation was made with `{Path(ev.checkpoint).name}`, not the loaded model "
                   f"(`{Path(predictor.path).name}`): the detail panel, Grad-CAM and the audit use the loaded model.")
    return ev


def _provenance(ev: xd.Evaluation) -> str:
    """'Model default.pt on the test split of geodata/manifest.csv (evaluation shipped with the model)'."""
    what = f"the {ev.info['split']} split of `{_short(ev.info['manifest'])}`" if ev.info.get("manifest") else \
        f"the evaluation in `{_short(ev.folder)}`"
    ship = " (evaluation shipped with the model: same checkpoint and data, checked by their hashes)" \
        if ev.info.get("shipped") else ""
    return f"Model `{Path(ev.checkpoint).name or '?'}` on {what}{ship}"


def _heldout(ev: xd.Evaluation, predictor: Any):
    """The held-out breakdown (``app.common.heldout``) of the evaluated places: from the manifest for an
    evaluation of a split, else from the predictions themselves."""
    from model.data.manifest import ManifestError

    split = ev.info.get("split") or "all"
    if ev.info.get("manifest"):
        try:
            return heldout_for(ev.info["manifest"], getattr(predictor, "train_groups", ()), split)
        except (ManifestError, OSError):
            pass
    first = ev.images.drop_duplicates("location_id")
    rows = pd.DataFrame({"location_id": first["location_id"], "lat": first.get("true_lat"),
                         "lon": first.get("true_lon")})
    return count_heldout(rows.assign(split="all"), "all", check_files=False)


def _counts_line(ev: xd.Evaluation, predictor: Any) -> str:
    h = _heldout(ev, predictor)
    if h.locations != len(ev.locations):  # an evaluation folder of other data: count what it holds
        return f"{len(ev.locations):,} locations, {len(ev.images):,} images"
    return page_line(h, "explore").replace("test place", f"{h.split} place") + f", {h.images:,} images"


def _counts_help(ev: xd.Evaluation, predictor: Any) -> str:
    from app.common.heldout import explain

    h = _heldout(ev, predictor)
    return explain(h) if h.locations == len(ev.locations) else ""


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
    truth = None if pd.isna(row["true_lat"]) else pl.Truth(float(row["true_lat"]), float(row["true_lon"]), "test set")
    st.caption(f"{xs.source_label(row['source'])} · location {row['location_id']} · {len(views.images)} view(s) · "
               f"{row['true_admin1'] or 'region unknown'}. Top-N, map and Grad-CAM come from the loaded model.")
    top_n = st.slider("Top-N guesses", 1, 10, 5, key=f"{key}_topn")
    c1, c2 = st.columns([3, 2])
    with c1:
        show_map(pl.prediction_map(pred, truth, top_n, cells=predictor.cells.table), key=f"{key}_map", height=420,
                 legend=["truth", "model", "best", "candidate"] if truth else ["model", "best", "candidate"])
    with c2:
        st.dataframe(pl.guess_table(pl.guess_rows(pred, truth, top_n)).drop(columns=["Region"], errors="ignore"),
                     hide_index=True, key=f"{key}_top",
                     column_config={"Probability": st.column_config.NumberColumn(format="%.1f%%")})
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
