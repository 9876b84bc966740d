"""Altair charts of the Explore page (no Streamlit; Vega-Lite renders in the browser, offline).

- :func:`confusion_chart`: heatmap of a confusion matrix; clicking a cell selects it (point
  selection named :data:`PICK` on the fields ``true`` and ``pred``).
- :func:`reliability_chart`: reliability diagram (accuracy per confidence bin with its 95 % interval
  and count, diagonal = perfect calibration); :func:`counts_chart`: locations per bin.
- :func:`similarity_heatmap`: cosine similarity of countries, n on the axes.
- :func:`embedding_chart`: 2-D country embedding coloured by continent.
- :func:`buckets_chart`: locations per error bucket.
- :func:`forecast_chart`: the model's forecast of its error against the actual error, by bins.
"""
from __future__ import annotations

from typing import Sequence

import altair as alt
import pandas as pd

from app.explore.stats import BUCKET_COLORS, BUCKET_SHORT

PICK = "pick"


def confusion_chart(counts: pd.DataFrame, order: Sequence[str] | None = None, names: dict[str, str] | None = None,
                    cell_px: int = 22) -> alt.LayerChart:
    """Heatmap of :func:`app.explore.stats.confusion_counts` (rows: truth, columns: guess; colour: share
    of the row; text: count). ``order`` sorts both axes; ``names`` maps labels (country codes) to the
    names on the axes and in the tooltips. A click selects the cell's (``true``, ``pred``) codes."""
    df = counts.copy()
    names = names or {}
    df["true_name"] = [names.get(t, t) for t in df["true"]]
    df["pred_name"] = [names.get(p, p) for p in df["pred"]]
    labels = list(order) if order is not None else sorted(set(df["true"]) | set(df["pred"]))
    sel = alt.selection_point(name=PICK, fields=["true", "pred"], on="click", empty=False)
    scale = alt.Scale(domain=[names.get(k, k) for k in labels])  # every class on both axes, in ``order``
    base = alt.Chart(df).encode(
        x=alt.X("pred_name:N", scale=scale, title="Model's guess",
                axis=alt.Axis(labelAngle=-60, labelOverlap=False, labelFlush=False, labelLimit=140)),
        y=alt.Y("true_name:N", scale=scale, title="Actual",
                axis=alt.Axis(labelOverlap=False, labelFlush=False, labelLimit=160)))
    rect = base.mark_rect(stroke="#333", strokeWidth=0).encode(
        color=alt.Color("row_share:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), title="Share of row"),
        strokeWidth=alt.condition(sel, alt.value(2), alt.value(0)),
        tooltip=[alt.Tooltip("true_name:N", title="Actual"), alt.Tooltip("pred_name:N", title="Guess"),
                 alt.Tooltip("n:Q", title="Locations"), alt.Tooltip("row_share:Q", title="Share of row", format=".0%")],
    ).add_params(sel)
    text = base.mark_text(fontSize=9).encode(
        text="n:Q", color=alt.condition(alt.datum.row_share > 0.55, alt.value("white"), alt.value("#222")))
    side = max(220, cell_px * len(labels))
    return (rect + text).properties(height=side)


def reliability_chart(bins: pd.DataFrame, what: str = "country") -> alt.LayerChart:
    """Accuracy per confidence bin as a point at the bin's mean confidence with its 95 % Wilson interval
    (error bar with caps) and the bin's count above it, against the diagonal (perfect calibration).
    Both axes always span 0-100 % (the last bin is never cut off); points at 0 or 100 % stay whole."""
    df = bins.copy()
    df["label"] = [f"n={int(v)}" for v in df["n"]]
    ticks = [i / 10 for i in range(11)]
    x_scale = alt.Scale(domain=[-0.02, 1.02], nice=False)
    y_scale = alt.Scale(domain=[-0.04, 1.1], nice=False)
    tip = [alt.Tooltip("lo:Q", format=".0%", title="confidence from"), alt.Tooltip("hi:Q", format=".0%", title="to"),
           alt.Tooltip("n:Q", title="locations"), alt.Tooltip("mean_conf:Q", format=".1%", title="mean confidence"),
           alt.Tooltip("accuracy:Q", format=".1%", title="accuracy"),
           alt.Tooltip("acc_lo:Q", format=".0%", title="95% CI from"),
           alt.Tooltip("acc_hi:Q", format=".0%", title="to")]
    x = alt.X("mean_conf:Q", title=f"Confidence (probability the model gave its top {what})", scale=x_scale,
              axis=alt.Axis(format="%", values=ticks))
    y = alt.Y("accuracy:Q", title="Accuracy (share right)", scale=y_scale,
              axis=alt.Axis(format="%", values=ticks, minExtent=40))  # same extent as counts_chart: x axes align
    diag = alt.Chart(pd.DataFrame({"mean_conf": [0.0, 1.0], "accuracy": [0.0, 1.0]})).mark_line(
        strokeDash=[5, 4], color="#888").encode(x=x, y=y)
    bars = alt.Chart(df).mark_rule(color="#4c78a8", strokeWidth=2).encode(
        x=x, y=alt.Y("acc_lo:Q", scale=y_scale), y2="acc_hi:Q", tooltip=tip)
    caps = [alt.Chart(df).mark_tick(color="#4c78a8", thickness=2, size=12, orient="horizontal").encode(
        x=x, y=alt.Y(f"{end}:Q", scale=y_scale)) for end in ("acc_lo", "acc_hi")]
    dots = alt.Chart(df).mark_circle(color="#1f4e79", size=90, opacity=1).encode(x=x, y=y, tooltip=tip)
    label = alt.Chart(df).encode(x=x, y=alt.Y("acc_hi:Q", scale=y_scale), text="label:N")
    halo = label.mark_text(dy=-11, fontSize=11, stroke="white", strokeWidth=4, strokeJoin="round")
    text = label.mark_text(dy=-11, fontSize=11, color="#333")
    return alt.layer(diag, bars, *caps, dots, halo, text).properties(height=380)


def counts_chart(bins: pd.DataFrame, what: str = "country") -> alt.Chart:
    """How many locations fall in each confidence bin: a histogram, bars from 0 to n over the bins'
    ranges (0-100 %), with the count on each bar."""
    x_scale = alt.Scale(domain=[-0.02, 1.02], nice=False)
    base = alt.Chart(bins).encode(
        x=alt.X("lo:Q", title=f"Confidence of the top {what}", scale=x_scale,
                axis=alt.Axis(format="%", values=[i / 10 for i in range(11)])), x2="hi:Q")
    rect = base.mark_rect(color="#9ecae1", stroke="white", strokeWidth=1).encode(
        y=alt.Y("n:Q", title="Locations", axis=alt.Axis(minExtent=40)), y2=alt.datum(0),
        tooltip=[alt.Tooltip("lo:Q", format=".0%", title="from"), alt.Tooltip("hi:Q", format=".0%", title="to"),
                 alt.Tooltip("n:Q", title="locations")])
    return rect.properties(height=200)


def similarity_heatmap(long: pd.DataFrame, order: Sequence[str], cell_px: int = 20) -> alt.LayerChart:
    """Cosine similarity of every pair of countries (:func:`app.explore.embed.similarity_long`), axes
    labelled 'Country (n)' in ``order`` (names); darker = more alike."""
    scale = alt.Scale(domain=list(order))
    base = alt.Chart(long).encode(
        x=alt.X("b_name:N", scale=scale, title=None,
                axis=alt.Axis(labelAngle=-50, labelOverlap=False, labelFlush=False, labelLimit=160)),
        y=alt.Y("a_name:N", scale=scale, title=None,
                axis=alt.Axis(labelOverlap=False, labelFlush=False, labelLimit=160)))
    rect = base.mark_rect().encode(
        color=alt.Color("cos:Q", scale=alt.Scale(scheme="purples", domain=[0, 1], clamp=True), title="Cosine"),
        tooltip=[alt.Tooltip("a_name:N", title="Country (n)"), alt.Tooltip("b_name:N", title="and (n)"),
                 alt.Tooltip("cos:Q", format=".2f", title="cosine similarity")])
    return rect.properties(height=max(220, cell_px * len(order)))


def embedding_chart(df: pd.DataFrame, title: str = "") -> alt.LayerChart:
    """Scatter of :func:`app.explore.embed.embedding_frame` with the country codes as labels."""
    tip = [alt.Tooltip("name:N", title="Country"), alt.Tooltip("continent:N")]
    if "similar" in df:
        tip.append(alt.Tooltip("similar:N", title="Most similar"))
    base = alt.Chart(df).encode(x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None))
    dots = base.mark_circle(size=140, opacity=0.85, stroke="#333", strokeWidth=0.5).encode(
        color=alt.Color("continent:N", scale=alt.Scale(scheme="tableau10"), title="Continent"), tooltip=tip)
    text = base.mark_text(dy=-11, fontSize=10).encode(text="code:N")
    return (dots + text).properties(height=480, title=title)


