"""Play's setup (Streamlit): the options form, starting a game, going back to a fresh setup.

A shared link (``app.play.links``) prefills every option; a game whose rounds this session has already
seen revealed (the same seed again, "Replay this seed") is marked a replay (``GameState.replay``).
"""
from __future__ import annotations

import time
from dataclasses import replace

import streamlit as st

from app.play import game as g
from app.play import logic as pl
from app.play.context import GAME, SEEN, PlayContext, flash
from app.play.links import config_query, options_from_query
from app.play.regions import RegionIdError

SETUP_KEYS = ("play_region", "play_rounds", "play_time", "play_views_mode", "play_seed", "play_gradcam")
TIME_WORDS = {None: "No limit"} | {s: f"{s} s" for s in g.TIME_LIMITS if s}
VIEW_WORDS = {"all": "All views (look around)", "single": "Single view"}


def start(cfg: g.GameConfig, ctx: PlayContext, replay: bool = False) -> None:
    """Start a game of ``cfg`` on the context's places; a replay if asked or if this session has seen
    these rounds' answers (``app.play.game.seen_answers``)."""
    state = g.new_game(cfg, ctx.locations, time.time())
    seen = list(st.session_state.get(SEEN, {}).values())
    state = replace(state, replay=replay or g.seen_answers(state, seen))
    st.session_state[GAME] = state
    st.session_state["play_bounds"] = (state.game_id, pl.region_bounds(ctx.locations, cfg.region))
    st.query_params.from_dict(config_query(cfg))
    if len(state.rounds) < cfg.n_rounds:
        flash(f"This region has {len(state.rounds)} places to play: the game has {len(state.rounds)} rounds.")
    if state.replay:
        flash("You have seen these places' answers: this game is a replay. It can be saved, marked as one, and "
              "stays out of \"Humans vs the model\".")


def remember_seen(state: g.GameState) -> None:
    """Note that this session saw the answers of the rounds revealed so far (replay detection)."""
    seen = dict(st.session_state.get(SEEN, {}))
    seen[state.game_id] = g.rounds_key(state)[: len(state.results) + 1]
    st.session_state[SEEN] = seen


def setup(ctx: PlayContext) -> None:
    """The options form; a link's settings prefill it (same seed, same rounds)."""
    regions = [o.region for o in ctx.options]
    u = options_from_query(st.query_params, regions, [o.key for o in ctx.choices if o.available])
    if "seed" in u:
        st.info(f"Shared game: seed **{u['seed']}**. Start it to play the same places as whoever sent the link"
                + (f", with a {u['time_limit_s']} s time limit a round." if u.get("time_limit_s") else "."))
    st.session_state.setdefault("play_seed", u.get("seed") or g.new_seed())
    with st.form("play_setup"):
        c1, c2, c3 = st.columns(3)
        labels = {o.region: f"{o.label} ({o.n_locations} places)" for o in ctx.options}
        region = c1.selectbox("Region", regions, index=regions.index(u.get("region", regions[0])),
                              format_func=labels.get, key="play_region")
        rounds = c2.number_input("Rounds", 1, g.MAX_ROUNDS, u.get("n_rounds", 5), key="play_rounds")
        limit = c3.selectbox("Time limit per round", list(TIME_WORDS), format_func=TIME_WORDS.get, key="play_time",
                             index=list(TIME_WORDS).index(u.get("time_limit_s")))
        views = c1.radio("Views", g.VIEW_MODES, index=g.VIEW_MODES.index(u.get("views", "all")), key="play_views_mode",
                         format_func=VIEW_WORDS.get)
        seed = c2.text_input("Seed", key="play_seed", help="The same seed gives the same rounds to anyone.")
        cam = c3.toggle("Show what the model looked at", key="play_gradcam",
                        help="After each reveal, Grad-CAM heat maps over the photos show what drove the model's "
                             "guess (a few seconds more per round).")
        if st.form_submit_button("Start game", type="primary", icon=":material/play_arrow:"):
            try:
                start(g.GameConfig(seed=(seed or "").strip(), region=region, n_rounds=int(rounds), views=views,
                                   time_limit_s=limit, gradcam=cam, opponent=ctx.opponent.key,
                                   dataset=ctx.dataset_id).validate(), ctx)
            except (g.GameError, RegionIdError) as e:
                st.error(str(e))
                return
            st.rerun()


def reset_setup() -> None:
    """Back to a fresh setup: default options, a new seed, no shared game in the URL."""
    for k in SETUP_KEYS:
        st.session_state.pop(k, None)
    st.query_params.clear()
