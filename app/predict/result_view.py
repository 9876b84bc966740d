"""The Predict page's result: one model's map, side panel and top-N table, or two models' side by side on
the same photo (maps, top-N, distances, scores, each with its licence)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from app.common import formatting as fm
from app.common import result_map as rmap
from app.common import results as rs
from app.common.widgets import show_map
from app.predict import answer_view as av
from app.predict.answering import Answer
from model.geo import haversine_km


@dataclass
class Shown:
    """One model's answer as shown: its ``label`` and ``licence``, the predictor ``p`` (its cells draw the
    cell layer), the :class:`Answer` and the look-alike points for its map."""

    label: str
    licence: str
    p: Any
    ans: Answer
    look_alikes: list | None = None


def _legend(truth: rs.Truth | None) -> list[str]:
    return ["truth", "model", "best", "candidate"] if truth else ["model", "best", "candidate"]


def _map(s: Shown, truth: rs.Truth | None, top_n: int, key: str, height: int) -> None:
    m = rmap.prediction_map(s.ans.pred, truth, top_n, cells=s.p.cells.table, look_alikes=s.look_alikes)
    show_map(m, key=key, height=height, legend=_legend(truth))


def single(s: Shown, inp: Any, top_n: int) -> None:
    """The answer of one model: map and side panel, then the table full width."""
    unusual = bool(s.ans.ood is not None and s.ans.ood.unusual)
    col_map, col_side = st.columns([3, 2])
    with col_map:
        _map(s, inp.truth, top_n, "predict_map", 500)
        st.caption(f"Predicted from {len(inp.views.images)} view(s) of the {inp.label} in {s.ans.secs:.2f} s"
                   + (f"; actual location from the {inp.truth.source}." if inp.truth else
                      "; actual location hidden (reveal it above)." if getattr(inp, "hidden_truth", None) else
                      "; actual location unknown.")
                   + " Layers (top right): country probabilities, cell probabilities"
                   + (", look-alike training places (purple)" if s.look_alikes else "")
                   + ", OpenStreetMap tiles (online)."
                   + ("" if s.ans.ood is not None else " No out-of-distribution check: this checkpoint has no matching "
                      "calibration (`python -m model.ood` makes one)."))
    with col_side:
        av.side_panel(s.ans.pred, inp.truth, unusual, licence=s.licence)
    _table(s, inp, top_n, unusual, "top_table")


def _table(s: Shown, inp: Any, top_n: int, unusual: bool, key: str) -> None:
    """The top-N table; for a picture unlike street photos folded away, as what the model says anyway."""
    if not unusual:
        av.guess_table(s.ans.pred, inp.truth, top_n, key=key)
        return
    with st.expander("The model's guesses anyway (not a location)"):
        av.guess_table(s.ans.pred, inp.truth, top_n, key=key)


def pair_words(a: Any, b: Any, names: tuple[str, str], truth: rs.Truth | None) -> str:
    """One sentence comparing two answers ``a``, ``b`` (Predictions) of models ``names`` on the same photo."""
    apart = fm.fmt_km(float(haversine_km(a.lat, a.lon, b.lat, b.lon)))
    if a.country_code == b.country_code:
        s = f"Both say **{a.country}**; their guesses (M) are {apart} apart."
    else:
        s = f"**{names[0]}** says **{a.country}**, **{names[1]}** says **{b.country}**; their guesses (M) are {apart} apart."
    if truth is not None:
        da = float(haversine_km(a.lat, a.lon, truth.lat, truth.lon))
        db = float(haversine_km(b.lat, b.lon, truth.lat, truth.lon))
        if abs(da - db) < 1:
            s += " They are as close to the actual location."
        else:
            near, far = (names[0], names[1]) if da < db else (names[1], names[0])
            s += f" {near}'s guess is {fm.fmt_km(abs(da - db))} closer to the actual location than {far}'s."
    return s


def pair(left: Shown, right: Shown, inp: Any, top_n: int) -> None:
    """Two models side by side on the same views: for each its name, licence, map, numbers and top-N."""
    st.markdown(pair_words(left.ans.pred, right.ans.pred, (left.label, right.label), inp.truth))
    cols = st.columns(2)
    for i, (col, s) in enumerate(zip(cols, (left, right))):
        with col:
            st.markdown(f"##### {s.label}")
            _map(s, inp.truth, top_n, f"predict_map_{i}", 380)
            unusual = bool(s.ans.ood is not None and s.ans.ood.unusual)
            av.side_panel(s.ans.pred, inp.truth, unusual, licence=s.licence, key=str(i))
            _table(s, inp, top_n, unusual, f"top_table_{i}")
    st.caption(f"Both answered the same {len(inp.views.images)} view(s) of the {inp.label}: "
               f"{left.label} in {left.ans.secs:.2f} s, {right.label} in {right.ans.secs:.2f} s. Their probabilities "
               "come from different models and candidate sets: compare their distances and scores, not their "
               "confidences.")
