"""The Predict page's answer: the side panel (country, place, confidence, distances, scores) and the top-N
table, for one model or for each of two side by side (``key`` tells their widgets apart)."""
from __future__ import annotations

from typing import Any

import streamlit as st

from app.common import formatting as fm
from app.common import results as rs

NUMBER_WIDTH = 50  # px: on a phone (about 356 px of table) "#" and the numbers (314 px in all) show first


def _licence_line(licence: str | None) -> None:
    if licence:
        st.caption(f":material/license: Licence: {licence}")


def side_panel(pred: Any, truth: rs.Truth | None, unusual: bool, *, licence: str | None = None,
               key: str = "") -> None:
    """Headline numbers of the answer. A picture the model finds unlike any street photo (``unusual``) gets
    no headline: what the model would say is given in small print, never as large as a real answer."""
    s = rs.summary(pred, truth)
    top = rs.m_guess(pred)
    where = fm.place_label(top.name, top.admin1, top.country)
    if unusual:
        st.markdown(":orange-badge[:material/warning: not a street-level photo?] **No location is given for "
                    "this picture.**")
        st.caption(f"The model was made for street-level photos. Asked anyway, its classifier would say "
                   f"{s['country'] or s['country_code']} ({s['country_prob']:.0%} over its cells; place {where}), but "
                   "on a picture unlike its training photos that number is not a probability of where it was "
                   f"taken. Expected error under its own probabilities: {fm.fmt_km(s['expected_km'])}."
                   + (f" Distance from the actual location: {fm.fmt_km(s['km'])} ({s['score']:,} points)."
                      if truth is not None else ""))
        _licence_line(licence)
        return
    st.markdown(f"#### {s['country'] or s['country_code']}\nPredicted place: **{where}**")
    c1, c2 = st.columns(2)
    c1.metric("Country confidence", f"{s['country_prob']:.0%}", help="Probability of the most likely country "
              "(sum over its cells)")
    c2.metric("Expected error", fm.fmt_km(s["expected_km"]),
              help="Mean distance from the predicted point to the truth if the model's probabilities are right")
    if truth is not None:
        c1.metric("Distance (M)", fm.fmt_km(s["km"]),
                  help="Great-circle distance from the model's predicted place (M on the map: the likeliest "
                       "cell of the likeliest country) to the actual location")
        c2.metric("Score (M)", f"{s['score']:,}", help="GeoGuessr points, world map: 5000·exp(−d / 1492.7 km)")
        c1.metric("Distance (E)", fm.fmt_km(s["best_km"]),
                  help="Distance from the expected-score guess (E on the map: the point that maximises the expected "
                       "GeoGuessr score under the answer's own probabilities, among the look-alike places, M and "
                       "the top guesses)")
        c2.metric("Score (E)", f"{s['best_score']:,}")
    _licence_line(licence)


def column_config() -> dict:
    """Widths of :func:`app.common.results.guess_table`'s columns: the numbers narrow and first."""
    return {"#": st.column_config.TextColumn(width=NUMBER_WIDTH, help="Rank by probability; M: the model's guess"),
            "Probability": st.column_config.ProgressColumn(format="%.1f %%", min_value=0, max_value=100, width=100),
            "Distance (km)": st.column_config.NumberColumn(format="localized", width=100),
            "Score": st.column_config.NumberColumn(format="localized", width=64, help="GeoGuessr points, world map"),
            "Place": st.column_config.TextColumn(width="large"),
            "Country": st.column_config.TextColumn(width="medium", help="With its probability (all its cells)")}


def guess_table(pred: Any, truth: rs.Truth | None, top_n: int, *, key: str = "top_table") -> None:
    """The top-N guesses by probability, full width under the map, M marked; why M is not #1 when it is not."""
    rows = rs.guess_rows(pred, truth, top_n)
    st.dataframe(rs.guess_table(rows), hide_index=True, key=key, width="stretch", column_config=column_config())
    why = rs.m_note(pred)
    st.caption((why + " " if why else "") + "Sorted by probability; '· M' marks the model's guess M. "
               "On a narrow screen, scroll the table sideways for the place and its country.")
