"""The tabs of the Explore page (Streamlit): map, table, countries, confusion, similarity,
calibration and shortcut audit. Each takes the filtered locations (``view``) and/or the whole
evaluation; the logic is in the pure ``app.explore_*`` modules and ``model.audit``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app.explore import charts as xc
from app.explore import data as xd
from app.explore import embed as xe
from app.explore import stats as xs
from app.explore.maps import accuracy_map, bucket_legend, clicked_location, errors_map
from app.explore.table import display_table, image_rows, new_table_pick, thumbnail_file, thumbnail_uri
from app.explore.ui import SEL, detail, location_picker, progress_callback, select, selected_row
from app.common.widgets import show_map
from model import audit as au
from model.revgeo import country_name

TABS = ("Map", "Table", "Countries", "Confusion", "Similarity", "Calibration", "Shortcut audit")
MAX_THUMBS = 400  # rows of the table that get a thumbnail (the rest show none: keeps the page light)


def _pct(v: float) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.0%}"


def map_tab(predictor: Any, view: pd.DataFrame, locs: pd.DataFrame) -> None:
    c1, c2 = st.columns([3, 1])
    with c2:
        cluster = st.toggle("Cluster dense areas", value=True, key="ex_cluster")
        st.altair_chart(xc.buckets_chart(xs.bucket_counts(view)), width="stretch")
        st.caption("Click a dot to draw the line to the model's guess and open the location below.")
    with c1:
        show_map(errors_map(view, selected_row(locs), cluster=cluster), key="ex_map", height=520,
                 returned_objects=["last_object_clicked"],
                 on_change=lambda: select(clicked_location(st.session_state.get("ex_map"), view)
                                          or st.session_state.get(SEL)))
        st.markdown(bucket_legend(), unsafe_allow_html=True)
    location_picker(view, "ex_pick_map")
    detail(predictor, locs, "ex_d_map")


def table_tab(predictor: Any, view: pd.DataFrame, locs: pd.DataFrame) -> None:
    view = view.sort_values("distance_km", ascending=False, na_position="last")  # worst first until re-sorted
    with st.spinner("Making thumbnails…"):
        thumbs = [thumbnail_uri(p[0]) if p and i < MAX_THUMBS else None for i, p in enumerate(view["paths"])]
    ids = view["location_id"].tolist()
    cfg = {"Photo": st.column_config.ImageColumn("Photo", width="small"),
           "Right": st.column_config.CheckboxColumn("Right", help="Country guessed right", width="small"),
           "Distance (km)": st.column_config.NumberColumn(format="localized"),
           "Score": st.column_config.NumberColumn(format="localized", help="GeoGuessr points (0..5000)"),
           "Confidence": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent",
                                                         help="Probability of the top country"),
           "Location": st.column_config.TextColumn(width="small")}
    event = st.dataframe(display_table(view, thumbs), key="ex_table", on_select="rerun", selection_mode="single-row",
                         hide_index=True, height=460, row_height=64, column_config=cfg)
    picked = new_table_pick(event["selection"]["rows"], ids, st.session_state.get("_ex_table_rows"))
    st.session_state["_ex_table_rows"] = list(event["selection"]["rows"])
    if picked:
        select(picked)
    st.caption("Click a column header to sort; tick a row (left edge) to open it below. Double-click a photo to "
               "enlarge it.")
    detail(predictor, locs, "ex_d_table")


def countries_tab(view: pd.DataFrame) -> None:
    from model.metrics import classification_report_frame

    pc = xs.per_country(view)
    if pc.empty:
        st.info("No location with a known country passes the filters.")
        return
    c1, c2 = st.columns([3, 2])
    with c1:
        show_map(accuracy_map(pc), key="ex_acc_map", height=440)
        st.caption("Country accuracy per location: red 0 %, green 100 %. Unshaded countries have no test location.")
    with c2:
        t = pd.DataFrame({"Country": [f"{country_name(c)} ({c})" for c in pc["country"]], "Locations": pc["n"],
                          "Accuracy": pc["accuracy"], "Median error (km)": pc["median_km"].round(0),
                          "Most often taken for": [f"{country_name(c)} ({n})" if c else "" for c, n in
                                                   zip(pc["top_confusion"], pc["top_confusion_n"])]})
        st.dataframe(t, hide_index=True, height=440, key="ex_pc_table", column_config={
            "Accuracy": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent"),
            "Median error (km)": st.column_config.NumberColumn(format="localized")})
    st.subheader("Classification report (country level, one row per location)")
    lab = view[view["true_country"] != ""]
    rep = classification_report_frame(lab["true_country"].tolist(), lab["pred_country"].tolist())
    rep.insert(1, "name", [country_name(c) if len(str(c)) == 2 else "" for c in rep["class"]])
    st.dataframe(rep, hide_index=True, key="ex_report", column_config={
        c: st.column_config.NumberColumn(format="%.2f") for c in ("precision", "recall", "f1-score")})


def _pair_from_chart() -> None:
    pair = xs.selection_pair(st.session_state.get("ex_cm_chart"), xc.PICK)
    if pair:
        st.session_state["ex_pair"] = "|".join(pair)


def confusion_tab(predictor: Any, view: pd.DataFrame, locs: pd.DataFrame, same_model: bool) -> None:
    c1, c2 = st.columns(2)
    level = c1.radio("Classes", ("Countries", "Cells"), horizontal=True, key="ex_cm_level")
    lvl = "country" if level == "Countries" else "cell"
    names = predictor.cells.table["name"].astype(str).tolist() if lvl == "cell" and same_model else None
    top = c2.slider("Classes shown (most frequent; the rest is 'other')", 5, 60, 25, key="ex_cm_max")
    counts = xs.confusion_counts(view, lvl, top, names)
    if counts.empty:
        st.info("No location with a known class passes the filters.")
        return
    labels = sorted(set(counts["true"]) | set(counts["pred"]),
                    key=lambda k: (k == "other", xe.continent(k) if lvl == "country" else "", country_name(k)))
    tips = {k: country_name(k) for k in labels} if lvl == "country" else None
    st.altair_chart(xc.confusion_chart(counts, labels, tips), key="ex_cm_chart", on_select=_pair_from_chart,
                    selection_mode=xc.PICK, width="stretch")
    st.caption("Rows: actual class; columns: the model's guess; colour: share of the row; numbers: locations. "
               "Countries are grouped by continent. Click a cell to list its images.")
    wrong = xs.top_confusions(counts, k=200)
    right = counts[counts["true"] == counts["pred"]].sort_values("n", ascending=False)
    pairs = [f"{t}|{p}" for t, p in zip(wrong["true"], wrong["pred"])] + \
            [f"{t}|{p}" for t, p in zip(right["true"], right["pred"])]
    nmap = {f"{t}|{p}": n for t, p, n in zip(counts["true"], counts["pred"], counts["n"])}

    def fmt(k: str) -> str:
        if not k:
            return "—"
        t, p = k.split("|", 1)
        name = country_name if lvl == "country" else str
        return f"{name(t)} taken for {name(p)} ({nmap.get(k, 0)})" if t != p else f"{name(t)}, right ({nmap.get(k, 0)})"

    if st.session_state.get("ex_pair") not in [""] + pairs:
        st.session_state["ex_pair"] = ""
    pick = st.selectbox("Confusion (most frequent first)", [""] + pairs, format_func=fmt, key="ex_pair")
    if pick:
        t, p = pick.split("|", 1)
        members = xs.confusion_members(view, t, p, lvl, names, top)
        st.markdown(f"**{fmt(pick)}**: {len(members)} location(s)")
        cols = st.columns(6)
        for i, r in enumerate(image_rows(members, 24)):
            with cols[i % 6]:
                f = thumbnail_file(r["path"], 240) if r["path"] else None
                if f:
                    st.image(str(f), caption=r["caption"], width="stretch")
                st.button("Open", key=f"ex_open_{r['location_id']}", on_click=select, args=(r["location_id"],))
    detail(predictor, locs, "ex_d_cm")


def similarity_tab(predictor: Any, ev: xd.Evaluation, view: pd.DataFrame) -> None:
    c1, c2 = st.columns([3, 1])
    src = c1.radio("Describe each country by", list(xe.SOURCES), format_func=xe.SOURCES.get, key="ex_sim_src")
    method = c2.radio("Method", xe.METHODS, key="ex_sim_method",
                      help="UMAP compiles its kernels the first time it runs in this server (about 20–50 s).")
    if src == "hard":
        labels, x = xe.hard_features(view)
    elif src == "soft":
        labels, x = xe.soft_features(ev.images[ev.images["location_id"].isin(view["location_id"])])
    else:
        labels, x = xe.weight_features(predictor)
    if len(labels) < 4:
        st.info(f"Only {len(labels)} countries: too few for an embedding. Widen the filters.")
        return
    key = (xd.folder_stamp(ev.folder), str(predictor.path), src, method, tuple(labels), x.shape)
    got = st.session_state.get("_ex_emb")
    if not got or got[0] != key:
        with st.spinner(f"Computing the {method} embedding of {len(labels)} countries…"):
            got = (key, xe.embed(x, method))
        st.session_state["_ex_emb"] = got
    df = xe.embedding_frame(labels, got[1], x)
    st.altair_chart(xc.embedding_chart(df), width="stretch", key="ex_sim_chart")
    st.caption("Countries close together are ones the model treats alike (cosine similarity of the chosen vectors). "
               "A map-like layout by continent means the model's notion of similarity is geographic; a mixed one "
               "points to cues shared across continents (camera generation, road markings, vegetation). "
               "Axes have no units.")
    st.dataframe(df[["name", "code", "continent", "similar"]].rename(columns={
        "name": "Country", "code": "Code", "continent": "Continent", "similar": "Most similar (cosine)"}),
        hide_index=True, key="ex_sim_table")


def calibration_tab(view: pd.DataFrame) -> None:
    c1, c2 = st.columns(2)
    level = c1.radio("Confidence of the top", ("Country", "Cell"), horizontal=True, key="ex_cal_level")
    nb = c2.slider("Bins", 5, 20, 10, key="ex_cal_bins")
    conf, ok = xs.calibration_inputs(view, level.lower())
    if len(conf) == 0:
        st.info("No location passes the filters.")
        return
    bins, ece = xs.reliability(conf, ok, nb)
    m = st.columns(4)
    m[0].metric("Expected calibration error", f"{ece:.3f}",
                help="Σ share of bin × |accuracy − confidence|; 0 is perfect")
    m[1].metric("Mean confidence", _pct(float(conf.mean())))
    m[2].metric("Accuracy", _pct(float(ok.mean())))
    gap = float(conf.mean() - ok.mean())
    m[3].metric("Over-confidence", f"{gap * 100:+.0f} pts", help="Mean confidence minus accuracy (negative: "
                "the model is better than it says)")
    st.altair_chart(xc.reliability_chart(bins, level.lower()), width="stretch", key="ex_cal_chart")
    st.caption("Bars: accuracy of the locations in each confidence bin; red dots: their mean confidence; dashed: "
               "perfect calibration. Below the diagonal the model is over-confident, above it under-confident.")


def _audit_rows(ev: xd.Evaluation) -> pd.DataFrame:
    from model.manifest import read_manifest

    man = ev.info.get("manifest") or st.session_state.get("ex_folder_manifest") or None
    df = read_manifest(man)
    return df[df["location_id"].isin(ev.locations["location_id"])]


def audit_tab(predictor: Any, ev: xd.Evaluation) -> None:
    got = au.read_audit(ev.folder)
    if got:
        _audit_report(*got, predictor)
    else:
        st.info("No audit yet for this evaluation. It runs Grad-CAM and three predictions (as shown, bottom band "
                "hidden, edges hidden) per location.")
    n_loc = len(ev.locations)
    c1, c2, c3 = st.columns([2, 1, 2], vertical_alignment="bottom")
    size = c1.number_input("Locations to audit (spread over sources)", 1, n_loc, min(8, n_loc), key="ex_audit_n")
    seed = c2.number_input("Seed", 0, 10_000, 0, key="ex_audit_seed")
    go = c3.button("Run the audit" if not got else "Run it again", key="ex_audit_go", icon=":material/play_arrow:")
    st.caption(f"About 5–15 s per location on 2 CPU cores. Offline, on every location: `python -m model.audit "
               f"--checkpoint {predictor.path} --data {ev.info.get('manifest', 'MANIFEST')} --split "
               f"{ev.info.get('split', 'test')} --out {ev.folder}`")
    if go:
        bar = st.progress(0.0, text="Auditing…")
        import time

        t0 = time.perf_counter()
        from model.manifest import ManifestError

        try:
            audit_rows = _audit_rows(ev)
        except ManifestError as e:
            bar.empty()
            st.error(f"The audit needs the evaluation's manifest: {e}")
            return
        rows = au.run_audit(predictor, audit_rows, int(size), int(seed), progress_callback(bar, "Locations audited"))
        au.write_audit(ev.folder, rows, {"checkpoint": str(predictor.path), "data": ev.info.get("manifest", ""),
                                         "split": ev.info.get("split", ""), "limit": int(size), "seed": int(seed),
                                         "seconds": time.perf_counter() - t0})
        st.rerun()


def _audit_report(rows: pd.DataFrame, doc: dict, predictor: Any) -> None:
    o = doc["overall"]
    if doc.get("checkpoint") and Path(doc["checkpoint"]).resolve() != Path(predictor.path).resolve():
        st.warning(f"This audit was made with `{doc['checkpoint']}`, not the loaded model.")
    st.markdown(f"**Audit of {o['n']} locations** (sample of {doc.get('limit') or 'all'}, seed {doc.get('seed', 0)}).")
    m = st.columns(4)
    m[0].metric("Heat in the bottom band", _pct(o["bottom_share"]), f"{o['bottom_ratio']:.1f}× its area "
                f"({o['bottom_area']:.0%})", delta_color="off", delta_arrow="off",
                help="Capture car, 'Google' watermark")
    m[1].metric("Heat at the edges", _pct(o["edge_share"]), f"{o['edge_ratio']:.1f}× its area ({o['edge_area']:.0%})",
                delta_color="off", delta_arrow="off", help="Game UI: compass, minimap, score box")
    for i, v in ((2, "no_bottom"), (3, "no_edges")):
        d = o[f"acc_{v}"] - o["acc_shown"]
        m[i].metric(f"Country accuracy, {au.VARIANT_LABELS[v].lower()}", _pct(o[f"acc_{v}"]),
                    "–" if math.isnan(d) else f"{d * 100:+.0f} pts vs {_pct(o['acc_shown'])} shown")
    overall, per_source = au.verdicts(o), au.source_verdicts(doc)
    if per_source and overall[0].startswith("No region"):
        overall = [f"Over the whole sample: {overall[0][0].lower()}{overall[0][1:]} Per source, however:"]
    for msg in overall + per_source:
        st.markdown(f"- {msg}")
    by = pd.DataFrame([{"Source": s, "Locations": g["n"], "Bottom heat": g["bottom_share"],
                        "Edge heat": g["edge_share"],
                        "Accuracy shown": g["acc_shown"], "Bottom hidden": g["acc_no_bottom"],
                        "Edges hidden": g["acc_no_edges"], "Country changed (bottom hidden)": g["changed_no_bottom"],
                        "Country changed (edges hidden)": g["changed_no_edges"]} for s, g in doc["by_source"].items()])
    pc = {c: st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent")
          for c in by.columns if c not in ("Source", "Locations")}
    st.dataframe(by, hide_index=True, key="ex_audit_by", column_config=pc)
    st.caption("Per source: `screenshots_ui` shows the game's UI, the Street View sources show the capture car and "
               "the watermark at the bottom. Heat shares are of Grad-CAM for the predicted cell; area shares are "
               "what uniform heat would give.")
    with st.expander("Every audited location"):
        st.dataframe(rows, hide_index=True, key="ex_audit_rows")
