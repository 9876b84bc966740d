"""The leaderboard and "Humans vs the model" (Streamlit).

Games are ranked only within one board (region, rounds, time limit, opponent, data set: every setting
that changes a score, ``app.play.leaderboard.Board``); games saved before those settings were stored form
boards of their own, named as such. Replays (the player knew the answers) are marked on the board and
left out of "Humans vs the model", which is shown for one opponent at a time.
"""
from __future__ import annotations

import streamlit as st

from app.play import versus as vs
from app.play import widgets as ui
from app.play.context import PlayContext
from app.play.layout import narrow_hint
from app.play.leaderboard import Board, Leaderboard
from app.play.opponents import opponent_label
from app.play.tables import REPLAY_MARK, board_name, board_rows, plural

PICK = "play_board_pick"


def current_board(ctx: PlayContext, state) -> Board | None:
    """The board of the game on screen (None on the setup page)."""
    if state is None:
        return None
    c = state.config
    return Board(c.region, len(state.rounds), c.time_limit_s, c.opponent, c.dataset)


def leaderboard(board: Leaderboard, ctx: PlayContext, prefer: Board | None = None) -> None:
    """Pick a board (the saved game's, else the game on screen's, else the most played) and show its top 10."""
    st.subheader("Leaderboard")
    try:
        boards = board.boards()
    except Exception as e:  # noqa: BLE001 - an unusable leaderboard file must not break the game
        st.warning(f"The leaderboard is unavailable: {type(e).__name__}: {e}")
        return
    if not boards:
        st.caption("No game saved yet: finish a game and save it.")
        return
    counts = dict(boards)
    keys = list(counts)
    if st.session_state.get(PICK) not in counts:
        st.session_state[PICK] = prefer if prefer in counts else keys[0]
    names = {b: f"{board_name(b, ctx.names, ctx.dataset_labels, ctx.choices)} ({plural(counts[b], 'game')})"
             for b in keys}
    pick = st.selectbox("Board", keys, key=PICK, format_func=names.get,
                        help="Totals are ranked only among games with the same region, number of rounds, time "
                             "limit, opponent and data set: each changes the score.")
    try:
        rows = board.top(10, board=pick)
    except Exception as e:  # noqa: BLE001
        st.warning(f"The leaderboard is unavailable: {type(e).__name__}: {e}")
        return
    st.dataframe(board_rows(rows), hide_index=True, key="play_board",
                 column_config={"Replay": st.column_config.LinkColumn("Replay", display_text="play this seed"),
                                "#": st.column_config.NumberColumn("#", width="small"),
                                **ui.numbers("Points", "Model", "Margin")})
    notes = []
    if any(e.replay for e in rows):
        notes.append(f"“{REPLAY_MARK}”: the player had seen the answers (a seed played again)")
    if not pick.recorded:
        notes.append("games saved before the time limit, opponent and data set were recorded")
    st.caption("Points: the player's total; Model: the opponent's on the same rounds. "
               + ("; ".join(notes) + "." if notes else ""))
    narrow_hint("The table scrolls sideways: date, seed, views and the replay link are to the right.")


def humans_vs_model(board: Leaderboard, ctx: PlayContext) -> None:
    """Where players beat the model and where it beats them, for one opponent, from the rounds of the
    saved games that were not replays."""
    with st.expander("Humans vs the model", icon=":material/groups:"):
        try:
            every = board.round_records()
        except Exception as e:  # noqa: BLE001 - an unusable leaderboard file must not break the game
            st.warning(f"The saved rounds are unavailable: {type(e).__name__}: {e}")
            return
        fair = [r for r in every if not r.replay]
        if not fair:
            st.caption("No round saved yet: finish a game and save it to the leaderboard."
                       + (" (Replayed games do not count.)" if every else ""))
            return
        by_opp: dict[str, int] = {}
        for r in fair:
            by_opp[r.opponent] = by_opp.get(r.opponent, 0) + 1
        keys = sorted(by_opp, key=lambda k: (k != ctx.opponent.key, -by_opp[k], k))
        if st.session_state.get("play_vs_opponent") not in by_opp:
            st.session_state["play_vs_opponent"] = keys[0]
        who = st.selectbox("Opponent", keys, key="play_vs_opponent",
                           format_func=lambda k: f"{opponent_label(k, ctx.choices)} ({plural(by_opp[k], 'round')})")
        recs = [r for r in fair if r.opponent == who]
        a = vs.tally(recs, "all")[0]
        st.markdown(f"Saved rounds against {opponent_label(who, ctx.choices)}: **{a.rounds:,}**. Players won "
                    f"**{a.player_wins:,}**, the model **{a.model_wins:,}**, ties {a.ties:,}: a players' win rate of "
                    f"{vs.pct(a.win_rate)} (95% interval {vs.interval(a)})"
                    + (", indicative: few rounds." if a.indicative else "."))
        by = st.segmented_control("Group by", ["country", "continent"], default="country", required=True,
                                  key="play_vs_by", format_func=str.capitalize) or "country"
        st.dataframe(vs.tally_rows(vs.tally(recs, by, vs.extra_names(recs) | ctx.names), by), hide_index=True,
                     key="play_vs_table", column_config=ui.numbers("Rounds", "Players won", "Model won", "Mean margin"))
        narrow_hint("The table scrolls sideways: rounds, wins and the mean margin are to the right.")
        left_out = len(every) - len(fair)
        st.caption(f"A round goes to whoever scored more points; the win rate leaves ties out. The interval is a "
                   f"95% Wilson score interval, and a group is called for one side only when its whole interval "
                   f"is above or below 50%. Fewer than {vs.SMALL_N} decided rounds: indicative. Mean margin: the "
                   "players' points minus the model's, per round. Each opponent is counted apart; games saved "
                   "before rounds were recorded count on the leaderboard only"
                   + (f"; {left_out:,} rounds of replayed games (answers known) are left out." if left_out else "."))
