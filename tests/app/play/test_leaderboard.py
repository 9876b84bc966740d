"""SQLite leaderboard: entries, ordering, validation, persistence, concurrent writers."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from contextlib import closing

import pytest

from app.play.leaderboard import (
    DEFAULT_PATH,
    SCHEMA_VERSION,
    Board,
    Entry,
    Leaderboard,
    LeaderboardError,
    RoundRecord,
    clean_name,
    default_path,
)
from tests.shared import REPO


def entry(i: int, player: str = "ana", score: int = 1000, model: int = 900, region: str = "world", rounds: int = 5,
          when: str = "") -> Entry:
    return Entry(f"game-{i}", player, f"seed{i}", region, rounds, score, model, "all", when)


def test_add_and_top_ordered_by_player_points(tmp_path):
    b = Leaderboard(tmp_path / "b.sqlite3")
    assert b.top() == [] and b.count() == 0
    assert not (tmp_path / "b.sqlite3").exists()  # looking does not create the file
    assert b.add(entry(1, "ana", 12000, 9000, when="2026-01-01T10:00:00+00:00"))
    assert b.add(entry(2, "bo", 20000, 21000, when="2026-01-02T10:00:00+00:00"))
    assert b.add(entry(3, "cy", 12000, 100, when="2025-12-31T10:00:00+00:00"))
    top = b.top()
    assert [e.player for e in top] == ["bo", "cy", "ana"]  # equal points: the earlier game first
    assert top[0] == Entry("game-2", "bo", "seed2", "world", 5, 20000, 21000, "all", "2026-01-02T10:00:00+00:00")
    assert top[0].margin == -1000
    assert [e.player for e in b.top(2)] == ["bo", "cy"]


def test_filters_by_region_and_rounds(tmp_path):
    b = Leaderboard(tmp_path / "b.sqlite3")
    b.add(entry(1, region="country:HR", rounds=5))
    b.add(entry(2, region="country:HR", rounds=3))
    b.add(entry(3, region="world", rounds=5))
    assert {e.game_id for e in b.top(region="country:HR")} == {"game-1", "game-2"}
    assert [e.game_id for e in b.top(region="country:HR", rounds=3)] == ["game-2"]
    assert {e.game_id for e in b.top(rounds=5)} == {"game-1", "game-3"}


def test_round_counts_group_games_that_can_be_ranked_together(tmp_path):
    b = Leaderboard(tmp_path / "b.sqlite3")
    assert b.round_counts() == [] and not (tmp_path / "b.sqlite3").exists()
    for i, (region, rounds) in enumerate([("world", 5), ("world", 5), ("world", 20), ("country:HR", 3)]):
        b.add(entry(i, region=region, rounds=rounds))
    assert b.round_counts() == [5, 3, 20]  # most played first, then shorter
    assert b.round_counts(region="country:HR") == [3]


def test_a_game_is_saved_once(tmp_path):
    b = Leaderboard(tmp_path / "b.sqlite3")
    assert b.add(entry(1)) is True
    assert b.add(entry(1, player="someone else")) is False
    assert b.count() == 1 and b.top()[0].player == "ana"


def test_dates_default_to_now_utc(tmp_path):
    b = Leaderboard(tmp_path / "b.sqlite3")
    b.add(entry(1))
    when = b.top()[0].played_at
    assert when.endswith("+00:00") and when[:2] == "20"


@pytest.mark.parametrize("raw,clean", [("  Ana  ", "Ana"), ("a\tb\nc", "abc"), ("x  y", "x y"), ("é" * 40, "é" * 32),
                                       ("<b>bo</b>", "<b>bo</b>")])
def test_clean_name(raw, clean):
    assert clean_name(raw) == clean


def test_invalid_entries_are_refused(tmp_path):
    b = Leaderboard(tmp_path / "b.sqlite3")
    for bad in (entry(1, player="   "), entry(2, player="\x00\x07"), entry(3, score=25001), entry(4, model=-1),
                entry(5, rounds=0)):
        with pytest.raises(LeaderboardError):
            b.add(bad)
    assert b.count() == 0


def test_persists_across_restarts_and_uses_wal(tmp_path):
    p = tmp_path / "sub" / "b.sqlite3"
    Leaderboard(p).add(entry(1, "ana"))
    again = Leaderboard(p)  # a new process would do the same: open the file, schema already there
    assert [e.player for e in again.top()] == ["ana"]
    with sqlite3.connect(p) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3


def test_path_from_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("GEOLOC_LEADERBOARD", raising=False)
    assert default_path() == DEFAULT_PATH and DEFAULT_PATH.parent.name == "data"
    monkeypatch.setenv("GEOLOC_LEADERBOARD", str(tmp_path / "x.sqlite3"))
    assert default_path() == tmp_path / "x.sqlite3"
    Leaderboard().add(entry(1))
    assert (tmp_path / "x.sqlite3").is_file()


def test_concurrent_writers_in_threads(tmp_path):
    p = tmp_path / "b.sqlite3"
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            b = Leaderboard(p)  # each thread opens the board itself, like each app session does
            for i in range(25):
                assert b.add(entry(t * 1000 + i, f"t{t}", i * 10))
                b.top(3)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors, errors[:3]
    assert Leaderboard(p).count() == 200


WRITER = """
import sys
from app.play.leaderboard import Entry, Leaderboard
p, k = sys.argv[1], int(sys.argv[2])
b = Leaderboard(p)
for i in range(40):
    b.add(Entry(f"p{k}-{i}", f"proc{k}", "s", "world", 5, i, 0))
    b.add(Entry(f"p{k}-{i}", f"proc{k}", "s", "world", 5, i, 0))  # a double click: ignored
