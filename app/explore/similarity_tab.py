"""The Similarity tab of the Explore page (Streamlit): which countries the model treats alike
(``app.explore.embed``), as a heatmap, a table and a 2-D layout. Built from the filtered places when the
vectors come from the test set ("soft"); the model's own vectors (reference places, classifier weights)
hold no test place, and the tab says that the filters do not apply to them.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from app.explore import charts as xc
from app.explore import data as xd
from app.explore import embed as xe
from model.data.revgeo import country_name


def filter_note(src: str, n_view: int, n_all: int) -> str:
    """Whether the page's filters shape this view: they do for the test-set vectors ("soft"), not for the
    model's own (reference places, weights)."""
    if src == "soft":
        return (f"Built from the {n_view:,} of {n_all:,} places that pass the filters." if n_view != n_all else
                f"Built from all {n_all:,} places (the filters shape this view).")
    return ("The filters do not apply here: these vectors come from the model itself (its "
            f"{xe.N_WORDS[src]}), not from the test places. Pick “{xe.SOURCES['soft']}” for a view the filters "
            "narrow.")
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
    """The tab (see the module doc)."""
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
        st.info(f"{note} Too few to compare: lower the minimum" + (" or widen the filters." if src == "soft" else "."))
        return
    st.caption(f"{note} {filter_note(src, len(view), len(ev.locations))}")
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