def buckets_chart(counts: pd.DataFrame) -> alt.Chart:
    """Horizontal bars: locations per error bucket, in the buckets' colours."""
    return alt.Chart(counts).mark_bar().encode(
        y=alt.Y("short:N", sort=list(BUCKET_SHORT), title="Error", axis=alt.Axis(labelOverlap=False)),
        x=alt.X("n:Q", title="Locations"),
        color=alt.Color("short:N", scale=alt.Scale(domain=list(BUCKET_SHORT), range=list(BUCKET_COLORS)), legend=None),
        tooltip=[alt.Tooltip("label:N", title="Error"), alt.Tooltip("n:Q", title="Locations"),
                 alt.Tooltip("share:Q", format=".0%", title="Share")],
    ).properties(height=alt.Step(22))


def forecast_chart(bins: pd.DataFrame, unit: str = "km") -> alt.LayerChart:
    """Mean actual figure per forecast bin (``app.explore.error_calibration.forecast_bins``) at the bin's mean
    forecast, with its 95 % interval and n above it, against the diagonal (forecast = actual)."""
    df = bins.copy()
    df["label"] = [f"n={int(v)}" for v in df["n"]]
    top = float(max(df[["hi", "actual_hi", "forecast"]].max().max(), 1.0)) * 1.08 if len(df) else 1.0
    scale = alt.Scale(domain=[0, top], nice=False)
    what = "error (km)" if unit == "km" else "score (points)"
    fmt = ",.0f"
    x = alt.X("forecast:Q", title=f"The model's expected {what}, bin mean", scale=scale, axis=alt.Axis(format=fmt))
    y = alt.Y("actual:Q", title=f"Actual {what}, bin mean", scale=scale, axis=alt.Axis(format=fmt, minExtent=50))
    tip = [alt.Tooltip("n:Q", title="places"), alt.Tooltip("lo:Q", format=fmt, title="forecast from"),
           alt.Tooltip("hi:Q", format=fmt, title="to"), alt.Tooltip("forecast:Q", format=fmt, title="mean forecast"),
           alt.Tooltip("actual:Q", format=fmt, title="mean actual"),
           alt.Tooltip("actual_lo:Q", format=fmt, title="95% CI from"), alt.Tooltip("actual_hi:Q", format=fmt, title="to"),
           alt.Tooltip("actual_median:Q", format=fmt, title="median actual")]
    diag = alt.Chart(pd.DataFrame({"forecast": [0.0, top], "actual": [0.0, top]})).mark_line(
        strokeDash=[5, 4], color="#888").encode(x=x, y=y)
    bars = alt.Chart(df).mark_rule(color="#4c78a8", strokeWidth=2).encode(
        x=x, y=alt.Y("actual_lo:Q", scale=scale), y2="actual_hi:Q", tooltip=tip)
    dots = alt.Chart(df).mark_circle(color="#1f4e79", size=90, opacity=1).encode(x=x, y=y, tooltip=tip)
    label = alt.Chart(df).encode(x=x, y=alt.Y("actual_hi:Q", scale=scale), text="label:N")
    halo = label.mark_text(dy=-10, fontSize=11, stroke="white", strokeWidth=4, strokeJoin="round")
    text = label.mark_text(dy=-10, fontSize=11, color="#333")
    return alt.layer(diag, bars, dots, halo, text).properties(height=360)
