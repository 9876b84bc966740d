"""Play: head-to-head GeoGuessr against a model on held-out places of the visitor's data set.

Thin page: what a run works with is ``app.play.context`` (data set, opponent, places), the views are
``app.play.setup_view``, ``round_view``, ``reveal_view``, ``over_view`` and ``board_view``; the rules are
``app.play.game``. The game lives in ``st.session_state["play_game"]`` (a ``GameState``).
"""
from __future__ import annotations

import streamlit as st

from app.play import game as g
from app.play import logic as pl
from app.play import widgets as ui
from app.play.board_view import current_board, humans_vs_model, leaderboard
from app.play.context import GAME, MSG, load_context
from app.play.leaderboard import Leaderboard
from app.play.opponents import opponent_label
from app.play.over_view import game_over
from app.play.regions import region_label
from app.play.reveal_view import place, reveal
from app.play.round_view import guessing
from app.play.setup_view import reset_setup, setup
from app.play.tables import plural, result_rows, time_words
from model.data.manifest import ManifestError

st.title(":material/sports_esports: Play against the model")
top = st.container()  # the introduction goes above the data-set and opponent pickers
ctx = load_context()
board = Leaderboard()


def explain_empty() -> None:
    """No playable place: say why (no coordinates, missing images or places seen in training)."""
    from app.common.heldout import explain, heldout_for

    try:
        why = explain(heldout_for(ctx.dataset.manifest, ctx.predictor.train_groups))
    except (ManifestError, OSError, AttributeError):
        why = ""
    st.warning(f"No held-out test place of {ctx.dataset.label} can be played here: a round needs a test place with "
               f"coordinates and readable images that the model was not trained on. {why}")


def intro() -> None:
    from app.common.heldout import explain, heldout_for, page_line

    try:  # the same count, worded for Play, as Predict, Explore and About (app.common.heldout)
        h = heldout_for(ctx.dataset.manifest, getattr(ctx.predictor, "train_groups", ()) or ())
        line, why = f": {page_line(h, 'play')}", explain(h)
    except (ManifestError, OSError):
        line, why = "", None
    st.caption("Guess where held-out street-level photos were taken, then see the model's guess on the same photos. "
               f"The places were never used to train the model{line}.", help=why)


def header(state: g.GameState) -> None:
    t = g.totals(state)
    c = state.config
    where = region_label(c.region, ctx.names)
    settings = (f"{where}, {plural(len(state.rounds), 'round')}, {time_words(c.time_limit_s)}, vs "
                f"{opponent_label(c.opponent, ctx.choices)}, on {ctx.dataset.label}, seed {c.seed}"
                + (" (a replay)" if state.replay else ""))
    if state.phase == "over":  # the final totals below say it all
        st.caption(f"{settings}. {pl.scoring_note(state.map_size_km)}")
        return
    ui.metric_row(("Round", f"{min(state.index + 1, len(state.rounds))} of {len(state.rounds)}", None),
                  ("Your points", f"{t.player:,}", None), ("Model points", f"{t.model:,}", None))
    st.caption(f"{settings}. {pl.scoring_note(state.map_size_km)} {g.verdict(t, final=False)}")


if MSG in st.session_state:
    st.toast(st.session_state.pop(MSG), icon=":material/info:")
state = st.session_state.get(GAME)
if state is None:
    with top:
        intro()
    if not ctx.locations:
        explain_empty()
        st.stop()
    setup(ctx)
else:
    header(state)
    if state.phase == "guess":
        guessing(state, ctx)
    elif state.phase == "reveal":
        reveal(state, ctx)
    else:
        game_over(state, ctx, board)
    if state.results:
        with st.expander("Rounds so far" if state.phase != "over" else "Rounds", expanded=state.phase == "over"):
            st.dataframe(result_rows(state, place), hide_index=True, key="play_rounds_table",
                         column_config=ui.numbers("Your points", "Model points"))
    if state.phase != "over" and st.button("Quit this game", key="play_quit", icon=":material/close:"):
        st.session_state.pop(GAME)
        reset_setup()
        st.rerun()
leaderboard(board, ctx, current_board(ctx, st.session_state.get(GAME)))
humans_vs_model(board, ctx)
