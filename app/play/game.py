"""Rules of Play, head-to-head GeoGuessr against the model: pure functions over a small immutable
state (no Streamlit, no I/O, no model), so every rule is unit-tested.

Flow: :func:`new_game` -> (:func:`set_guess`\\* -> :func:`submit` -> :func:`next_round`) x N ->
phase ``"over"``. Each function returns a new :class:`GameState`; invalid moves raise
:class:`GameError` with a message for the player. Times are seconds (``time.time()`` values passed
in as ``now``), coordinates WGS-84 degrees, distances km, scores GeoGuessr points (0..5000 a round).

Reproducibility: the rounds depend only on the seed, the region and the pool of playable
locations (not on the order they are given in, nor on the other options), so the same seed gives
the same rounds to anyone with the same data and model; a longer game with the same seed starts
with the same rounds as a shorter one.
"""
from __future__ import annotations

import math
import random
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from app.play.regions import WORLD, in_region, map_size_km, parse_region
from app.play.types import Location, ModelMove, RoundPlan, RoundResult, winner_of
from model.geo import geoscore, haversine_km

PHASES = ("guess", "reveal", "over")
VIEW_MODES = ("all", "single")
MAX_ROUNDS = 20
TIME_LIMITS = (None, 20, 30, 60, 120, 180)  # seconds per round offered by the page (None = no limit)
GRACE_S = 2.0       # network/rerun latency forgiven after the time limit
SEED_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
KEY_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,400}$")  # an opponent's or a data set's key (a path may be in it)
APP_MODEL = "shipped"  # the opponent key of the shipped model (assets/models/default.pt)


class GameError(ValueError):
    """A move the rules do not allow (message meant for the player)."""


@dataclass(frozen=True)
class GameConfig:
    """Options of a game. ``region``: see ``app.play.regions``; ``views``: "all" or "single";
    ``time_limit_s``: seconds per round or None; ``gradcam``: show Grad-CAM after each reveal;
    ``opponent``: the key of the model played against (``app.play.opponents``: :data:`APP_MODEL`, a
    checkpoint or a registered predictor); ``dataset``: the key of the data set played on ("" unknown).
    Every option but ``gradcam`` can change the score, so each is stored with a saved game."""

    seed: str
    region: str = WORLD
    n_rounds: int = 5
    views: str = "all"
    time_limit_s: int | None = None
    gradcam: bool = False
    opponent: str = APP_MODEL
    dataset: str = ""

    def validate(self) -> GameConfig:
        """Return self if every option is valid, else raise :class:`GameError`."""
        if not SEED_RE.match(self.seed or ""):
            raise GameError("the seed must be 1-32 letters, digits, '-' or '_'")
        parse_region(self.region)
        if not 1 <= int(self.n_rounds) <= MAX_ROUNDS:
            raise GameError(f"a game has 1 to {MAX_ROUNDS} rounds")
        if self.views not in VIEW_MODES:
            raise GameError(f"views must be one of {VIEW_MODES}")
        if self.time_limit_s is not None and not 5 <= int(self.time_limit_s) <= 3600:
            raise GameError("the time limit must be 5 to 3600 seconds, or none")
        if not KEY_RE.match(self.opponent or ""):
            raise GameError("unknown opponent")
        if self.dataset and not KEY_RE.match(self.dataset):
            raise GameError("unknown data set")
        return self


@dataclass(frozen=True)
class GameState:
    """Everything about a game in progress. ``index`` is the current round (0-based). ``replay``: the
    player has seen these rounds' answers before (the same seed replayed), so the game is marked on the
    leaderboard and left out of "Humans vs the model"."""

    game_id: str
    config: GameConfig
    rounds: tuple[RoundPlan, ...]
    map_size_km: float | None
    phase: str = "guess"
    index: int = 0
    guess: tuple[float, float] | None = None
    started_at: float = 0.0
    results: tuple[RoundResult, ...] = field(default_factory=tuple)
    replay: bool = False

    @property
    def current(self) -> RoundPlan:
        return self.rounds[min(self.index, len(self.rounds) - 1)]

    @property
    def is_last_round(self) -> bool:
        return self.index >= len(self.rounds) - 1