print("ok")
"""


def test_concurrent_writers_in_processes(tmp_path):
    p = tmp_path / "b.sqlite3"  # created by the writers themselves, at the same time
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(p), str(k)], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for k in range(4)]
    outs = [pr.communicate(timeout=120) for pr in procs]
    assert all(pr.returncode == 0 for pr in procs), [o[1][-500:] for o in outs]
    b = Leaderboard(p)
    assert b.count() == 160
    assert {e.player for e in b.top(200)} == {f"proc{k}" for k in range(4)}


def rec(i: int, cc: str = "HR", me: int = 3000, model: int = 2000, km: float | None = 50.0) -> RoundRecord:
    return RoundRecord(i, 45.0 + i, 16.0, cc, km, me, 120.0, model)


def test_rounds_are_saved_with_their_game(tmp_path):
    b = Leaderboard(tmp_path / "b.sqlite3")
    assert b.round_records() == []
    assert b.add(entry(1, region="country:HR", rounds=3), [rec(0), rec(1, me=0, km=None), rec(2, "SI", 10, 4000)])
    assert b.add(entry(2, region="world", rounds=1), [rec(0, "US")])
    got = b.round_records()
    assert [(r.index, r.country_code, r.player_km, r.player_score, r.model_score, r.region) for r in got] == [
        (0, "HR", 50.0, 3000, 2000, "country:HR"), (1, "HR", None, 0, 2000, "country:HR"),
        (2, "SI", 50.0, 10, 4000, "country:HR"), (0, "US", 50.0, 3000, 2000, "world")]
    assert [r.winner for r in got] == ["player", "model", "model", "player"]
    assert [r.country_code for r in b.round_records(region="world")] == ["US"]
    assert not b.add(entry(1, region="country:HR", rounds=3), [rec(0), rec(1), rec(2)])  # saved once
    assert len(b.round_records()) == 4
    with pytest.raises(LeaderboardError):  # more rounds than the game has, or impossible points
        b.add(entry(3, rounds=1), [rec(0), rec(1)])
    with pytest.raises(LeaderboardError):
        b.add(entry(4, rounds=1), [rec(0, me=5001)])
    with pytest.raises(LeaderboardError):  # the same round twice
        b.add(entry(5, rounds=2), [rec(1), rec(1)])
    assert b.count() == 2 and len(b.round_records()) == 4  # nothing half-saved


V1_SCHEMA = """
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
PRAGMA user_version=1;
"""


def test_a_version_1_file_is_migrated_without_losing_games(tmp_path):
    p = tmp_path / "old.sqlite3"  # a leaderboard written by the previous version (games only)
    with closing(sqlite3.connect(p)) as con:
        con.executescript(V1_SCHEMA)
        con.executemany("INSERT INTO games (game_id, player, played_at, seed, region, rounds, views, player_score, "
                        "model_score) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [("old-1", "ana", "2026-01-01T10:00:00+00:00", "s1", "world", 5, "all", 12000, 9000),
                         ("old-2", "bo", "2026-01-02T10:00:00+00:00", "s2", "country:HR", 3, "single", 8000, 9500)])
        con.commit()
    b = Leaderboard(p)
    assert [(e.game_id, e.player, e.player_score) for e in b.top()] == [("old-1", "ana", 12000), ("old-2", "bo", 8000)]
    assert b.round_records() == []  # their rounds were never stored
    assert b.add(entry(3, "cy", 5000, 100, rounds=2), [rec(0), rec(1)])
    assert b.count() == 3 and len(b.round_records()) == 2
    with closing(sqlite3.connect(p)) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    again = Leaderboard(p)  # opening a migrated file again changes nothing
    assert again.count() == 3 and len(again.round_records()) == 2


def test_every_setting_that_changes_the_score_is_stored_and_boards_keep_games_apart(tmp_path):
    # issue 22.4: the time limit was not stored, and "All regions" ranked World and Europe totals together
    b = Leaderboard(tmp_path / "b.sqlite3")
    game = dict(seed="s", views="all", played_at="")
    b.add(Entry("w1", "ana", region="world", rounds=5, player_score=20000, model_score=1, time_limit_s=None,
                opponent="shipped", dataset="demo", **game))
    b.add(Entry("w2", "bo", region="world", rounds=5, player_score=19000, model_score=1, time_limit_s=None,
                opponent="shipped", dataset="demo", **game))
    b.add(Entry("t1", "cy", region="world", rounds=5, player_score=24000, model_score=1, time_limit_s=20,
                opponent="shipped", dataset="demo", **game))
    b.add(Entry("o1", "di", region="world", rounds=5, player_score=23000, model_score=1, time_limit_s=None,
                opponent="geoclip", dataset="demo", **game))
    b.add(Entry("d1", "ed", region="world", rounds=5, player_score=22000, model_score=1, time_limit_s=None,
                opponent="shipped", dataset="shared", **game))
    b.add(Entry("e1", "fi", region="continent:EU", rounds=5, player_score=25000, model_score=1, time_limit_s=None,
                opponent="shipped", dataset="demo", **game))
    boards = b.boards()
    assert len(boards) == 5 and boards[0] == (Board("world", 5, None, "shipped", "demo"), 2)  # most played first
    assert [e.player for e in b.top(board=Board("world", 5, None, "shipped", "demo"))] == ["ana", "bo"]
    assert [e.player for e in b.top(board=Board("world", 5, 20, "shipped", "demo"))] == ["cy"]
    assert [e.player for e in b.top(board=Board("world", 5, None, "geoclip", "demo"))] == ["di"]
    got = b.top(board=Board("world", 5, 20, "shipped", "demo"))[0]
    assert (got.time_limit_s, got.opponent, got.dataset, got.recorded, got.replay) == (20, "shipped", "demo", True, False)
    assert got.board == Board("world", 5, 20, "shipped", "demo")


def test_replays_are_marked_and_left_out_of_the_rounds_on_request(tmp_path):
    b = Leaderboard(tmp_path / "b.sqlite3")
    b.add(Entry("g1", "ana", "s", "world", 1, 3000, 2000, opponent="shipped"), [rec(0)])
    b.add(Entry("g2", "ana", "s", "world", 1, 5000, 2000, opponent="shipped", replay=True), [rec(0, me=5000)])
    b.add(Entry("g3", "bo", "t", "world", 1, 100, 2000, opponent="geoclip"), [rec(0, me=100)])
    assert [e.replay for e in b.top()] == [True, False, False]
    assert len(b.round_records()) == 3 and len(b.round_records(replays=False)) == 2
    assert [r.opponent for r in b.round_records(replays=False)] == ["shipped", "geoclip"]
    assert [r.player_score for r in b.round_records(opponent="geoclip")] == [100]
    assert b.played_before(" ana ", "s", "world", "", "all") and not b.played_before("ana", "t", "world", "", "all")
    assert not b.played_before("", "s", "world", "", "all")


V2_SCHEMA = V1_SCHEMA.replace("PRAGMA user_version=1;", """
CREATE TABLE IF NOT EXISTS rounds (
    game_id TEXT NOT NULL, idx INTEGER NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL, country_code TEXT NOT NULL,
    player_km REAL, player_score INTEGER NOT NULL, model_km REAL NOT NULL, model_score INTEGER NOT NULL,
    PRIMARY KEY (game_id, idx));
