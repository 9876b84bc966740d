"""SQLite leaderboard: entries, ordering, validation, persistence, concurrent writers."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app.play.leaderboard import DEFAULT_PATH, Entry, Leaderboard, LeaderboardError, clean_name, default_path

REPO = Path(__file__).resolve().parents[2]


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
        assert con.execute("PRAGMA user_version").fetchone()[0] == 1


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
