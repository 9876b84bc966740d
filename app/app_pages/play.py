"""Play: head-to-head GeoGuessr against the model on held-out test-set places.

Thin page: the rules are ``app.play.game``, the data, maps and tables ``app.play.logic``, the scores
table ``app.play.leaderboard``. The game lives in ``st.session_state["play_game"]`` (a ``GameState``).
"""
from __future__ import annotations

import sqlite3
import time

import streamlit as st
from streamlit_folium import st_folium

from app.play import game as g
from app.play import logic as pl
from app.play import opponent
from app.play import widgets as ui
from app.play.leaderboard import Entry, Leaderboard, LeaderboardError
from app.play.regions import RegionIdError, region_label, region_options
from app.play.summary import summary_map
from app.common.widgets import predictor_or_stop, show_map
from model import explain as ex
from model.locks import model_lock
from model.data.images import ImageLoadError
from model.data.manifest import ManifestError

GAME, VIEWS, CAMS, MSG = "play_game", "play_views", "play_cams", "play_msg"
SETUP_KEYS = ("play_region", "play_rounds", "play_time", "play_views_mode", "play_seed", "play_gradcam")
TIME_WORDS = {None: "No limit"} | {s: f"{s} s" for s in g.TIME_LIMITS if s}

st.title(":material/sports_esports: Play against the model")
predictor = predictor_or_stop()
try:
    locations = pl.load_playable(predictor.train_groups)
except ManifestError as e:
    st.error(f"No test data to play with: {e}")
    st.stop()
if not locations:  # say why (no coordinates, missing images or places seen in training), not a guess at it
    from app.common.heldout import explain, heldout_for

    try:
        _why = explain(heldout_for(None, predictor.train_groups))
    except (ManifestError, OSError):
        _why = ""
    st.warning("No held-out test place can be played here: a round needs a test place with coordinates and readable "
               f"images that the model was not trained on. {_why}")
    st.stop()
names = pl.country_names(locations)
options = region_options([x.country_code for x in g.region_pool(locations, "world")], names)  # one per place group


def flash(msg: str) -> None:
    st.session_state[MSG] = msg


def start(cfg: g.GameConfig) -> None:
    st.session_state[GAME] = state = g.new_game(cfg, locations, time.time())
    st.query_params.from_dict(pl.config_query(cfg))
    if len(state.rounds) < cfg.n_rounds:
        flash(f"This region has {len(state.rounds)} places to play: the game has {len(state.rounds)} rounds.")


def setup() -> None:
    """The options form; a seed from the URL prefills it (same seed, same rounds)."""
    u = pl.options_from_query(st.query_params, [o.region for o in options])
    if "seed" in u:
        st.info(f"Shared game: seed **{u['seed']}**. Start it to play the same places as whoever sent the link.")
    st.session_state.setdefault("play_seed", u.get("seed") or g.new_seed())
    with st.form("play_setup"):
        c1, c2, c3 = st.columns(3)
        regions = [o.region for o in options]
        labels = {o.region: f"{o.label} ({o.n_locations} places)" for o in options}
        region = c1.selectbox("Region", regions, index=regions.index(u.get("region", regions[0])),
                              format_func=labels.get, key="play_region")
        rounds = c2.number_input("Rounds", 1, g.MAX_ROUNDS, u.get("n_rounds", 5), key="play_rounds")
        limit = c3.selectbox("Time limit per round", list(TIME_WORDS), format_func=TIME_WORDS.get, key="play_time",
                             index=list(TIME_WORDS).index(u.get("time_limit_s")))
        views = c1.radio("Views", g.VIEW_MODES, index=g.VIEW_MODES.index(u.get("views", "all")), key="play_views_mode",
                         format_func={"all": "All views (look around)", "single": "Single view"}.get)
        seed = c2.text_input("Seed", key="play_seed", help="The same seed gives the same rounds to anyone.")
        cam = c3.toggle("Show what the model looked at", key="play_gradcam",
                        help="After each reveal, Grad-CAM heat maps over the photos show what drove the model's "
                             "guess (a few seconds more per round).")
        if st.form_submit_button("Start game", type="primary", icon=":material/play_arrow:"):
            try:
                start(g.GameConfig(seed=(seed or "").strip(), region=region, n_rounds=int(rounds), views=views,
                                   time_limit_s=limit, gradcam=cam).validate())
            except (g.GameError, RegionIdError) as e:
                st.error(str(e))
                return
            st.rerun()


