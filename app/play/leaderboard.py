"""Local leaderboard of Play games in SQLite (no Streamlit).

One row per finished game: player name, date (UTC), seed, region, rounds, views, the player's and
the model's total points; and, since schema version 2, one row per round of it (:class:`RoundRecord`:
the place, its country, both distances and scores), the data of "Humans vs the model"
(``app.play.versus``). A version-1 file is migrated in place the first time it is opened: the
rounds table is added, every saved game is kept (its rounds were never stored, so it has none).
The file is ``data/leaderboard.sqlite3`` (gitignored) unless
``$GEOLOC_LEADERBOARD`` names another path. Safe for several app processes and threads at once:
WAL journal (readers never block the writer), a busy timeout (writers wait for each other instead
of failing), one short ``BEGIN IMMEDIATE`` transaction per write, and one connection per call
(sqlite3 connections are not shared between threads). A game is saved at most once (its id is
unique), so a double click does not add it twice.
"""
from __future__ import annotations

import os
import sqlite3
import unicodedata
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

ROOT = Path(__file__).resolve().parents[2]
ENV_VAR = "GEOLOC_LEADERBOARD"
DEFAULT_PATH = ROOT / "data" / "leaderboard.sqlite3"
MAX_NAME = 32
SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS games (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    game_id      TEXT    NOT NULL UNIQUE,
    player       TEXT    NOT NULL,
    played_at    TEXT    NOT NULL,
    seed         TEXT    NOT NULL,
    region       TEXT    NOT NULL,
    rounds       INTEGER NOT NULL CHECK (rounds > 0),
    views        TEXT    NOT NULL DEFAULT 'all',
    player_score INTEGER NOT NULL CHECK (player_score >= 0),
    model_score  INTEGER NOT NULL CHECK (model_score >= 0)
);
CREATE INDEX IF NOT EXISTS games_by_score ON games (player_score DESC, played_at);
CREATE TABLE IF NOT EXISTS rounds (
    game_id      TEXT    NOT NULL REFERENCES games (game_id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL CHECK (idx >= 0),
    lat          REAL    NOT NULL,
    lon          REAL    NOT NULL,
    country_code TEXT    NOT NULL,
    player_km    REAL,
    player_score INTEGER NOT NULL CHECK (player_score BETWEEN 0 AND 5000),
    model_km     REAL    NOT NULL,
    model_score  INTEGER NOT NULL CHECK (model_score BETWEEN 0 AND 5000),
    PRIMARY KEY (game_id, idx)
);
"""


class LeaderboardError(ValueError):
    """An entry that cannot be saved (message meant for the player)."""


@dataclass(frozen=True)
class Entry:
    """One finished game. ``played_at`` is an ISO 8601 UTC time; scores are total points."""

    game_id: str
    player: str
    seed: str
    region: str
    rounds: int
    player_score: int
    model_score: int
    views: str = "all"
    played_at: str = ""

    @property
    def margin(self) -> int:
        """The player's points minus the model's (negative when the model won)."""
        return self.player_score - self.model_score


@dataclass(frozen=True)
class RoundRecord:
    """One round of a saved game: the place (degrees) and its country (ISO alpha-2), the player's
    distance (km; None when no pin was placed in time) and points, the model's distance and points.
    ``region`` is the game's region (filled in when read back)."""

    index: int
    lat: float
    lon: float
    country_code: str
    player_km: float | None
    player_score: int
    model_km: float
    model_score: int
    region: str = ""

    @property
    def winner(self) -> str:
        """'player', 'model' or 'tie' (by points)."""
        return "player" if self.player_score > self.model_score else \
            "model" if self.model_score > self.player_score else "tie"


def default_path() -> Path:
    """``$GEOLOC_LEADERBOARD`` if set, else ``data/leaderboard.sqlite3`` in the repository."""
    env = os.environ.get(ENV_VAR, "").strip()
    return Path(env).expanduser() if env else DEFAULT_PATH


def clean_name(name: str) -> str:
    """A player name fit to store and show: control characters dropped, spaces collapsed, at most
    :data:`MAX_NAME` characters. Raises :class:`LeaderboardError` if nothing is left."""
    s = "".join(ch for ch in unicodedata.normalize("NFC", name or "") if unicodedata.category(ch)[0] != "C")
    s = " ".join(s.split())[:MAX_NAME].strip()
    if not s:
        raise LeaderboardError("type a name to save your game")
    return s


class Leaderboard:
    """The leaderboard file at ``path`` (default :func:`default_path`), created by the first save."""

    def __init__(self, path: str | os.PathLike | None = None, *, timeout_s: float = 15.0):
        self.path = Path(path) if path is not None else default_path()
        self.timeout_s = float(timeout_s)
        self._ready = False

    def _ensure(self) -> None:
        """Create the folder, the file and the schema if needed (idempotent, safe to race)."""
        if self._ready:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            if con.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                con.executescript(_SCHEMA + f"PRAGMA user_version={SCHEMA_VERSION};")
        self._ready = True

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        try:
            con.execute(f"PRAGMA busy_timeout={int(self.timeout_s * 1000)}")
            con.execute("PRAGMA synchronous=NORMAL")
            yield con
        finally:
            con.close()

    def add(self, entry: Entry, rounds: Sequence[RoundRecord] = ()) -> bool:
        """Save a finished game and its ``rounds`` in one transaction. Returns False if this game was
        already saved (its rounds are then left as they are).

        Raises :class:`LeaderboardError` for an empty name or impossible scores."""
        name = clean_name(entry.player)
        if entry.rounds < 1 or not (0 <= entry.player_score <= 5000 * entry.rounds) \
                or not (0 <= entry.model_score <= 5000 * entry.rounds):
            raise LeaderboardError("scores must be between 0 and 5000 points a round")
        if len({r.index for r in rounds}) != len(rounds) or any(
                not (0 <= r.index < entry.rounds and 0 <= r.player_score <= 5000 and 0 <= r.model_score <= 5000)
                for r in rounds):
            raise LeaderboardError("a game's rounds must be numbered 0 to its number of rounds - 1, once each, "
                                   "with 0 to 5000 points")
        when = entry.played_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._ensure()
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                cur = con.execute(
                    "INSERT OR IGNORE INTO games (game_id, player, played_at, seed, region, rounds, views, "
                    "player_score, model_score) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (entry.game_id, name, when, entry.seed, entry.region, int(entry.rounds), entry.views,
                     int(entry.player_score), int(entry.model_score)))
                if cur.rowcount == 1 and rounds:
                    con.executemany(
                        "INSERT INTO rounds (game_id, idx, lat, lon, country_code, player_km, player_score, model_km, "
                        "model_score) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [(entry.game_id, int(r.index), float(r.lat), float(r.lon), (r.country_code or "").upper(),
                          None if r.player_km is None else float(r.player_km), int(r.player_score),
                          float(r.model_km), int(r.model_score)) for r in rounds])
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            return cur.rowcount == 1

    def top(self, n: int = 10, *, region: str | None = None, rounds: int | None = None) -> list[Entry]:
        """The ``n`` best games by the player's points (earlier game first on a tie), optionally only
        those of one region and/or number of rounds (totals are comparable only then)."""
        where, args = [], []
        if region is not None:
            where.append("region = ?")
            args.append(region)
        if rounds is not None:
            where.append("rounds = ?")
            args.append(int(rounds))
        sql = ("SELECT game_id, player, seed, region, rounds, player_score, model_score, views, played_at FROM games"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY player_score DESC, played_at ASC, id ASC LIMIT ?")
        if not self.path.exists():
            return []  # nothing saved yet: viewing the board does not create the file
        self._ensure()
        with self._connect() as con, closing(con.execute(sql, (*args, int(n)))) as cur:
            return [Entry(*row) for row in cur.fetchall()]

    def round_counts(self, *, region: str | None = None) -> list[int]:
        """The numbers of rounds of saved games (of one region if given), the most played first: the
        groups whose totals can be ranked together."""
        if not self.path.exists():
            return []
        self._ensure()
        sql = ("SELECT rounds FROM games" + (" WHERE region = ?" if region is not None else "")
               + " GROUP BY rounds ORDER BY COUNT(*) DESC, rounds ASC")
        with self._connect() as con, closing(con.execute(sql, (region,) if region is not None else ())) as cur:
            return [int(r[0]) for r in cur.fetchall()]

    def round_records(self, *, region: str | None = None) -> list[RoundRecord]:
        """Every stored round of the saved games (of one game region if given), oldest game first."""
        if not self.path.exists():
            return []
        self._ensure()
        sql = ("SELECT r.idx, r.lat, r.lon, r.country_code, r.player_km, r.player_score, r.model_km, r.model_score, "
               "g.region FROM rounds r JOIN games g ON g.game_id = r.game_id"
               + (" WHERE g.region = ?" if region is not None else "") + " ORDER BY g.id, r.idx")
        with self._connect() as con, closing(con.execute(sql, (region,) if region is not None else ())) as cur:
            return [RoundRecord(*row) for row in cur.fetchall()]

    def count(self) -> int:
        """Number of saved games."""
        if not self.path.exists():
            return 0
        self._ensure()
        with self._connect() as con:
            return int(con.execute("SELECT COUNT(*) FROM games").fetchone()[0])