PRAGMA user_version=2;""")


def test_a_version_2_file_keeps_its_games_marked_as_lacking_their_settings(tmp_path):
    p = tmp_path / "v2.sqlite3"
    with closing(sqlite3.connect(p)) as con:
        con.executescript(V2_SCHEMA)
        con.execute("INSERT INTO games (game_id, player, played_at, seed, region, rounds, views, player_score, "
                    "model_score) VALUES ('old', 'ana', '2026-01-01', 's1', 'world', 5, 'all', 12000, 9000)")
        con.execute("INSERT INTO rounds VALUES ('old', 0, 45.0, 16.0, 'HR', 10.0, 4000, 20.0, 3000)")
        con.commit()
    b = Leaderboard(p)
    (old,) = b.top()
    assert (old.player, old.recorded, old.time_limit_s, old.opponent, old.dataset) == ("ana", False, None, "", "")
    assert b.boards() == [(Board("world", 5, None, "", "", recorded=False), 1)]
    (r,) = b.round_records()
    assert (r.country_code, r.opponent, r.recorded, r.replay) == ("HR", "", False, False)
    b.add(Entry("new", "bo", "s1", "world", 5, 100, 200, time_limit_s=None, opponent="shipped", dataset="demo"))
    assert len(b.boards()) == 2  # a new game is never ranked with the ones whose settings are unknown
    with closing(sqlite3.connect(p)) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert Leaderboard(p).count() == 2  # opening it again changes nothing
