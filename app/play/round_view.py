"""A Play round being guessed (Streamlit): the photo viewer, the guess map (mouse, keyboard crosshair or a
typed guess), the timer, and the model's answer when the player guesses or the time runs out.

Nothing drawn here names the place: views are re-encoded JPEGs without metadata, captions and alt texts
say only the view's number and heading, the credit line under a demo photo names its licence and author
(never its Mapillary page, which shows the place: that link waits for the reveal), the guess map is
framed on the whole region.
"""
from __future__ import annotations

import time

import streamlit as st
from streamlit_folium import st_folium

from app.play import game as g
from app.play import logic as pl
from app.play import opponent
from app.play.context import GAME, VIEWS, PlayContext, flash
from app.play.keyboard import add_keyboard, parse_guess
from app.play.layout import ANCHOR, MAP_SIZES, anchor, map_height, open_at_top
from app.play.setup_view import remember_seen
from model.data.images import ImageLoadError
from model.locks import model_lock


def round_views(state: g.GameState) -> dict:
    """The current round's views (images for the model, clean JPEG bytes and credit lines for the page),
    loaded once per round."""
    key = (state.game_id, state.index)
    got = st.session_state.get(VIEWS)
    if not got or got["key"] != key:
        plan, got = state.current, {"key": key, "images": [], "blobs": [], "heads": [], "credits": [], "urls": [],
                                    "errors": []}
        loc = plan.location
        for k in plan.views:
            try:
                img, blob = pl.load_view(loc.paths[k], k)
            except ImageLoadError as e:
                got["errors"].append(str(e))
                continue
            got["images"].append(img)
            got["blobs"].append(blob)
            got["heads"].append(loc.headings[k] if k < len(loc.headings) else None)
            got["credits"].append(loc.credits[k] if k < len(loc.credits) else "")
            got["urls"].append(loc.source_urls[k] if k < len(loc.source_urls) else "")
        st.session_state[VIEWS] = got
    return got


def credit(v: dict, k: int, attribution: str | None) -> None:
    """The credit its licence asks for under view ``k`` (its author's line, else the data set's words)."""
    words = v["credits"][k] if k < len(v["credits"]) and v["credits"][k] else attribution
    if words:
        st.caption(words)


@st.fragment
def viewer(attribution: str | None = None) -> None:
    """Look around: one view at a time, chosen by heading (reruns only this part)."""
    state = st.session_state[GAME]
    v = round_views(state)
    n = len(v["blobs"])
    k = 0
    if n > 1:
        k = st.segmented_control("Look around", list(range(n)), default=0, required=True,
                                 key=f"look_{state.game_id}_{state.index}",
                                 format_func=lambda i: pl.compass_point(v["heads"][i]) or f"View {i + 1}")
        k = 0 if k is None else int(k)
    cap = pl.view_caption(k, n, v["heads"][k])
    st.image(v["blobs"][k], caption=cap, alt=f"Street-level photo: {cap}", width="stretch")
    credit(v, k, attribution)


def finish_round(ctx: PlayContext) -> bool:
    """Ask the model, score the round, go to the reveal. False (and a message) if the model failed."""
    state = st.session_state[GAME]
    v = round_views(state)
    try:
        with st.spinner("The model is guessing…"), model_lock(ctx.predictor):
            move = opponent.play(ctx.predictor, v["images"], state.config.region, state.map_size_km)
    except Exception as e:  # noqa: BLE001 - keep the round playable and say what happened
        flash(f"The model could not answer: {type(e).__name__}: {e}")
        return False
    st.session_state[GAME] = state = g.submit(state, move, time.time())
    remember_seen(state)
    return True


def _store_guess(lat: float, lon: float) -> None:
    try:
        st.session_state[GAME] = g.set_guess(st.session_state[GAME], lat, lon, time.time())
    except g.GameError as e:
        flash(str(e))


