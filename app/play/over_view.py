"""The end of a Play game (Streamlit): the verdict and totals, every round on one map (zoomed to the
rounds, or to one round), saving to the leaderboard with every setting, a new game or a replay."""
from __future__ import annotations

import sqlite3

import streamlit as st

from app.common.widgets import show_map
from app.play import game as g
from app.play import widgets as ui
from app.play.context import GAME, PlayContext
from app.play.layout import open_at_top
from app.play.leaderboard import Leaderboard, LeaderboardError
from app.play.reveal_view import legend, place
from app.play.setup_view import start
from app.play.summary import summary_map
from app.play.tables import game_entry, round_records

ALL = "All rounds"


def game_over(state: g.GameState, ctx: PlayContext, board: Leaderboard) -> None:
    open_at_top(f"{state.game_id}-over")
    t = g.totals(state)
    if t.winner == "player" and st.session_state.get("play_cheered") != state.game_id:
        st.session_state["play_cheered"] = state.game_id
        st.balloons()
    st.subheader(g.verdict(t))
    ui.metric_row(("Your total", f"{t.player:,}", None), ("Model's total", f"{t.model:,}", None),
                  ("Margin", f"{t.margin:,}", None),
                  ("Rounds won", f"{t.player_rounds_won} – {t.model_rounds_won}", "You – the model"))
    st.caption(f"Totals out of {t.max_points:,} points ({len(state.rounds)} rounds × 5,000)."
               + (" A replay: you had seen these answers." if state.replay else ""))
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Every round on one map**")
        pick = st.segmented_control("Zoom to", [ALL] + [f"Round {r.index + 1}" for r in state.results],
                                    default=ALL, required=True, key=f"play_zoom_{state.game_id}",
                                    help="Rounds close together pile up when the map shows them all: zoom to one.")
        focus = None if pick in (None, ALL) else int(str(pick).split()[-1]) - 1
        show_map(summary_map(state.results, place, focus=focus), key=f"play_summary_{state.game_id}_{focus}",
                 height=420, legend=legend(state.results))
        st.caption("Numbers are rounds; lines join each pin to its round's place. Hover a pin for its distance "
                   "and points.")
    with right:
        save_form(state, t, board)
        if st.button("New game", key="play_new", icon=":material/refresh:", width="stretch"):
            st.session_state.pop(GAME)
            st.session_state["play_seed"] = g.new_seed()
            st.query_params.clear()  # the old seed is no longer the game on offer
            st.rerun()
        if st.button("Replay this seed", key="play_replay", icon=":material/replay:", width="stretch",
                     help="The same places again, with the same options: a replay (you know the answers), "
                          "marked on the leaderboard and left out of \"Humans vs the model\"."):
            start(state.config, ctx, replay=True)
            st.rerun()


def save_form(state: g.GameState, t: g.Totals, board: Leaderboard) -> None:
    """Name and save the finished game (with its rounds and settings) to the leaderboard."""
    with st.form("play_save"):
        name = st.text_input("Your name for the leaderboard", key="play_name", max_chars=32)
        if st.form_submit_button("Save to the leaderboard", icon=":material/emoji_events:", width="stretch"):
            try:
                cfg = state.config
                replay = state.replay or board.played_before(name, cfg.seed, cfg.region, cfg.dataset, cfg.views)
                entry = game_entry(state, name, replay)
                if board.add(entry, round_records(state)):
                    st.success("Saved." + (" Marked as a replay: you had played this seed before." if replay else ""))
                    st.session_state["play_board_pick"] = entry.board  # the board below shows this game's
                else:
                    st.info("This game is already on the leaderboard.")
            except LeaderboardError as e:
                st.error(str(e))
            except (OSError, sqlite3.Error) as e:  # unwritable or corrupt file: the game stays on screen
                st.error(f"The game could not be saved: the leaderboard file `{board.path}` is unusable "
                         f"({type(e).__name__}: {e}).")
