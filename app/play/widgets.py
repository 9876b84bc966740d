"""Streamlit pieces of the Play page that need only their arguments: a wrapping row of metrics, the
number format of its tables, and the "Humans vs the model" panel (data: ``app.play.versus``)."""
from __future__ import annotations

import streamlit as st

from app.play import versus as vs
from app.play.leaderboard import Leaderboard

POINTS = "%,d"  # thousands separators in tables, as in the metrics (f"{n:,}"): one number format


def metric_row(*items: tuple[str, str, str | None]) -> None:
    """(label, value, help) metrics side by side, each as wide as its text: on a narrow screen they
    wrap to the next line instead of cutting the numbers off."""
    with st.container(horizontal=True, gap="large"):
        for label, value, tip in items:
            st.metric(label, value, help=tip, width="content")


def numbers(*columns: str) -> dict:
    """Column settings showing whole numbers with thousands separators (like the metrics)."""
    return {c: st.column_config.NumberColumn(c, format=POINTS) for c in columns}


def humans_vs_model(board: Leaderboard, names: dict[str, str]) -> None:
    """Where players beat the model and where it beats them, from the rounds of the games saved in
    ``board`` (``names``: {country code: name})."""
    with st.expander("Humans vs the model", icon=":material/groups:"):
        try:
            recs = board.round_records()
        except Exception as e:  # noqa: BLE001 - an unusable leaderboard file must not break the game
            st.warning(f"The saved rounds are unavailable: {type(e).__name__}: {e}")
            return
        if not recs:
            st.caption("No round saved yet: finish a game and save it to the leaderboard.")
            return
        a = vs.tally(recs, "all")[0]
        st.markdown(f"Saved rounds: **{a.rounds:,}**. Players won **{a.player_wins:,}**, the model "
                    f"**{a.model_wins:,}**, ties {a.ties:,}: a players' win rate of {vs.pct(a.win_rate)} (95% "
                    f"interval {vs.interval(a)})" + (", indicative: few rounds." if a.indicative else "."))
        by = st.segmented_control("Group by", ["country", "continent"], default="country", required=True,
                                  key="play_vs_by", format_func=str.capitalize) or "country"
        st.dataframe(vs.tally_rows(vs.tally(recs, by, vs.extra_names(recs) | names), by), hide_index=True,
                     key="play_vs_table", column_config=numbers("Rounds", "Players won", "Model won", "Mean margin"))
        st.caption(f"A round goes to whoever scored more points; the win rate leaves ties out. The interval is a "
                   f"95% Wilson score interval, and a group is called for one side only when its whole interval "
                   f"is above or below 50%. Fewer than {vs.SMALL_N} decided rounds: indicative. Mean margin: the "
                   "players' points minus the model's, per round. Games saved before rounds were recorded count "
                   "on the leaderboard only.")
