"""After a Play round (Streamlit): who won it, the place named, the map of the three pins, both scores, the
model's top 3, the photos again with their credits and, now that the answer is out, each photo's page
(e.g. on Mapillary), and Grad-CAM when asked for."""
from __future__ import annotations

import time

import streamlit as st

from app.common.widgets import show_map
from app.play import game as g
from app.play import logic as pl
from app.play.context import CAMS, GAME, PlayContext
from app.play.layout import VERDICT, anchor, open_at_top
from app.play.opponents import opponent_label
from app.play.regions import region_label
from app.play.round_view import round_views
from model import explain as ex
from model.locks import model_lock

WORDS = {"player": "You win this round!", "model": "The model wins this round.", "tie": "This round is a tie."}


def place(res: g.RoundResult) -> str:
    """The round's place in words, for the reveal and the tables (after the guess only)."""
    return pl.place_words(*res.truth, res.country_code, res.country)


def legend(results) -> tuple[str, ...]:
    """The map legend's marker kinds: the player's pin only when there is one."""
    return pl.REVEAL_LEGEND if any(r.guess is not None for r in results) else \
        tuple(k for k in pl.REVEAL_LEGEND if k != "guess")


def sources(v: dict, attribution: str | None) -> None:
    """Each photo's credit and its page (the page shows the place: called after the reveal only)."""
    lines = []
    for i, (who, url) in enumerate(zip(v["credits"], v["urls"])):
        if url:
            lines.append(f"View {i + 1}: {who or 'photo'}, [its page]({url})")
    if lines:
        st.caption("Sources: " + "; ".join(lines) + ".")
    elif attribution:
        st.caption(attribution)


def gradcam(state: g.GameState, res: g.RoundResult, ctx: PlayContext) -> None:
    key = (state.game_id, res.index)
    got = st.session_state.get(CAMS)
    v = round_views(state)
    if not got or got[0] != key:
        with st.spinner("Computing Grad-CAM…"), model_lock(ctx.predictor):
            got = (key, ex.explain(ctx.predictor, v["images"], ("cell", res.model.cell_id)))
        st.session_state[CAMS] = got
    e = got[1]
    st.markdown(f"**What the model looked at** (Grad-CAM of its guess: {e.target})")
    cols = st.columns(max(2, min(4, len(v["images"]))))
    for i, img in enumerate(v["images"]):
        cap = pl.view_caption(i, len(v["images"]), v["heads"][i])
        cols[i % len(cols)].image(ex.overlay(img, e.cams[i], e.boxes[i]), caption=cap, alt=cap, width="stretch")


def reveal(state: g.GameState, ctx: PlayContext) -> None:
    res = state.results[-1]
    open_at_top(f"{state.game_id}-{res.index}-reveal", VERDICT)
    anchor(VERDICT)
    (st.success if res.winner == "player" else st.info)(f"{WORDS[res.winner]} It was **{place(res)}**."
                                                        + (" Time ran out." if res.timed_out else ""))
    left, right = st.columns([3, 2])
    with left:
        show_map(pl.reveal_map(res), key=f"play_reveal_{state.game_id}_{res.index}", height=440,
                 legend=legend([res]))
    with right:
        c1, c2 = st.columns(2)
        c1.metric("Your distance", "no pin" if res.player_km is None else pl.fmt_km(res.player_km))
        c2.metric("Model's distance", pl.fmt_km(res.model_km))
        c1.metric("Your score", f"{res.player_score:,}")
        c2.metric("Model's score", f"{res.model_score:,}")
        last = state.is_last_round
        if st.button("See the final result" if last else "Next round", type="primary", key="play_next",
                     icon=":material/flag:" if last else ":material/arrow_forward:", width="stretch"):
            st.session_state[GAME] = g.next_round(state, time.time())
            st.rerun()
        where = region_label(state.config.region, ctx.names)
        st.markdown("**The model's top 3**" + ("" if state.config.region == "world" else f" (told: {where})"))
        st.caption(f"Opponent: {opponent_label(state.config.opponent, ctx.choices)}. Its pin is the point with the "
                   "best expected score under its probabilities: between places when it hesitates, like a careful "
                   "player" + ("." if state.config.region == "world" else f", and always inside {where}."))
        one_country = state.config.region.startswith("country:")  # its country column would repeat the region
        st.dataframe([{"Place": p, **({} if one_country else {"Country": c}), "Probability": f"{q:.1%}"}
                      for p, c, q in res.model.top], hide_index=True, key=f"play_top_{res.index}")
    v = round_views(state)
    if state.config.gradcam and res.model.cell_id is not None:
        gradcam(state, res, ctx)
    else:
        cols = st.columns(max(2, min(4, len(v["blobs"]))))
        for i, blob in enumerate(v["blobs"]):
            cap = pl.view_caption(i, len(v["blobs"]), v["heads"][i])
            cols[i % len(cols)].image(blob, caption=cap, alt=f"Street-level photo: {cap}", width="stretch")
    sources(v, ctx.dataset.attribution)
