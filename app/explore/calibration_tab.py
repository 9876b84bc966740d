"""The Calibration tab of the Explore page (Streamlit): is the model as sure as it is right (reliability of
its top country / cell), and is it as wrong as it says (its expected error against the error it makes,
``app.explore.error_calibration``)? Both on the places that pass the filters, with n and 95 % intervals.
"""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from app.common import uncertainty as un
from app.common.formatting import fmt_km
from app.explore import charts as xc
from app.explore import error_calibration as ec
from app.explore import stats as xs


def calibration_tab(view: pd.DataFrame) -> None:
    """The tab: confidence calibration, then the calibration of the expected error (see the module doc)."""
    st.subheader("Is it as sure as it is right?")
    _confidence(view)
    st.subheader("Is it as wrong as it says?")
    expected_error(view)


def _confidence(view: pd.DataFrame) -> None:
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


def _fmt(v: float, unit: str) -> str:
    return fmt_km(v) if unit == "km" else ("–" if not math.isfinite(v) else f"{v:,.0f} pts")


def expected_error(view: pd.DataFrame) -> None:
    """The model's forecast of its own error against the error it makes, by equal-count bins, n and 95 %
    intervals: the expected error of M (km) or the expected score of E (points)."""
    c1, c2 = st.columns(2)
    what = c1.radio("Forecast", list(ec.FORECASTS), horizontal=True, key="ex_cal_fc",
                    format_func=lambda k: {"km": "Expected error of M (km)", "score": "Expected score of E"}[k])
    nb = c2.slider("Bins (equal numbers of places)", 2, 10, 6, key="ex_cal_fc_bins")
    _, _, unit, words = ec.FORECASTS[what]
    f, a = ec.pairs(view, what)
    n_xy = int(view["true_lat"].notna().sum())
    if len(f) == 0:
        st.info("No place that passes the filters has both the forecast and a known distance." +
                (" This evaluation file predates the per-place expected error (loc_expected_km): only one-view "
                 "places carry it." if what == "km" else ""))
        return
    bins = ec.forecast_bins(f, a, nb)
    o = ec.overall(f, a)
    m = st.columns(4)
    m[0].metric("Places", f"{o['n']:,}", "indicative: small sample" if o["n"] < un.SMALL_N else None,
                delta_color="off", delta_arrow="off",
                help=f"Places that pass the filters with coordinates and the forecast ({o['n']:,} of {n_xy:,} with "
                     "coordinates).")
    m[1].metric("Forecast (mean)", _fmt(o["forecast"], unit), help=f"The model's {words}, averaged over the places")
    m[2].metric("Actual (mean)", _fmt(o["actual"].value, unit), un.interval_text(o["actual"], lambda v: _fmt(v, unit))
                or None, delta_color="off", delta_arrow="off", help="Bootstrap 95 % interval of the mean")
    m[3].metric("Rank agreement", "–" if not math.isfinite(o["rank"]) else f"{o['rank']:.2f}",
                help="Spearman correlation of forecast and actual over the places: 1 = a larger forecast always "
                     "goes with a larger actual figure, 0 = the forecast says nothing about which places go wrong.")
    st.altair_chart(xc.forecast_chart(bins, unit), width="stretch", key="ex_cal_fc_chart")
    short = ""
    if what == "km" and o["n"] < n_xy:
        short = (f" Only {o['n']:,} of the {n_xy:,} places with coordinates carry the expected error in this "
                 "evaluation file (one-view places; files from an older model.evaluate lack loc_expected_km for "
                 "fused views), so these are not all the places.")
    st.caption(f"Each point: the places of one bin of the {words}, at their mean forecast and their mean actual "
               f"figure, with its 95 % bootstrap interval and n. Dashed: forecast = actual. "
               f"{ec.verdict(bins, unit)}{short}")
    with st.expander("The bins as a table"):
        st.dataframe(_bins_table(bins, unit), hide_index=True, key="ex_cal_fc_table")


def _bins_table(bins: pd.DataFrame, unit: str) -> pd.DataFrame:
    return pd.DataFrame({"Forecast from": [_fmt(v, unit) for v in bins["lo"]],
                         "to": [_fmt(v, unit) for v in bins["hi"]], "n": bins["n"].astype(int),
                         "Forecast (mean)": [_fmt(v, unit) for v in bins["forecast"]],
                         "Actual (mean)": [_fmt(v, unit) for v in bins["actual"]],
                         "95% interval": [f"{_fmt(lo, unit)} – {_fmt(hi, unit)}" for lo, hi in
                                          zip(bins["actual_lo"], bins["actual_hi"])],
                         "Actual (median)": [_fmt(v, unit) for v in bins["actual_median"]]})
