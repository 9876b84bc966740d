"""Humans vs the model: round tallies by country and continent, Wilson intervals, verdicts."""
from __future__ import annotations

import math

import pytest

from app.common.uncertainty import wilson
from app.play import versus as vs
from app.play.leaderboard import Entry, Leaderboard, RoundRecord


def rounds(cc: str, player_wins: int, model_wins: int, ties: int = 0) -> list[RoundRecord]:
    out = [(10.0, 4000, 100.0, 1000)] * player_wins + [(100.0, 1000, 10.0, 3000)] * model_wins
    out += [(50.0, 2000, 50.0, 2000)] * ties
    return [RoundRecord(i, 0.0, 0.0, cc, *x) for i, x in enumerate(out)]


def textbook_wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize("k, n", [(0, 1), (3, 10), (7, 7), (40, 100), (1, 3)])
def test_wilson_matches_the_formula(k, n):
    e = wilson(k, n)
    assert (e.lo, e.hi) == pytest.approx(textbook_wilson(k, n), abs=1e-9)
    lo, hi = e.lo, e.hi
    assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_tally_by_country_and_continent():
    recs = rounds("HR", 30, 8) + rounds("SI", 2, 1, ties=1) + rounds("US", 5, 40) + rounds("CA", 1, 1)
    by_country = {t.code: t for t in vs.tally(recs, "country", {"HR": "Croatia", "US": "United States"})}
    hr, si, us = by_country["HR"], by_country["SI"], by_country["US"]
    assert (hr.label, hr.rounds, hr.player_wins, hr.model_wins, hr.ties) == ("Croatia", 38, 30, 8, 0)
    assert hr.win_rate == pytest.approx(30 / 38) and hr.verdict == "Players ahead" and not hr.indicative
    assert us.verdict == "Model ahead" and not us.indicative and us.mean_margin == pytest.approx(
        (5 * 3000 - 40 * 2000) / 45)
    assert (si.label, si.ties, si.decided, si.win_rate) == ("SI", 1, 3, pytest.approx(2 / 3))  # ties left out
    assert si.verdict == "Too close to call" and si.indicative  # 3 rounds say little
    assert [t.code for t in vs.tally(recs, "country")] == ["US", "HR", "SI", "CA"]  # most rounds first
    conts = {t.code: t for t in vs.tally(recs, "continent")}
    assert set(conts) == {"EU", "NA"} and conts["EU"].label == "Europe" and conts["EU"].rounds == 38 + 4
    assert conts["NA"].player_wins == 6 and conts["NA"].model_wins == 41
    (everything,) = vs.tally(recs, "all")
    assert everything.rounds == len(recs) and everything.label == "All rounds"


def test_display_rows_say_n_and_the_interval_and_mark_small_samples():
    rows = vs.tally_rows(vs.tally(rounds("HR", 2, 1) + rounds("FR", 0, 0, ties=2), "country"), "country")
    hr, fr = rows
    e = wilson(2, 3)
    lo, hi = e.lo, e.hi
    assert hr["Country"] == "HR" and hr["Rounds"] == 3
    assert hr[vs.RATE] == f"67% ({100 * lo:.0f}–{100 * hi:.0f}%)"  # the rate and its interval, side by side
    assert hr["Verdict"] == "Too close to call" and hr["Sample"] == "indicative"
    assert fr[vs.RATE] == "–" and fr["Rounds"] == 2  # only ties
    big = vs.tally_rows(vs.tally(rounds("US", 10, 40), "country"), "country")[0]
    assert big["Verdict"] == "Model ahead" and big["Sample"] == "" and big[vs.RATE].startswith("20% (")
    with pytest.raises(ValueError):
        vs.tally([], "planet")


def test_from_the_saved_games(tmp_path):
    b = Leaderboard(tmp_path / "b.sqlite3")
    b.add(Entry("g1", "ana", "s", "country:HR", 3, 9000, 3000), rounds("HR", 3, 0))
    b.add(Entry("g2", "bo", "s", "world", 2, 1000, 6000), rounds("US", 0, 2))
    b.add(Entry("g3", "cy", "s", "world", 5, 1000, 6000))  # saved before rounds were recorded: no rounds
    names = vs.extra_names(b.round_records())
    assert names == {"HR": "Croatia", "US": "United States"}
    got = {t.label: (t.rounds, t.player_wins, t.model_wins) for t in vs.tally(b.round_records(), "country", names)}
    assert got == {"Croatia": (3, 3, 0), "United States": (2, 0, 2)}
