"""Streamlit sections of the Explore page shared by its tabs: the selection, the filters and the headline
numbers (the data source is ``app.explore.source``, the detail panel ``app.explore.detail``). The logic
lives in the pure modules of ``app.explore`` and ``app.common``.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from app.common import uncertainty as un
from app.common.formatting import fmt_km
from app.explore import stats as xs
from model.data.revgeo import country_name
from model.geo import geoscore

SEL = "explore_sel"  # session key: the selected location_id
# Streamlit (1.67) keeps pills and multiselect chips on one line that scrolls sideways, hiding the chips that do not
# fit: the filters' own rows wrap instead, so every chosen source and country reads whole (tests/e2e checks it).
WRAP_CSS = ("<style>.st-key-ex_f_source div:has(> button){flex-wrap:wrap;overflow-x:visible;row-gap:.4rem}"
            ".st-key-ex_f_country [data-testid=stMultiSelectTagsContainer],"
            ".st-key-ex_f_country [data-testid=stMultiSelectTagsContainer] > span{flex-wrap:wrap;overflow-x:visible}"
            "</style>")


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
    """Filter widgets: country (actual), country guess (all / right / wrong), confidence; then the sources as
    pills (each readable whole, wrapping on a phone) and the error range. Wide enough at 1400 px for every
    chip and option to read whole; the columns stack at phone width."""
    st.html(WRAP_CSS)
    c = st.columns([3, 2, 3])
    codes = sorted(set(locs["true_country"]) - {""}, key=lambda k: country_name(k))
    countries = c[0].multiselect("Country (actual)", codes, format_func=lambda k: country_name(k) or k,
                                 key="ex_f_country", placeholder="All countries")
    rw = c[1].segmented_control("Country guess", xs.RIGHT_WRONG, key="ex_f_rw", default=xs.RIGHT_WRONG[0],
                                format_func=lambda k: k.split()[0], help="All places, or only those whose "
                                "country the model got right (or wrong)") or xs.RIGHT_WRONG[0]
    clo, chi = c[2].slider("Confidence", 0, 100, (0, 100), 5, key="ex_f_conf", format="%d%%",
                           help="Probability the model gave its top country")
    c = st.columns([5, 3])
    sources = c[0].pills("Source (none picked: every source)", sorted(set(locs["source"]), key=xs.source_label),
                         selection_mode="multi", key="ex_f_source", format_func=xs.source_label) or []
    lo, hi = c[1].select_slider("Error range", xs.ERROR_STOPS, value=(xs.ERROR_STOPS[0], xs.ERROR_STOPS[-1]),
                                key="ex_f_err", help="Distance from the model's guess to the actual place")
    mn, mx = xs.error_range(lo, hi)
    return xs.Filters(tuple(countries), tuple(sources), rw, mn, mx, clo / 100, chi / 100)


def drop_hidden_selection(view: pd.DataFrame) -> str | None:
    """Close the selected place when the filters hide it (no detail, no line on the map); returns the
    sentence that says so, or None when nothing was closed."""
    sel = st.session_state.get(SEL)
    if sel and not (view["location_id"] == sel).any():
        select(None)
        return f"The place you had open ({sel}) is hidden by the filters: it was closed."
    return None


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
    km = lambda v: fmt_km(v)
    pts = lambda v: f"{v:,.0f}"
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
