"""The tabs of the Explore page (Streamlit): map, table, countries and confusion (similarity, calibration,
comparison and the shortcut audit have modules of their own). Each takes the filtered locations
(``view``) and/or the whole evaluation; the logic is in the pure modules of ``app.explore`` and
``app.common``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app.common import uncertainty as un
from app.common.widgets import show_map
from app.explore import charts as xc
from app.explore import embed as xe
from app.explore import names as nm
from app.explore import stats as xs
from app.explore.detail import detail
from app.explore.maps import accuracy_color, accuracy_map, bucket_legend, clicked_location, errors_map
from app.explore.table import display_table, image_rows, new_table_pick, thumbnail_file, thumbnail_uri
from app.explore.ui import SEL, location_picker, select, selected_row
from model.data.revgeo import country_name

TABS = ("Map", "Table", "Countries", "Confusion", "Similarity", "Calibration", "Compare", "Shortcut audit")
MAX_THUMBS = 400  # rows of the table that get a thumbnail (the rest show none: keeps the page light)


def map_tab(predictor: Any, view: pd.DataFrame, locs: pd.DataFrame, same_model: bool = True) -> None:
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
    detail(predictor, locs, "ex_d_map", same_model)


def table_tab(predictor: Any, view: pd.DataFrame, locs: pd.DataFrame, same_model: bool = True,
              pixels: bool = True) -> None:
    view = view.sort_values("distance_km", ascending=False, na_position="last")  # worst first until re-sorted
    with st.spinner("Making thumbnails…"):
        thumbs = [thumbnail_uri(p[0]) if pixels and p and i < MAX_THUMBS else None
                  for i, p in enumerate(view["paths"])]
    ids = view["location_id"].tolist()
    cfg = {"Photo": st.column_config.ImageColumn("Photo", width=70),
           "Truth": st.column_config.TextColumn(width=165, help="The actual country (region)"),
           "Guess": st.column_config.TextColumn(width=105, help="The model's country"),
           "Right": st.column_config.CheckboxColumn("Right", help="Country guessed right", width=50),
           "Distance (km)": st.column_config.NumberColumn("Error (km)", format="localized", width=85,
                                                          help="Distance from the predicted place to the truth"),
           "Score": st.column_config.NumberColumn(format="localized", help="GeoGuessr points (0..5000)", width=60),
           "Confidence": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%d%%", color="blue",
                                                         help="Probability the model gave its top country", width=100),
           "Source": st.column_config.TextColumn(width=185)}
    shown = ["Photo", "Truth", "Guess", "Right", "Distance (km)", "Score", "Confidence", "Source"]  # fits 1400 px
    event = st.dataframe(display_table(view, thumbs), key="ex_table", on_select="rerun", selection_mode="single-row",
                         hide_index=True, height=460, row_height=64, column_config=cfg, column_order=shown)
    picked = new_table_pick(event["selection"]["rows"], ids, st.session_state.get("_ex_table_rows"))
    st.session_state["_ex_table_rows"] = list(event["selection"]["rows"])
    if picked:
        select(picked)
    st.caption("Click a column header to sort; tick a row (left edge) to open it below. " +
               ("Double-click a photo to enlarge it." if pixels else "No photos: the images of this evaluation are "
                                                                    "not on this machine."))
    detail(predictor, locs, "ex_d_table", same_model)


def _country_table(pc: pd.DataFrame) -> "pd.io.formats.style.Styler":
    """The per-country table: names, n, accuracy (coloured like the map: red 0 %, green 100 %) with its
    interval, precision / F1 with how often the country was guessed, median error, main confusion."""
    t = pd.DataFrame({
        "Country": [country_name(c) or c for c in pc["country"]],
        "Locations": pc["n"].astype(int),
        "Accuracy": pc["accuracy"].astype(float),
        "95% interval": [f"{lo:.0%}–{hi:.0%}" for lo, hi in zip(pc["acc_lo"], pc["acc_hi"])],
        "Guessed as this": pc["predicted"].astype(int),
        "Precision": [nm.precision_text(p, n) for p, n in zip(pc["precision"], pc["predicted"])],
        "F1": pc["f1"].astype(float),
        "Median error (km)": pc["median_km"].round(0),
        "Most often taken for": [f"{nm.class_name(c)} ({n})" if c else "" for c, n in
                                 zip(pc["top_confusion"], pc["top_confusion_n"])]})

    def shade(col: pd.Series) -> list[str]:
        return [f"background-color: {accuracy_color(v)}; color: white" if v == v else "" for v in col]

    return (t.style.apply(shade, subset=["Accuracy"])
            .format({"Accuracy": "{:.0%}", "F1": "{:.2f}", "Median error (km)": lambda v: "–" if v != v else f"{v:,.0f}"}))


def countries_tab(view: pd.DataFrame) -> None:
    pc = xs.per_country(view)
    if pc.empty:
        st.info("No location with a known country passes the filters.")
        return
    small = int((pc["n"] < un.SMALL_N).sum())
    show_map(accuracy_map(pc), key="ex_acc_map", height=400)
    st.caption("Share of each country's test locations whose country the model got right: red 0 %, green 100 % "
               "(the table uses the same colours). Unshaded countries have no test location.")
    st.dataframe(_country_table(pc), hide_index=True, height=420, key="ex_pc_table", column_config={
        "Country": st.column_config.TextColumn(width=150),
        "Locations": st.column_config.NumberColumn("n", width=45, help="Test locations of this country"),
        "Accuracy": st.column_config.NumberColumn(width=75, help="Share of its locations whose country was right "
                                                                "(its recall)"),
        "95% interval": st.column_config.TextColumn(width=90, help="Wilson 95 % interval of the accuracy: with "
                                                                  "few locations it is wide"),
        "Guessed as this": st.column_config.NumberColumn("Guessed", width=65, help="Locations the model sent to this "
                                                         "country, right or wrong (the n behind the precision)"),
        "Precision": st.column_config.TextColumn(width=75, help="Of the locations guessed as this country, the "
                                                               "share that really are (–: never guessed, n = 0)"),
        "F1": st.column_config.NumberColumn(width=45, help="Harmonic mean of precision and accuracy (recall), 0..1"),
        "Median error (km)": st.column_config.NumberColumn("Median km", width=80,
                                                           help="Median distance from the predicted place"),
        "Most often taken for": st.column_config.TextColumn(width=160)})
    macro = xs.macro_scores(view)
    acc = un.rate(view.loc[view["true_country"] != "", "correct"].to_numpy(bool))
    st.caption(f"Click a column header to sort. {small} of the {len(pc)} countries have fewer than {un.SMALL_N} "
               f"test locations: their figures are indicative, read their interval. Over all {acc.n} locations the "
               f"country accuracy is {un.pct(acc.value)} ({un.interval_text(acc)}). Averaged over the "
               f"{macro['classes']} countries that are a truth or a guess, each counting once whatever its size "
               f"(macro average): precision {un.pct(macro['precision'])}, recall {un.pct(macro['recall'])}, "
               f"F1 {macro['f1']:.2f}; small countries the model never guesses pull it down.")


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
    tips = {k: nm.class_name(k, lvl) for k in labels} if lvl == "country" else None
    st.altair_chart(xc.confusion_chart(counts, labels, tips), key="ex_cm_chart", on_select=_pair_from_chart,
                    selection_mode=xc.PICK, width="stretch")
    st.caption("Rows: the actual country (or cell); columns: the model's guess; colour: share of the row; numbers: "
               "locations. Countries are grouped by continent; the rest are pooled as 'Other countries'. Click a "
               "square to list its locations.")
    wrong = xs.top_confusions(counts, k=200)
    right = counts[counts["true"] == counts["pred"]].sort_values("n", ascending=False)
    pairs = [f"{t}|{p}" for t, p in zip(wrong["true"], wrong["pred"])] + \
            [f"{t}|{p}" for t, p in zip(right["true"], right["pred"])]
    nmap = {f"{t}|{p}": n for t, p, n in zip(counts["true"], counts["pred"], counts["n"])}

    def fmt(k: str) -> str:
        if not k:
            return "—"
        t, p = k.split("|", 1)
        t_, p_ = nm.class_name(t, lvl), nm.class_name(p, lvl)
        return f"{t_} taken for {p_} ({nmap.get(k, 0)})" if t != p else f"{t_}, right ({nmap.get(k, 0)})"

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
                f = thumbnail_file(r["path"], 240) if r["path"] and Path(r["path"]).is_absolute() else None
                if f:
                    st.image(str(f), caption=f"{i + 1}. {r['caption']}", width="stretch")
                else:
                    st.caption(f"{i + 1}. {r['caption']} (image not on this machine)")
                st.button(f"Open {i + 1}", key=f"ex_open_{r['location_id']}", on_click=select,
                          args=(r["location_id"],), help=f"Open {r['caption']} below")
    detail(predictor, locs, "ex_d_cm", same_model)