def on_click(map_key: str) -> None:
    """A click on the guess map (or Enter on its keyboard crosshair): the pin goes there."""
    click = (st.session_state.get(map_key) or {}).get("last_clicked")
    if click:
        _store_guess(click["lat"], click["lng"])


def on_typed(box_key: str) -> None:
    """A typed guess (coordinates or a place name): the pin goes there, or the player is told why not."""
    try:
        (lat, lon), words = parse_guess(st.session_state.get(box_key, ""))
    except g.GameError as e:
        flash(str(e))
        return
    _store_guess(lat, lon)
    st.session_state[f"{box_key}_said"] = words


def _bounds(state: g.GameState, ctx: PlayContext) -> list:
    got = st.session_state.get("play_bounds")
    if got and got[0] == state.game_id:
        return got[1]
    return pl.region_bounds(ctx.locations, state.config.region)


@st.fragment
def guess_panel(ctx: PlayContext) -> None:
    """The map to click (a click reruns only this fragment; the pin is drawn on the first click), the
    typed guess and the Guess button."""
    state = st.session_state[GAME]
    key = f"play_map_{state.game_id}_{state.index}"
    st_folium(add_keyboard(pl.guess_map(_bounds(state, ctx))), key=key, height=map_height(),
              use_container_width=True, returned_objects=["last_clicked"], feature_group_to_add=pl.pin_layer(state.guess),
              on_change=lambda: on_click(key))
    box = f"play_typed_{state.game_id}_{state.index}"
    if state.guess:
        said = st.session_state.get(f"{box}_said")
        st.caption(f"Your pin: {state.guess[0]:.4f}, {state.guess[1]:.4f}" + (f" ({said})" if said else "")
                   + ". Click elsewhere to move it.")
    else:
        st.caption("Click the map to place your pin. Keyboard: Tab to the crosshair button in the map's corner, "
                   "move the map with the arrow keys, Enter places the pin; or type your guess below.")
    st.text_input("Or type your guess", key=box, on_change=on_typed, args=(box,),
                  placeholder="45.81, 15.98 or a place name, then Enter")
    if st.button("Guess", type="primary", disabled=state.guess is None, key="play_submit", width="stretch",
                 icon=":material/where_to_vote:") and finish_round(ctx):
        st.rerun(scope="app")


def timer_fragment(ctx: PlayContext):
    """The round's countdown, rerun every second; at zero the model answers and the reveal opens."""
    @st.fragment(run_every=1.0)
    def timer() -> None:
        state = st.session_state.get(GAME)
        if state is None or state.phase != "guess":
            return
        left = g.time_left(state, time.time())
        st.progress(left / state.config.time_limit_s, text=f":material/timer: {left:.0f} s left in this round")
        if g.is_expired(state, time.time()) and finish_round(ctx):
            st.rerun(scope="app")

    return timer


def guessing(state: g.GameState, ctx: PlayContext) -> None:
    """The round on screen: the photo, the map and the button; the timer beside the map."""
    if g.is_expired(state, time.time()) and finish_round(ctx):  # the time ran out while nobody was looking
        st.rerun()
    open_at_top(f"{state.game_id}-{state.index}-guess", ANCHOR)
    v = round_views(state)
    for msg in v["errors"]:
        st.error(msg)
    if not v["images"]:
        st.error("This place has no readable view; skip it by starting a new game.")
        return
    large = st.session_state.get("play_map_size") == MAP_SIZES[1]
    left, right = (st.container(), st.container()) if large else st.columns(2)
    with left:
        anchor(ANCHOR)
        viewer(ctx.dataset.attribution)
    with right:
        if state.config.time_limit_s:
            timer_fragment(ctx)()
        guess_panel(ctx)
        st.segmented_control("Map size", MAP_SIZES, default=MAP_SIZES[0], required=True, key="play_map_size",
                             help="Large: the map under the photo, as wide as the page.")
