"""Local leaderboard of Play games in SQLite (no Streamlit).

One row per finished game: player name, date (UTC), seed, region, rounds, views, the player's and
the model's total points; since schema version 2, one row per round of it (:class:`RoundRecord`:
the place, its country, both distances and scores), the data of "Humans vs the model"
(``app.play.versus``); since version 3, every setting that changes the score (time limit, opponent,
data set) and whether the player replayed answers they knew. Games are ranked only among games of
the same :class:`Board` (region, rounds, time limit, opponent, data set). Older files are migrated in
place the first time they are opened (``app.play.board_schema``): every saved game is kept, those
saved before version 3 marked as lacking their settings (``Entry.recorded`` False). The file is ``data/leaderboard.sqlite3`` (gitignored) unless
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
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from app.play.board_schema import GAME_COLUMNS, SCHEMA_VERSION, migrate  # noqa: F401  (SCHEMA_VERSION re-exported)

ROOT = Path(__file__).resolve().parents[2]
ENV_VAR = "GEOLOC_LEADERBOARD"
DEFAULT_PATH = ROOT / "data" / "leaderboard.sqlite3"
MAX_NAME = 32
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
    time_limit_s: int | None = None
    opponent: str = ""
    dataset: str = ""
    replay: bool = False
    recorded: bool = True

    @property
    def margin(self) -> int:
        """The player's points minus the model's (negative when the model won)."""
        return self.player_score - self.model_score

    @property
    def board(self) -> Board:
        """The board this game is ranked on."""
        return Board(self.region, int(self.rounds), self.time_limit_s, self.opponent, self.dataset, self.recorded)


@dataclass(frozen=True)
class Board:
    """Games whose totals can be ranked together: the same region, number of rounds, time limit (seconds,
    None: no limit), opponent and data set. ``recorded`` False: games saved before the time limit,
    opponent and data set were stored (schema version 3), ranked apart since those are unknown."""

    region: str
    rounds: int
    time_limit_s: int | None
    opponent: str
    dataset: str
    recorded: bool = True


def _from_row(row: Sequence) -> Entry:
    """An :class:`Entry` from a row of :data:`GAME_COLUMNS`."""
    (gid, player, seed, region, rounds, ps, ms, views, when, limit, opp, data, replay, settings) = row
    return Entry(gid, player, seed, region, int(rounds), int(ps), int(ms), views, when,
                 None if limit is None else int(limit), opp or "", data or "", bool(replay), bool(settings))


@dataclass(frozen=True)
class RoundRecord:
    """One round of a saved game: the place (degrees) and its country (ISO alpha-2), the player's
    distance (km; None when no pin was placed in time) and points, the model's distance and points.
    ``region``, ``opponent``, ``replay`` and ``recorded`` are the game's (filled in when read back)."""

    index: int
    lat: float
    lon: float
    country_code: str
    player_km: float | None
    player_score: int
    model_km: float
    model_score: int
    region: str = ""
    opponent: str = ""
    replay: bool = False
    recorded: bool = True

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
            migrate(con)
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
                    "player_score, model_score, time_limit_s, opponent, dataset, replay, settings) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                    (entry.game_id, name, when, entry.seed, entry.region, int(entry.rounds), entry.views,
                     int(entry.player_score), int(entry.model_score),
                     None if entry.time_limit_s is None else int(entry.time_limit_s), entry.opponent,
                     entry.dataset, int(bool(entry.replay))))
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

    def top(self, n: int = 10, *, board: Board | None = None, region: str | None = None,
            rounds: int | None = None) -> list[Entry]:
        """The ``n`` best games by the player's points (earlier game first on a tie) of one ``board`` (the
        only ranking that compares like with like), or filtered by ``region`` and/or number of ``rounds``."""
        where, args = _board_filter(board)
        if region is not None:
            where.append("region = ?")
            args.append(region)
        if rounds is not None:
            where.append("rounds = ?")
            args.append(int(rounds))
        sql = (f"SELECT {', '.join(GAME_COLUMNS)} FROM games" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY player_score DESC, played_at ASC, id ASC LIMIT ?")
        if not self.path.exists():
            return []  # nothing saved yet: viewing the board does not create the file
        self._ensure()
        with self._connect() as con, closing(con.execute(sql, (*args, int(n)))) as cur:
            return [_from_row(row) for row in cur.fetchall()]

    def boards(self) -> list[tuple[Board, int]]:
        """Every board with saved games and its number of games, the most played first (then by region,
        rounds, time limit, opponent and data set)."""
        if not self.path.exists():
            return []
        self._ensure()
        sql = ("SELECT region, rounds, time_limit_s, opponent, dataset, settings, COUNT(*) FROM games "
               "GROUP BY region, rounds, time_limit_s, opponent, dataset, settings")
        with self._connect() as con, closing(con.execute(sql)) as cur:
            got = [(Board(r, int(n), None if t is None else int(t), o or "", d or "", bool(s)), int(c))
                   for r, n, t, o, d, s, c in cur.fetchall()]
        return sorted(got, key=lambda bc: (-bc[1], not bc[0].recorded, bc[0].region, bc[0].rounds,
                                           bc[0].time_limit_s or 0, bc[0].opponent, bc[0].dataset))

    def played_before(self, player: str, seed: str, region: str, dataset: str, views: str) -> bool:
        """Whether ``player`` saved a game of the same seed, region, data set and views (the same rounds):
        a new game of theirs with these settings is a replay."""
        try:
            name = clean_name(player)
        except LeaderboardError:
            return False
        if not self.path.exists():
            return False
        self._ensure()
        sql = ("SELECT 1 FROM games WHERE player = ? AND seed = ? AND region = ? AND dataset = ? AND views = ? "
               "LIMIT 1")
        with self._connect() as con, closing(con.execute(sql, (name, seed, region, dataset, views))) as cur:
            return cur.fetchone() is not None

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

    def round_records(self, *, region: str | None = None, opponent: str | None = None,
                      replays: bool = True) -> list[RoundRecord]:
        """Every stored round of the saved games, oldest game first: of one game ``region`` and/or
        ``opponent`` if given, without the rounds of replayed games unless ``replays``."""
        if not self.path.exists():
            return []
        self._ensure()
        where, args = [], []
        if region is not None:
            where.append("g.region = ?")
            args.append(region)
        if opponent is not None:
            where.append("g.opponent = ?")
            args.append(opponent)
        if not replays:
            where.append("g.replay = 0")
        sql = ("SELECT r.idx, r.lat, r.lon, r.country_code, r.player_km, r.player_score, r.model_km, r.model_score, "
               "g.region, g.opponent, g.replay, g.settings FROM rounds r JOIN games g ON g.game_id = r.game_id"
               + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY g.id, r.idx")
        with self._connect() as con, closing(con.execute(sql, args)) as cur:
            return [RoundRecord(*row[:9], row[9] or "", bool(row[10]), bool(row[11])) for row in cur.fetchall()]

    def count(self) -> int:
        """Number of saved games."""
        if not self.path.exists():
            return 0
        self._ensure()
        with self._connect() as con:
            return int(con.execute("SELECT COUNT(*) FROM games").fetchone()[0])


def _board_filter(board: Board | None) -> tuple[list[str], list]:
    """SQL conditions (and their arguments) selecting the games of ``board`` (none for None)."""
    if board is None:
        return [], []
    where = ["region = ?", "rounds = ?", "opponent = ?", "dataset = ?", "settings = ?"]
    args: list = [board.region, int(board.rounds), board.opponent, board.dataset, int(board.recorded)]
    if board.time_limit_s is None:
        where.append("time_limit_s IS NULL")
    else:
        where.append("time_limit_s = ?")
        args.append(int(board.time_limit_s))
    return where, args
