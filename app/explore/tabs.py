"""The tabs of the Explore page (Streamlit): map, table, countries, confusion, similarity and
calibration (the shortcut audit's tab is ``app.explore.audit_tab``). Each takes the filtered
locations (``view``) and/or the whole evaluation; the logic is in the pure modules of ``app.explore``
and ``app.common``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from app.common import uncertainty as un
from app.common.widgets import show_map
from app.explore import charts as xc
from app.explore import data as xd
from app.explore import embed as xe
from app.explore import stats as xs
from app.explore.maps import accuracy_color, accuracy_map, bucket_legend, clicked_location, errors_map
from app.explore.table import display_table, image_rows, new_table_pick, thumbnail_file, thumbnail_uri
from app.explore.ui import SEL, detail, location_picker, select, selected_row
from model.data.revgeo import country_name

TABS = ("Map", "Table", "Countries", "Confusion", "Similarity", "Calibration", "Shortcut audit")
MAX_THUMBS = 400  # rows of the table that get a thumbnail (the rest show none: keeps the page light)


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
    st.caption("Click a column header to sort; tick a row (left edge) to open it below. Double-click a photo to "
               "enlarge it.")
    detail(predictor, locs, "ex_d_table")


def _country_table(pc: pd.DataFrame) -> "pd.io.formats.style.Styler":
    """The per-country table: names, n, accuracy (coloured like the map: red 0 %, green 100 %) with its
    interval, precision / F1 with how often the country was guessed, median error, main confusion."""
    t = pd.DataFrame({
        "Country": [country_name(c) or c for c in pc["country"]],
        "Locations": pc["n"].astype(int),
        "Accuracy": pc["accuracy"].astype(float),
        "95% interval": [f"{lo:.0%}–{hi:.0%}" for lo, hi in zip(pc["acc_lo"], pc["acc_hi"])],
        "Guessed as this": pc["predicted"].astype(int),
        "Precision": pc["precision"].astype(float),
        "F1": pc["f1"].astype(float),
        "Median error (km)": pc["median_km"].round(0),
        "Most often taken for": [f"{country_name(c)} ({n})" if c else "" for c, n in
                                 zip(pc["top_confusion"], pc["top_confusion_n"])]})

    def shade(col: pd.Series) -> list[str]:
        return [f"background-color: {accuracy_color(v)}; color: white" if v == v else "" for v in col]

    return (t.style.apply(shade, subset=["Accuracy"])
            .format({"Accuracy": "{:.0%}", "Precision": lambda v: "–" if v != v else f"{v:.0%}",
                     "F1": "{:.2f}", "Median error (km)": lambda v: "–" if v != v else f"{v:,.0f}"}))


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
        "Precision": st.column_config.NumberColumn(width=75, help="Of the locations guessed as this country, the "
                                                                 "share that really are (None: never guessed)"),
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
    tips = {k: ("Other countries" if k == "other" else country_name(k) or k) for k in labels} \
        if lvl == "country" else None
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


def _similarity_vectors(predictor: Any, ev: xd.Evaluation, view: pd.DataFrame, src: str):
    """(codes, vectors, n per country) of a similarity source (see ``app.explore.embed``)."""
    if src == "gallery":
        return xe.gallery_features(predictor)
    if src == "soft":
        images = ev.images[ev.images["location_id"].isin(view["location_id"])]
        labels, x = xe.soft_features(images)
        counts = xe.soft_counts(images)
    else:
        labels, x = xe.weight_features(predictor)
        counts = xe.weight_counts(predictor)
    return labels, x, np.array([counts.get(c, 0) for c in labels], int)


def similarity_tab(predictor: Any, ev: xd.Evaluation, view: pd.DataFrame) -> None:
    c1, c2 = st.columns([3, 1])
    sources = list(xe.SOURCES) if getattr(predictor, "gallery", None) is not None else \
        [k for k in xe.SOURCES if k != "gallery"]
    src = c1.radio("Describe each country by", sources, format_func=xe.SOURCES.get, key="ex_sim_src")
    min_n = c2.number_input(f"At least this many {xe.N_WORDS[src]} per country", 1, 500, xe.MIN_PLACES,
                            key="ex_sim_min", help="A country described by a handful of places is mostly noise.")
    labels, x, n = _similarity_vectors(predictor, ev, view, src)
    labels, x, n, left = xe.keep_frequent(labels, x, n, int(min_n))
    note = (f"{len(labels)} countries with at least {int(min_n)} {xe.N_WORDS[src]}; {len(left)} left out with fewer"
            + (f" ({', '.join(sorted(country_name(c) or c for c in left)[:12])}{', …' if len(left) > 12 else ''})"
               if left else "") + ".")
    if len(labels) < 3:
        st.info(f"{note} Too few to compare: lower the minimum or widen the filters.")
        return
    st.caption(note)
    names = {c: f"{country_name(c) or c} ({int(k)})" for c, k in zip(labels, n)}
    order = sorted(labels, key=lambda c: (xe.continent(c), country_name(c) or c))
    st.altair_chart(xc.similarity_heatmap(xe.similarity_long(labels, x, n, order), [names[c] for c in order]),
                    width="stretch", key="ex_sim_heat")
    st.caption("Cosine similarity of the countries' vectors (darker = treated more alike); countries are grouped by "
               "continent and the number after each name is how many places its vector averages. "
               + {"gallery": "Vectors: the mean look-alike embedding of the model's reference places in that country "
                             "(the places the retrieval step compares a photo with), centred on the mean country.",
                  "soft": "Vectors: the average probability the model gave each country for this country's test "
                          "photos: two countries are alike when their photos get the same answers.",
                  "weights": "Vectors: the mean classifier weights of the country's cells."}[src])
    df = xe.embedding_frame(labels, np.zeros((len(labels), 2)), x, n)
    st.dataframe(df[["name", "n", "continent", "similar"]].rename(columns={
        "name": "Country", "n": f"n ({xe.N_WORDS[src]})", "continent": "Continent",
        "similar": "Most similar (cosine)"}), hide_index=True, key="ex_sim_table")
    with st.expander("2-D map of the countries (t-SNE / UMAP)"):
        method = st.radio("Method", xe.METHODS, key="ex_sim_method", horizontal=True,
                          help="UMAP compiles its kernels the first time it runs in this server (about 20–50 s).")
        if len(labels) < 8:
            st.info("A 2-D layout of fewer than 8 countries says nothing the table does not: lower the minimum.")
        elif st.toggle("Draw it", key="ex_sim_draw"):
            key = (xd.folder_stamp(ev.folder), str(predictor.path), src, method, tuple(labels), x.shape)
            got = st.session_state.get("_ex_emb")
            if not got or got[0] != key:
                with st.spinner(f"Computing the {method} layout of {len(labels)} countries…"):
                    got = (key, xe.embed(x, method))
                st.session_state["_ex_emb"] = got
            st.altair_chart(xc.embedding_chart(xe.embedding_frame(labels, got[1], x, n)), width="stretch",
                            key="ex_sim_chart")
            st.caption("Countries close together are ones the model treats alike. A map-like layout by continent "
                       "means its notion of similarity is geographic; a mixed one points to cues shared across "
                       "continents (camera generation, road markings, vegetation). The axes have no units, and "
                       "distances between far-apart groups mean little in t-SNE / UMAP.")


def calibration_tab(view: pd.DataFrame) -> None:
    c1, c2 = st.columns(2)
    level = c1.radio("Confidence of the top", ("Country", "Cell"), horizontal=True, key="ex_cal_level")
    nb = c2.slider("Bins", 5, 20, 10, key="ex_cal_bins")
    conf, ok = xs.calibration_inputs(view, level.lower())
    if len(conf) == 0:
        st.info("No location passes the filters.")
        return
    bins, ece = xs.reliability(conf, ok, nb)
    f = xs.calibration_figures(conf, ok)
    m = st.columns(4)
    m[0].metric("Locations", f"{f['n']:,}", "indicative: small sample" if f["n"] < un.SMALL_N else None,
                delta_color="off", delta_arrow="off")
    m[1].metric("Mean confidence", f"{f['conf_pct']:.1f}%", help=f"Average probability the model gave its top "
                f"{level.lower()}, over {f['n']:,} locations")
    m[2].metric("Accuracy", f"{f['acc_pct']:.1f}%",
                f"95% CI {100 * f['acc_lo']:.1f}–{100 * f['acc_hi']:.1f}%", delta_color="off", delta_arrow="off",
                help=f"Share of the {f['n']:,} locations whose top {level.lower()} is right (Wilson interval)")
    m[3].metric("Over-confidence", f"{f['gap_pts']:+.1f} pts",
                f"{f['conf_pct']:.1f}% − {f['acc_pct']:.1f}%", delta_color="off", delta_arrow="off",
                help="Mean confidence minus accuracy, in percentage points (negative: the model is better than it "
                     f"says). Expected calibration error: {ece:.3f} (bin-weighted mean of |accuracy − confidence|; "
                     "0 is perfect).")
    st.altair_chart(xc.reliability_chart(bins, level.lower()), width="stretch", key="ex_cal_chart")
    st.altair_chart(xc.counts_chart(bins, level.lower()), width="stretch", key="ex_cal_counts")
    st.caption("Each point: the locations of one confidence bin, at their mean confidence and their accuracy, with "
               "its 95 % Wilson interval and the number of locations (n); below, how many locations fall in each bin. "
               "Dashed: perfect calibration. Points below the diagonal are over-confident, above it under-confident; "
               "a bin with few locations has a long bar and says little.")
