"""The SQLite schema of the Play leaderboard and its migrations (no Streamlit).

Version 1: ``games`` (one row per saved game). Version 2: ``rounds`` (one row per round of a game).
Version 3: the settings that change a score, on each game: ``time_limit_s`` (NULL: no limit),
``opponent`` and ``dataset`` (keys, see ``app.play.opponents`` and ``app.common.datasets``), ``replay``
(1: the player knew the answers) and ``settings`` (1: these were recorded; 0: a game saved before
version 3, whose time limit, opponent and data set are unknown). Older files are migrated in place the
first time they are opened, every saved game kept (marked ``settings = 0``).
"""
from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 3
_TABLES = """
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
# version 3: (column, declaration) added to ``games``; a row that predates them gets the defaults
SETTINGS_COLUMNS = (
    ("time_limit_s", "INTEGER"),
    ("opponent", "TEXT NOT NULL DEFAULT ''"),
    ("dataset", "TEXT NOT NULL DEFAULT ''"),
    ("replay", "INTEGER NOT NULL DEFAULT 0"),
    ("settings", "INTEGER NOT NULL DEFAULT 0"),
)
GAME_COLUMNS = ("game_id", "player", "seed", "region", "rounds", "player_score", "model_score", "views",
                "played_at", "time_limit_s", "opponent", "dataset", "replay", "settings")


def migrate(con: sqlite3.Connection) -> None:
    """Bring the file behind ``con`` (autocommit mode) to :data:`SCHEMA_VERSION` in one write
    transaction; a no-op when it is there already, and safe when two processes race to do it."""
    if con.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    con.execute("BEGIN IMMEDIATE")
    try:
        if con.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:  # another process may have won
            for stmt in _TABLES.split(";"):
                if stmt.strip():
                    con.execute(stmt)
            have = {row[1] for row in con.execute("PRAGMA table_info(games)")}
            for name, decl in SETTINGS_COLUMNS:
                if name not in have:
                    con.execute(f"ALTER TABLE games ADD COLUMN {name} {decl}")
            con.execute("CREATE INDEX IF NOT EXISTS games_by_board ON games (region, rounds, opponent, dataset)")
            con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