def reset_setup() -> None:
    """Back to a fresh setup: default options, a new seed, no shared game in the URL."""
    for k in SETUP_KEYS:
        st.session_state.pop(k, None)
    st.query_params.clear()


def place(res: g.RoundResult) -> str:
    """The round's place in words, for the reveal and the tables (after the guess only)."""
    return pl.place_words(*res.truth, res.country_code, res.country)


def header(state: g.GameState) -> None:
    t = g.totals(state)
    if state.phase == "over":  # the final totals below say it all
        st.caption(f"{region_label(state.config.region, names)}, {len(state.rounds)} rounds, seed "
                   f"{state.config.seed}. {pl.scoring_note(state.map_size_km)}")
        return
    ui.metric_row(("Round", f"{min(state.index + 1, len(state.rounds))} of {len(state.rounds)}", None),
               ("Your points", f"{t.player:,}", None), ("Model points", f"{t.model:,}", None),
               ("Region", region_label(state.config.region, names), None))
    st.caption(f"{pl.scoring_note(state.map_size_km)} Seed {state.config.seed}. {g.verdict(t, final=False)}")


def round_views(state: g.GameState) -> dict:
    """The current round's views (images for the model, clean JPEG bytes for the page), loaded once."""
    key = (state.game_id, state.index)
    got = st.session_state.get(VIEWS)
    if not got or got["key"] != key:
        plan, got = state.current, {"key": key, "images": [], "blobs": [], "heads": [], "errors": []}
        for k in plan.views:
            try:
                img, blob = pl.load_view(plan.location.paths[k], k)
            except ImageLoadError as e:
                got["errors"].append(str(e))
                continue
            got["images"].append(img)
            got["blobs"].append(blob)
            got["heads"].append(plan.location.headings[k] if k < len(plan.location.headings) else None)
        st.session_state[VIEWS] = got
    return got


@st.fragment
def viewer() -> None:
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


def finish_round() -> bool:
    """Ask the model, score the round, go to the reveal. False (and a message) if the model failed."""
    state, v = st.session_state[GAME], round_views(st.session_state[GAME])
    try:
        with st.spinner("The model is guessing…"), model_lock(predictor):
            move = opponent.play(predictor, v["images"], state.config.region, state.map_size_km)
    except Exception as e:  # noqa: BLE001 - keep the round playable and say what happened
        flash(f"The model could not answer: {type(e).__name__}: {e}")
        return False
    st.session_state[GAME] = g.submit(state, move, time.time())
    return True


def on_click(map_key: str) -> None:
    click = (st.session_state.get(map_key) or {}).get("last_clicked")
    if click:
        try:
            st.session_state[GAME] = g.set_guess(st.session_state[GAME], click["lat"], click["lng"], time.time())
        except g.GameError as e:
            flash(str(e))


@st.fragment
def guess_panel() -> None:
    """The map to click (a click reruns only this fragment; the pin is drawn on the first click) and the button."""
    state = st.session_state[GAME]
    key = f"play_map_{state.game_id}_{state.index}"
    st_folium(pl.guess_map(pl.region_bounds(locations, state.config.region)), key=key, height=440,
              use_container_width=True, returned_objects=["last_clicked"], feature_group_to_add=pl.pin_layer(state.guess),
              on_change=lambda: on_click(key))
    if state.guess:
        st.caption(f"Your pin: {state.guess[0]:.4f}, {state.guess[1]:.4f}. Click elsewhere to move it.")
    else:
        st.caption("Click the map to place your pin.")
    if st.button("Guess", type="primary", disabled=state.guess is None, key="play_submit", width="stretch",
                 icon=":material/where_to_vote:") and finish_round():
        st.rerun(scope="app")


@st.fragment(run_every=1.0)
def timer() -> None:
    state = st.session_state.get(GAME)
    if state is None or state.phase != "guess":
        return
    left = g.time_left(state, time.time())
    st.progress(left / state.config.time_limit_s, text=f":material/timer: {left:.0f} s left")
    if g.is_expired(state, time.time()) and finish_round():
        st.rerun(scope="app")