def new_seed() -> str:
    """A fresh random seed: six digits, easy to read out and type."""
    return f"{secrets.randbelow(10 ** 6):06d}"


def clean_seed(value: object) -> str | None:
    """A seed from user input or the URL (``?seed=...``), stripped; None if it is not a valid seed."""
    s = str(value if value is not None else "").strip()
    return s if SEED_RE.match(s) else None


def region_pool(locations: Sequence[Location], region: str) -> list[Location]:
    """Playable locations of a region, one per location group (the first id of each group), sorted by
    id: input order does not matter, and two rounds of a game are never within 1 km of each other."""
    by_group: dict[str, Location] = {}
    for loc in sorted(locations, key=lambda x: x.location_id):
        if in_region(loc.country_code, region) and loc.paths and math.isfinite(loc.lat) and math.isfinite(loc.lon):
            by_group.setdefault(loc.group_id or loc.location_id, loc)
    return sorted(by_group.values(), key=lambda x: x.location_id)


def game_map_size(pool: Sequence[Location], region: str) -> float | None:
    """Map size S (km) for scoring a game on ``region``: None (world formula) for the world, else the
    bounding-box diagonal of the region's playable locations (see ``app.play.regions.map_size_km``)."""
    if parse_region(region)[0] == WORLD or not pool:
        return None
    return map_size_km([p.lat for p in pool], [p.lon for p in pool])


def plan_rounds(pool: Sequence[Location], seed: str, region: str, n_rounds: int, views: str) -> tuple[RoundPlan, ...]:
    """The rounds for a seed: a seeded shuffle of the pool (sorted by id), first ``n_rounds`` taken
    (no repeats). In "single" mode each round shows one view picked from the seed and the location."""
    order = sorted(pool, key=lambda x: x.location_id)
    random.Random(f"geoloc-play|{seed}|{region}").shuffle(order)
    plans = []
    for loc in order[:n_rounds]:
        n = len(loc.paths)
        if views == "single":
            picked: tuple[int, ...] = (random.Random(f"geoloc-view|{seed}|{loc.location_id}").randrange(n),)
        else:
            picked = tuple(range(n))
        plans.append(RoundPlan(loc, picked))
    return tuple(plans)


def new_game(config: GameConfig, locations: Sequence[Location], now: float, game_id: str | None = None,
             replay: bool = False) -> GameState:
    """Start a game: the first round is shown at ``now``. A region with fewer locations than
    ``n_rounds`` gives a shorter game (``len(state.rounds)``); an empty one raises :class:`GameError`.
    ``replay``: the player has seen these rounds' answers (see :func:`rounds_key`)."""
    config.validate()
    pool = region_pool(locations, config.region)
    if not pool:
        raise GameError("no playable location in this region")
    rounds = plan_rounds(pool, config.seed, config.region, int(config.n_rounds), config.views)
    return GameState(game_id=game_id or secrets.token_hex(8), config=config, rounds=rounds,
                     map_size_km=game_map_size(pool, config.region), started_at=float(now), replay=bool(replay))


def rounds_key(state: GameState) -> tuple[str, ...]:
    """What a game asks: its places and views, in order, on its data set. Two games with the same key have
    the same answers, so a player who has seen one key's reveal replays it (whatever the seed was)."""
    return (state.config.dataset, *(f"{r.location.location_id}:{','.join(map(str, r.views))}" for r in state.rounds))


def seen_answers(state: GameState, seen: Sequence[tuple[str, ...]]) -> bool:
    """Whether a player who saw the reveals of the games in ``seen`` (their :func:`rounds_key`) knows the
    answers of ``state``: the same rounds, or a longer game of the same seed whose first rounds they saw."""
    key = rounds_key(state)
    return any(len(k) > 1 and (key[: len(k)] == tuple(k) or tuple(k)[: len(key)] == key) for k in seen)


def deadline(state: GameState) -> float | None:
    """When the current round's time runs out (seconds since the epoch), or None without a limit."""
    lim = state.config.time_limit_s
    return None if lim is None else state.started_at + float(lim)


def time_left(state: GameState, now: float) -> float | None:
    """Seconds left in the current round (>= 0), or None without a limit."""
    d = deadline(state)
    return None if d is None else max(0.0, d - now)


