"""The Play page's tables and board names (no Streamlit): the leaderboard, the rounds of a game, the
rounds as leaderboard records.

Columns are ordered key first (on a 390-px phone only the first three or four fit): who, points, then
the rest. A board is named by every setting its games share (region, rounds, time limit, opponent,
data set), so a table never mixes games that cannot be compared.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from app.common.formatting import fmt_km
from app.play.game import GameState, RoundResult
from app.play.leaderboard import Board, Entry, RoundRecord
from app.play.links import replay_link
from app.play.opponents import NOT_RECORDED, opponent_label
from app.play.regions import region_label

WINNER_WORDS = {"player": "You", "model": "Model", "tie": "Tie"}
REPLAY_MARK = "replay"  # after a player's name: they had seen the answers
BOARD_COLUMNS = ["#", "Player", "Points", "Model", "Margin", "Date", "Seed", "Views", "Replay"]


def plural(n: int, word: str) -> str:
    """'1 round', '5 rounds'."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def time_words(seconds: int | None) -> str:
    """'no time limit' or '60 s a round'."""
    return "no time limit" if not seconds else f"{int(seconds)} s a round"


def dataset_words(key: str, labels: Mapping[str, str] | None = None) -> str:
    """A data set key in words: its label when known here (``labels``: {key: label}), else the key."""
    if not key:
        return NOT_RECORDED
    return (labels or {}).get(key) or key


def board_name(board: Board, names: Mapping[str, str], datasets: Mapping[str, str] | None = None,
               opponents: Sequence = ()) -> str:
    """'World · 5 rounds · no time limit · vs shipped model · Shared development set' (every setting the
    board's games share); a board of games saved before settings were stored says so."""
    head = f"{region_label(board.region, dict(names))} · {plural(board.rounds, 'round')}"
    if not board.recorded:
        return f"{head} · time limit, opponent and data set not recorded (older games)"
    return (f"{head} · {time_words(board.time_limit_s)} · vs {opponent_label(board.opponent, opponents)} · "
            f"{dataset_words(board.dataset, datasets)}")


def board_rows(entries: Sequence[Entry]) -> pd.DataFrame:
    """Leaderboard rows of one board (best first): rank, player (marked when a replay), the player's and
    the model's points, margin, date, seed, views and the "play this seed" link with every setting."""
    rows = [{"#": i + 1, "Player": e.player + (f" · {REPLAY_MARK}" if e.replay else ""), "Points": e.player_score,
             "Model": e.model_score, "Margin": e.margin, "Date": e.played_at[:10], "Seed": e.seed,
             "Views": "single view" if e.views == "single" else "all views", "Replay": replay_link(e)}
            for i, e in enumerate(entries)]
    return pd.DataFrame(rows, columns=BOARD_COLUMNS)


def result_rows(state: GameState, place: Callable[[RoundResult], str] | None = None) -> pd.DataFrame:
    """Per-round table of the finished rounds: round, points each, winner, then the place
    (``place(result)``, default its country) and distances (km)."""
    rows = [{"Round": r.index + 1, "Your points": r.player_score, "Model points": r.model_score,
             "Winner": WINNER_WORDS[r.winner], "Place": place(r) if place else r.country,
             "Your distance": "no pin" if r.player_km is None else fmt_km(r.player_km),
             "Model distance": fmt_km(r.model_km)} for r in state.results]
    return pd.DataFrame(rows, columns=["Round", "Your points", "Model points", "Winner", "Place", "Your distance",
                                       "Model distance"])


def round_records(state: GameState) -> list[RoundRecord]:
    """The finished rounds as leaderboard records (place, country, both distances and scores)."""
    return [RoundRecord(r.index, r.truth[0], r.truth[1], r.country_code, r.player_km, r.player_score, r.model_km,
                        r.model_score) for r in state.results]


def game_entry(state: GameState, player: str, replay: bool) -> Entry:
    """A finished game as a leaderboard entry, with every setting that changes its score."""
    cfg, r = state.config, state.results
    return Entry(state.game_id, player, cfg.seed, cfg.region, len(state.rounds), sum(x.player_score for x in r),
                 sum(x.model_score for x in r), cfg.views, "", cfg.time_limit_s, cfg.opponent, cfg.dataset,
                 bool(replay))