def guessing(state: g.GameState) -> None:
    if g.is_expired(state, time.time()) and finish_round():  # the time ran out while nobody was looking
        st.rerun()
    if state.config.time_limit_s:
        timer()
    v = round_views(state)
    for msg in v["errors"]:
        st.error(msg)
    if not v["images"]:
        st.error("This place has no readable view; skip it by starting a new game.")
        return
    left, right = st.columns([3, 2])
    with left:
        viewer()
    with right:
        guess_panel()


def gradcam(state: g.GameState, res: g.RoundResult) -> None:
    key = (state.game_id, res.index)
    got = st.session_state.get(CAMS)
    v = round_views(state)
    if not got or got[0] != key:
        with st.spinner("Computing Grad-CAM…"):
            got = (key, ex.explain(predictor, v["images"], ("cell", res.model.cell_id)))
        st.session_state[CAMS] = got
    e = got[1]
    st.markdown(f"**What the model looked at** (Grad-CAM of its guess: {e.target})")
    cols = st.columns(max(2, min(4, len(v["images"]))))
    for i, img in enumerate(v["images"]):
        cap = pl.view_caption(i, len(v["images"]), v["heads"][i])
        cols[i % len(cols)].image(ex.overlay(img, e.cams[i], e.boxes[i]), caption=cap, alt=cap, width="stretch")


def reveal(state: g.GameState) -> None:
    res = state.results[-1]
    word = {"player": "You win this round!", "model": "The model wins this round.", "tie": "This round is a tie."}
    (st.success if res.winner == "player" else st.info)(f"{word[res.winner]} It was **{place(res)}**."
                                                        + (" Time ran out." if res.timed_out else ""))
    left, right = st.columns([3, 2])
    with left:
        show_map(pl.reveal_map(res), key=f"play_reveal_{state.game_id}_{res.index}", height=440,
                 legend=pl.REVEAL_LEGEND if res.player_km is not None else tuple(k for k in pl.REVEAL_LEGEND
                                                                                  if k != "guess"))
    with right:
        c1, c2 = st.columns(2)
        c1.metric("Your distance", "no pin" if res.player_km is None else pl.fmt_km(res.player_km))
        c2.metric("Model's distance", pl.fmt_km(res.model_km))
        c1.metric("Your score", f"{res.player_score:,}")
        c2.metric("Model's score", f"{res.model_score:,}")
        where = region_label(state.config.region, names)
        st.markdown("**The model's top 3**" + ("" if state.config.region == "world" else f" (told: {where})"))
        st.caption("Its pin is the point with the best expected score under these probabilities: between "
                   "places when it hesitates, like a careful player"
                   + ("." if state.config.region == "world" else f", and always inside {where}."))
        one_country = state.config.region.startswith("country:")  # its country column would repeat the region
        st.dataframe([{"Place": p, **({} if one_country else {"Country": c}), "Probability": f"{q:.1%}"}
                      for p, c, q in res.model.top], hide_index=True, key=f"play_top_{res.index}")
        last = state.is_last_round
        if st.button("See the final result" if last else "Next round", type="primary", key="play_next",
                     icon=":material/flag:" if last else ":material/arrow_forward:", width="stretch"):
            st.session_state[GAME] = g.next_round(state, time.time())
            st.rerun()
    if state.config.gradcam and res.model.cell_id is not None:
        gradcam(state, res)
    else:
        v = round_views(state)
        cols = st.columns(max(2, min(4, len(v["blobs"]))))
        for i, blob in enumerate(v["blobs"]):
            cap = pl.view_caption(i, len(v["blobs"]), v["heads"][i])
            cols[i % len(cols)].image(blob, caption=cap, alt=f"Street-level photo: {cap}", width="stretch")


def game_over(state: g.GameState) -> None:
    t = g.totals(state)
    if t.winner == "player" and st.session_state.get("play_cheered") != state.game_id:
        st.session_state["play_cheered"] = state.game_id
        st.balloons()
    st.subheader(g.verdict(t))
    ui.metric_row(("Your total", f"{t.player:,}", None), ("Model's total", f"{t.model:,}", None),
               ("Margin", f"{t.margin:,}", None),
               ("Rounds won", f"{t.player_rounds_won} – {t.model_rounds_won}", "You – the model"))
    st.caption(f"Totals out of {t.max_points:,} points ({len(state.rounds)} rounds × 5,000).")
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Every round on one map**")
        show_map(summary_map(state.results, place), key=f"play_summary_{state.game_id}", height=420,
                 legend=pl.REVEAL_LEGEND if any(r.guess is not None for r in state.results)
                 else tuple(k for k in pl.REVEAL_LEGEND if k != "guess"))
        st.caption("Numbers are rounds; lines join each pin to its round's place. Hover a pin for its distance "
                   "and points.")
    with right:
        save_form(state, t)
        if st.button("New game", key="play_new", icon=":material/refresh:", width="stretch"):
            st.session_state.pop(GAME)
            st.session_state["play_seed"] = g.new_seed()
            st.query_params.clear()  # the old seed is no longer the game on offer
            st.rerun()
        if st.button("Replay this seed", key="play_replay", icon=":material/replay:", width="stretch",
                     help="The same places again, with the same options"):
            start(state.config)
            st.rerun()