def is_expired(state: GameState, now: float) -> bool:
    """Whether the current round's time limit has passed (with :data:`GRACE_S` of slack)."""
    d = deadline(state)
    return d is not None and now > d + GRACE_S


def normalise_point(lat: float, lon: float) -> tuple[float, float]:
    """A map click as (lat, lon): latitude clamped to -90..90, longitude wrapped to -180..180
    (Leaflet reports longitudes outside that range after panning across the antimeridian)."""
    lat, lon = float(lat), float(lon)
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise GameError("that is not a point on the map")
    if not -180.0 <= lon <= 180.0:
        lon = ((lon + 180.0) % 360.0) - 180.0
    return max(-90.0, min(90.0, lat)), lon


def set_guess(state: GameState, lat: float, lon: float, now: float) -> GameState:
    """Place (or move) the player's pin. Only while guessing and before the time limit."""
    if state.phase != "guess":
        raise GameError("this round is already over")
    if is_expired(state, now):
        raise GameError("time is up for this round")
    return replace(state, guess=normalise_point(lat, lon))


def score(d_km: float, map_size: float | None) -> int:
    """Points for an error of ``d_km``: world 5000*exp(-d/1492.7), or 5000*exp(-10*d/S) on a map of
    size S km (rounded to whole points like GeoGuessr)."""
    return int(round(geoscore(max(0.0, float(d_km)), map_size)))


def submit(state: GameState, model: ModelMove, now: float) -> GameState:
    """End the current round with the player's pin and the model's answer; phase becomes "reveal".

    Without a pin the round can only end once its time is up, and then scores 0 for the player."""
    if state.phase != "guess":
        raise GameError("this round is already over")
    timed_out = is_expired(state, now)
    if state.guess is None and not timed_out:
        raise GameError("place your pin on the map first")
    loc = state.current.location
    truth = (loc.lat, loc.lon)
    p_km = None if state.guess is None else float(haversine_km(*state.guess, *truth))
    m_km = float(haversine_km(model.lat, model.lon, *truth))
    res = RoundResult(index=state.index, location_id=loc.location_id, truth=truth, country=loc.country,
                      guess=state.guess, model=model, player_km=p_km, model_km=m_km,
                      player_score=0 if p_km is None else score(p_km, state.map_size_km),
                      model_score=score(m_km, state.map_size_km), timed_out=timed_out,
                      seconds=max(0.0, now - state.started_at), country_code=loc.country_code)
    return replace(state, phase="reveal", results=state.results + (res,))


def next_round(state: GameState, now: float) -> GameState:
    """After a reveal: the next round (its clock starts at ``now``), or phase "over" after the last."""
    if state.phase != "reveal":
        raise GameError("finish this round first")
    if state.is_last_round:
        return replace(state, phase="over", guess=None)
    return replace(state, phase="guess", index=state.index + 1, guess=None, started_at=float(now))


@dataclass(frozen=True)
class Totals:
    """Running totals over the finished rounds."""

    player: int
    model: int
    rounds_played: int
    player_rounds_won: int
    model_rounds_won: int
    max_points: int

    @property
    def winner(self) -> str:
        """'player', 'model' or 'tie'."""
        return winner_of(self.player, self.model)

    @property
    def margin(self) -> int:
        """Points between the winner and the loser (0 on a tie)."""
        return abs(self.player - self.model)


def totals(state: GameState) -> Totals:
    """Totals of the rounds played so far (the whole game once the phase is "over")."""
    r = state.results
    return Totals(player=sum(x.player_score for x in r), model=sum(x.model_score for x in r), rounds_played=len(r),
                  player_rounds_won=sum(x.winner == "player" for x in r),
                  model_rounds_won=sum(x.winner == "model" for x in r), max_points=5000 * len(state.rounds))


def verdict(t: Totals, final: bool = True) -> str:
    """One line for the end of a game (or the standings so far when not ``final``)."""
    if t.winner == "tie":
        return "It's a draw!" if final else "Level so far."
    who = "You" if t.winner == "player" else "The model"
    verb = ("win" if t.winner == "player" else "wins") if final else ("lead" if t.winner == "player" else "leads")
    return f"{who} {verb} by {t.margin:,} points."
