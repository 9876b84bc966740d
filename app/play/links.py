"""Shareable games (no Streamlit): a game's settings as URL query parameters and back.

``?seed=S&region=R&rounds=N&views=V[&time=T]&opponent=O&data=D`` carries every setting that changes the
rounds or the score: the same link gives anyone with the same data the same rounds against the same
opponent, under the same time limit. Values that are invalid, unknown or not offered here are dropped
(the page then keeps its defaults), so a link can choose among the offered options but never name a file.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from app.play.game import KEY_RE, MAX_ROUNDS, TIME_LIMITS, VIEW_MODES, GameConfig, clean_seed

PAGE = "play"


def config_query(cfg: GameConfig) -> dict[str, str]:
    """The URL query parameters of a game's settings (``time`` only with a limit, ``data`` only when known)."""
    q = {"seed": cfg.seed, "region": cfg.region, "rounds": str(cfg.n_rounds), "views": cfg.views}
    if cfg.time_limit_s:
        q["time"] = str(cfg.time_limit_s)
    q["opponent"] = cfg.opponent
    if cfg.dataset:
        q["data"] = cfg.dataset
    return q


def options_from_query(q: Mapping[str, Any], regions: Iterable[str], opponents: Iterable[str] | None = None
                       ) -> dict[str, Any]:
    """Game settings (``GameConfig`` field names) read from URL parameters: invalid values, regions not in
    ``regions`` (the playable ones) and opponents not in ``opponents`` (the playable ones; None: any valid
    key) are left out. ``dataset`` is returned as given (valid text): the caller looks it up."""
    out: dict[str, Any] = {}
    if clean_seed(q.get("seed")):
        out["seed"] = clean_seed(q.get("seed"))
    if q.get("region") in set(regions):
        out["region"] = q.get("region")
    rounds, limit = str(q.get("rounds", "")), str(q.get("time", ""))
    if rounds.isdigit() and 1 <= int(rounds) <= MAX_ROUNDS:
        out["n_rounds"] = int(rounds)
    if q.get("views") in VIEW_MODES:
        out["views"] = q.get("views")
    if limit.isdigit() and int(limit) in TIME_LIMITS:
        out["time_limit_s"] = int(limit)
    opp = str(q.get("opponent") or "")
    if opp and KEY_RE.match(opp) and (opponents is None or opp in set(opponents)):
        out["opponent"] = opp
    data = str(q.get("data") or "")
    if data and KEY_RE.match(data):
        out["dataset"] = data
    return out


def replay_link(entry: Any) -> str:
    """Relative link to the Play page with a saved game's seed and every setting it was played with (a
    game saved before its time limit, opponent and data set were stored carries what is known)."""
    q: dict[str, Any] = {"seed": entry.seed, "region": entry.region, "rounds": entry.rounds, "views": entry.views}
    if getattr(entry, "recorded", True):
        if entry.time_limit_s:
            q["time"] = entry.time_limit_s
        if entry.opponent:
            q["opponent"] = entry.opponent
        if entry.dataset:
            q["data"] = entry.dataset
    return f"{PAGE}?" + urlencode(q)