def save_form(state: g.GameState, t: g.Totals) -> None:
    """Name and save the finished game (with its rounds) to the leaderboard."""
    with st.form("play_save"):
        name = st.text_input("Your name for the leaderboard", key="play_name", max_chars=32)
        if st.form_submit_button("Save to the leaderboard", icon=":material/emoji_events:", width="stretch"):
            try:
                cfg = state.config
                new = board().add(Entry(state.game_id, name, cfg.seed, cfg.region, len(state.rounds), t.player,
                                        t.model, cfg.views), pl.round_records(state))
                if new:
                    st.success("Saved.")
                    # the leaderboard below shows games like this one, so the player sees it there
                    st.session_state["play_board_region"] = "all"
                    st.session_state["play_board_rounds"] = len(state.rounds)
                else:
                    st.info("This game is already on the leaderboard.")
            except LeaderboardError as e:
                st.error(str(e))
            except (OSError, sqlite3.Error) as e:  # unwritable or corrupt file: the game stays on screen
                st.error(f"The game could not be saved: the leaderboard file `{board().path}` is unusable "
                         f"({type(e).__name__}: {e}).")


def board() -> Leaderboard:
    return Leaderboard()


def leaderboard() -> None:
    st.subheader("Leaderboard")
    regions = ["all"] + [o.region for o in options]
    only = st.selectbox("Games on", regions, key="play_board_region",
                        format_func=lambda r: "All regions" if r == "all" else region_label(r, names))
    region = None if only == "all" else only
    try:
        counts = board().round_counts(region=region)
        rounds = st.selectbox("Game length", counts, key="play_board_rounds", format_func=lambda n: f"{n}-round games",
                              help="Totals are ranked among games of the same length") if len(counts) > 1 else \
            (counts[0] if counts else None)
        rows = board().top(10, region=region, rounds=rounds)
    except Exception as e:  # noqa: BLE001 - an unusable leaderboard file must not break the game
        st.warning(f"The leaderboard is unavailable: {type(e).__name__}: {e}")
        return
    if not rows:
        st.caption("No game saved yet: finish a game and save it.")
        return
    st.dataframe(pl.board_rows(rows, names), hide_index=True, key="play_board",
                 column_config={"Replay": st.column_config.LinkColumn("Replay", display_text="play this seed"),
                                **ui.numbers("Player points", "Model points", "Margin")})




if MSG in st.session_state:
    st.toast(st.session_state.pop(MSG), icon=":material/info:")
state = st.session_state.get(GAME)
if state is None:
    from app.common.heldout import explain, heldout_for, page_line

    try:  # the same count, worded for Play, as Predict, Explore and About (app.common.heldout)
        _h = heldout_for(None, predictor.train_groups)
        _line, _why = f": {page_line(_h, 'play')}", explain(_h)
    except (ManifestError, OSError):
        _line, _why = "", None
    st.caption("Guess where held-out street-level photos were taken, then see the model's guess on the same photos. "
               f"The places were never used to train the model{_line}.", help=_why)
    setup()
else:
    header(state)
    {"guess": guessing, "reveal": reveal, "over": game_over}[state.phase](state)
    if state.results:
        with st.expander("Rounds so far" if state.phase != "over" else "Rounds", expanded=state.phase == "over"):
            st.dataframe(pl.result_rows(state, place), hide_index=True, key="play_rounds_table",
                         column_config=ui.numbers("Your points", "Model points"))
    if state.phase != "over" and st.button("Quit this game", key="play_quit", icon=":material/close:"):
        st.session_state.pop(GAME)
        reset_setup()
        st.rerun()
leaderboard()
ui.humans_vs_model(board(), names)
