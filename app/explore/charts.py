"""Altair charts of the Explore page (no Streamlit; Vega-Lite renders in the browser, offline).

- :func:`confusion_chart`: heatmap of a confusion matrix; clicking a cell selects it (point
  selection named :data:`PICK` on the fields ``true`` and ``pred``).
- :func:`reliability_chart`: reliability diagram (accuracy vs confidence per bin, diagonal = perfect
  calibration) above a histogram of the confidences.
- :func:`embedding_chart`: 2-D country embedding coloured by continent.
- :func:`buckets_chart`: locations per error bucket.
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
    of the row; text: count). ``order`` sorts both axes; ``names`` maps labels to tooltip names."""
    df = counts.copy()
    names = names or {}
    df["true_name"] = [names.get(t, t) for t in df["true"]]
    df["pred_name"] = [names.get(p, p) for p in df["pred"]]
    labels = list(order) if order is not None else sorted(set(df["true"]) | set(df["pred"]))
    sel = alt.selection_point(name=PICK, fields=["true", "pred"], on="click", empty=False)
    scale = alt.Scale(domain=labels)  # every class on both axes, in ``order``: a square matrix
    base = alt.Chart(df).encode(
        x=alt.X("pred:N", scale=scale, title="Model's guess", axis=alt.Axis(labelAngle=-60, labelOverlap=False)),
        y=alt.Y("true:N", scale=scale, title="Actual", axis=alt.Axis(labelOverlap=False)))
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


def reliability_chart(bins: pd.DataFrame, what: str = "country") -> alt.VConcatChart:
    """Accuracy per confidence bin (bars from ``lo`` to ``hi``, dots at the bins' mean confidence)
    against the diagonal, and below it how many locations fall in each bin."""
    diag = alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})).mark_line(
        strokeDash=[5, 4], color="#888").encode(x="x:Q", y="y:Q")
    x = alt.X("lo:Q", title=f"Confidence (probability of the top {what})", scale=alt.Scale(domain=[0, 1]),
              axis=alt.Axis(format="%"))
    tip = [alt.Tooltip("lo:Q", format=".0%", title="from"), alt.Tooltip("hi:Q", format=".0%", title="to"),
           alt.Tooltip("n:Q", title="locations"), alt.Tooltip("mean_conf:Q", format=".1%", title="mean confidence"),
           alt.Tooltip("accuracy:Q", format=".1%", title="accuracy")]
    bars = alt.Chart(bins).mark_bar(opacity=0.75, color="#4c78a8", stroke="white").encode(
        x=x, x2="hi:Q", y=alt.Y("accuracy:Q", title="Accuracy", scale=alt.Scale(domain=[0, 1]),
                                axis=alt.Axis(format="%")), tooltip=tip)
    dots = alt.Chart(bins).mark_circle(color="#d62728", size=60).encode(x="mean_conf:Q", y="accuracy:Q", tooltip=tip)
    top = (bars + diag + dots).properties(height=300)
    hist = alt.Chart(bins).mark_bar(color="#9ecae1", stroke="white").encode(
        x=alt.X("lo:Q", title=None, scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")), x2="hi:Q",
        y=alt.Y("n:Q", title="Locations"), tooltip=tip).properties(height=90)
    return alt.vconcat(top, hist)


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
