"""What a Play page run works with (Streamlit): the session's keys, the data set, the opponent and its
predictor, the playable places and the region options.

The data set is the visitor's (``app.common.datasets.active_dataset``; a link's ``&data=`` picks one of the
listed sets for this session); the opponent is the visitor's too (``app.play.opponents``). While a game
runs, both are the game's own (``GameConfig.dataset`` / ``.opponent``), whatever the pickers say.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from app.common import datasets as ds
from app.common.dataset_picker import dataset_picker, no_data_help
from app.play import game as g
from app.play import logic as pl
from app.play import opponents as opp
from app.play.regions import region_options
from model.data.manifest import ManifestError

GAME, VIEWS, CAMS, MSG, SEEN = "play_game", "play_views", "play_cams", "play_msg", "play_seen"
OPPONENT, URL_DONE = "play_opponent", "play_url_applied"


@dataclass
class PlayContext:
    """One run's data set, opponent (with the choices on offer) and its predictor, the playable places
    (``app.play.game.Location``), {country code: name} and the region options."""

    dataset: ds.DataSet
    opponent: opp.Opponent
    choices: list[opp.Opponent]
    predictor: Any
    locations: list[g.Location] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    options: list = field(default_factory=list)

    @property
    def dataset_id(self) -> str:
        """The data set's id as games store it (:func:`dataset_id`)."""
        return dataset_id(self.dataset)

    @property
    def dataset_labels(self) -> dict[str, str]:
        """{data set id: label} of the sets listed here (for board names)."""
        return {dataset_id(d): d.label for d in ds.available_datasets()} | {self.dataset_id: self.dataset.label}


def dataset_id(d: ds.DataSet) -> str:
    """A data set's id for saved games and links: its key, except that ``env`` ($GEOLOC_DATA) and ``data``
    (data/manifest.csv) name whatever is there today, so they are stored as ``manifest:<path>`` (a key
    ``app.common.datasets.find_dataset`` resolves to the same set)."""
    return f"manifest:{d.manifest}" if d.kind in ("env", "data") else d.key


def flash(msg: str) -> None:
    """A message shown as a toast on the next run."""
    st.session_state[MSG] = msg


def _apply_link() -> None:
    """A shared link's ``&data=`` picks that data set for this session, once per link (the picker then
    stays the visitor's); a set not on this machine is said, not guessed at."""
    q = st.query_params.to_dict()
    key = q.get("data")
    if not key or st.session_state.get(URL_DONE) == q:
        return
    st.session_state[URL_DONE] = q
    active = ds.active_dataset()
    if active is not None and key in (active.key, dataset_id(active)):
        return
    try:
        ds.choose(key)
    except ManifestError:
        st.warning(f"This link's game was played on the data set `{key}`, which is not on this machine: the "
                   "rounds below come from the data set picked here, so they are not the link's.")


def _pick_opponent(choices: list[opp.Opponent], state: g.GameState | None) -> opp.Opponent:
    """The game's opponent, else the visitor's choice (a selectbox; a link's ``&opponent=`` preselects)."""
    playable = [o for o in choices if o.available]
    if state is not None:
        got = opp.find_opponent(state.config.opponent, choices)
        if got is not None:
            return got
    wanted = st.query_params.get("opponent")
    if wanted and opp.find_opponent(wanted, choices) and st.session_state.get(f"{OPPONENT}_url") != wanted:
        st.session_state[f"{OPPONENT}_url"] = wanted
        st.session_state[OPPONENT] = wanted
    keys = [o.key for o in playable]
    if st.session_state.get(OPPONENT) not in keys:
        st.session_state[OPPONENT] = keys[0]
    labels = {o.key: o.label for o in playable}
    if state is None:
        st.selectbox("Opponent", keys, key=OPPONENT, format_func=labels.get,
                     help="The model you play against. The leaderboard and \"Humans vs the model\" keep each "
                          "opponent apart.")
        missing = [o for o in choices if not o.available]
        if missing:
            with st.expander(f"Not on this machine: {', '.join(o.key for o in missing)}", icon=":material/info:"):
                for o in missing:
                    st.markdown(f"**{o.key}**: {o.note}")
    return next(o for o in playable if o.key == st.session_state[OPPONENT])


def load_context() -> PlayContext:
    """Everything a run needs, or the page's empty state (the three routes to data) and ``st.stop()``."""
    state = st.session_state.get(GAME)
    if state is not None and state.config.dataset:
        active = ds.active_dataset()
        if active is None or dataset_id(active) != state.config.dataset:
            try:
                ds.choose(state.config.dataset)
            except ManifestError:
                pass  # the game's rounds are its own: it plays on
    else:
        _apply_link()
    c1, c2 = st.columns(2) if state is None else (st.container(), st.container())
    with c1:
        dataset = dataset_picker("play") if state is None else ds.active_dataset()
    if dataset is None:
        no_data_help("play_nodata")
        st.stop()
    choices = opp.opponent_choices(_app_model())
    if not any(o.available for o in choices):
        st.error("No model can play here: " + "; ".join(f"{o.key}: {o.note}" for o in choices))
        st.stop()
    with c2:
        opponent = _pick_opponent(choices, state)
    predictor = _load(opponent)
    ctx = PlayContext(dataset, opponent, choices, predictor)
    try:
        ctx.locations = pl.load_playable(getattr(predictor, "train_groups", ()) or (), dataset.manifest)
    except (ManifestError, OSError) as e:
        st.error(f"The data set {dataset.label} cannot be played: {e}")
        st.stop()
    ctx.names = pl.country_names(ctx.locations)
    ctx.options = region_options([x.country_code for x in g.region_pool(ctx.locations, "world")], ctx.names)
    return ctx


def _app_model() -> str | None:
    from app.common.resources import model_path

    return model_path()


def _load(o: opp.Opponent):
    """The opponent's predictor (loaded once per process), or its loader's message and ``st.stop()``."""
    from app.common import resources as res

    try:
        return res.get_predictor(o.model)
    except FileNotFoundError as e:
        st.error(f"No trained model is available as {o.label}: {e}. Train one with `python -m model.train` "
                 "or pick another opponent.")
    except Exception as e:  # noqa: BLE001 - show the loader's message (a missing download says which)
        st.error(f"{o.label} could not be loaded: {type(e).__name__}: {e}")
    st.stop()
