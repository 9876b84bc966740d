"""Pure game rules: scoring, round flow, seeds, region filtering, no repeats, time limits."""
from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from app.play import game as g
from model.geo import haversine_km
from tests.app.play.playhelpers import loc

T0 = 1_000_000.0


def world_locations() -> list[g.Location]:
    out = [loc(i, "HR", 45 + i * 0.05, 16 - i * 0.03) for i in range(15)]
    out += [loc(100 + i, "FR", 46 + i * 0.1, 2 + i * 0.1) for i in range(8)]
    out += [loc(200 + i, "US", 39 + i * 0.2, -100 + i * 0.3) for i in range(8)]
    return out


def cfg(**kw) -> g.GameConfig:
    return g.GameConfig(**{"seed": "abc123", **kw})


def move(lat: float, lon: float) -> g.ModelMove:
    return g.ModelMove(lat, lon, (("Zagreb", "Croatia", 0.5),), 0)


# ------------------------------------------------------------------ scoring
def test_world_score_formula():
    assert g.score(0.0, None) == 5000
    assert g.score(1492.7, None) == round(5000 / math.e)
    assert g.score(20000.0, None) == 0
    assert g.score(-5.0, None) == 5000  # no negative distance bonus


def test_map_size_scaled_score_formula():
    s = 600.0
    assert g.score(60.0, s) == round(5000 * math.exp(-1.0))
    assert g.score(60.0, s) < g.score(60.0, None)  # a small map punishes the same error harder


def test_round_scores_use_the_games_map_size():
    world = g.new_game(cfg(), world_locations(), T0)
    croatia = g.new_game(cfg(region="country:HR"), world_locations(), T0)
    assert world.map_size_km is None
    assert croatia.map_size_km == pytest.approx(max(100.0, haversine_km(45.0, 16 - 14 * 0.03, 45 + 14 * 0.05, 16.0)))
    for st in (world, croatia):
        t = st.current.location
        st2 = g.submit(g.set_guess(st, t.lat + 0.5, t.lon, T0 + 5), move(t.lat, t.lon + 1), T0 + 6)
        res = st2.results[0]
        assert res.player_km == pytest.approx(haversine_km(t.lat + 0.5, t.lon, t.lat, t.lon))
        assert res.player_score == g.score(res.player_km, st.map_size_km)
        assert res.model_score == g.score(res.model_km, st.map_size_km)


# ------------------------------------------------------------------ seeds and rounds
def test_same_seed_same_rounds_whatever_the_input_order():
    locs = world_locations()
    a = g.new_game(cfg(), locs, T0)
    shuffled = locs[:]
    random.Random(1).shuffle(shuffled)
    b = g.new_game(cfg(), shuffled, T0 + 99)
    assert [r.location.location_id for r in a.rounds] == [r.location.location_id for r in b.rounds]
    assert a.game_id != b.game_id  # two plays of one seed are two games


def test_different_seeds_give_different_rounds():
    locs = world_locations()
    games = {tuple(r.location.location_id for r in g.new_game(cfg(seed=f"s{i}"), locs, T0).rounds) for i in range(10)}
    assert len(games) >= 9


def test_longer_game_starts_with_the_same_rounds_and_options_do_not_change_them():
    locs = world_locations()
    five = [r.location.location_id for r in g.new_game(cfg(n_rounds=5), locs, T0).rounds]
    ten = [r.location.location_id for r in g.new_game(cfg(n_rounds=10, time_limit_s=30, gradcam=True), locs, T0).rounds]
    assert ten[:5] == five


def test_no_repeats_and_one_round_per_location_group():
    locs = world_locations() + [loc(300 + i, "HR", 45.0, 16.0, group="G000") for i in range(5)]  # same group as L000
    for seed in ("a", "b", "c", "d"):
        st = g.new_game(cfg(seed=seed, n_rounds=20), locs, T0)
        ids = [r.location.location_id for r in st.rounds]
        groups = [r.location.group_id for r in st.rounds]
        assert len(ids) == len(set(ids)) == 20
        assert len(groups) == len(set(groups))


def test_region_filtering_and_short_regions():
    locs = world_locations()
    st = g.new_game(cfg(region="country:FR", n_rounds=20), locs, T0)
    assert {r.location.country_code for r in st.rounds} == {"FR"}
    assert len(st.rounds) == 8  # only 8 French places: a shorter game
    eu = g.new_game(cfg(region="continent:EU", n_rounds=20), locs, T0)
    assert {r.location.country_code for r in eu.rounds} == {"HR", "FR"}
    with pytest.raises(g.GameError, match="no playable"):
        g.new_game(cfg(region="country:JP"), locs, T0)


def test_locations_without_coordinates_or_views_are_not_played():
    locs = [loc(1, lat=float("nan")), replace(loc(2), paths=()), loc(3)]
    st = g.new_game(cfg(n_rounds=3), locs, T0)
    assert [r.location.location_id for r in st.rounds] == ["L003"]


def test_single_view_mode_picks_one_view_from_the_seed():
    locs = world_locations()
    a = g.new_game(cfg(views="single", n_rounds=10), locs, T0)
    b = g.new_game(cfg(views="single", n_rounds=10), locs, T0)
    assert all(len(r.views) == 1 and 0 <= r.views[0] < 4 for r in a.rounds)
    assert [r.views for r in a.rounds] == [r.views for r in b.rounds]
    assert len({r.views[0] for r in a.rounds}) > 1  # not always the first view
    full = g.new_game(cfg(views="all"), locs, T0)
    assert all(r.views == (0, 1, 2, 3) for r in full.rounds)


@pytest.mark.parametrize("kw", [{"seed": ""}, {"seed": "a b"}, {"seed": "x" * 33}, {"n_rounds": 0},
                                {"n_rounds": g.MAX_ROUNDS + 1}, {"views": "some"}, {"time_limit_s": 2},
                                {"region": "country:HRV"}])
def test_invalid_configs_are_refused(kw):
    with pytest.raises(ValueError):
        g.new_game(cfg(**kw), world_locations(), T0)


def test_seed_cleaning():
    assert g.clean_seed(" croatia-42 ") == "croatia-42"
    assert g.clean_seed(123) == "123"
    for bad in (None, "", "a/b", "<script>", "x" * 40):
        assert g.clean_seed(bad) is None
    s = g.new_seed()
    assert g.clean_seed(s) == s and len(s) == 6


# ------------------------------------------------------------------ round flow
def test_full_game_flow_and_totals():
    st = g.new_game(cfg(n_rounds=3), world_locations(), T0)
    assert st.phase == "guess" and st.index == 0 and st.guess is None
    for i in range(3):
        t = st.current.location
        with pytest.raises(g.GameError, match="pin"):
            g.submit(st, move(0, 0), T0)  # no pin yet
        with pytest.raises(g.GameError):
            g.next_round(st, T0)  # cannot skip a round
        st = g.set_guess(st, 0.0, 0.0, T0)
        st = g.set_guess(st, t.lat, t.lon, T0)  # moving the pin: the last one counts
        st = g.submit(st, move(t.lat + 10, t.lon), T0 + 3)
        assert st.phase == "reveal" and len(st.results) == i + 1
        r = st.results[-1]
        assert r.player_score == 5000 and r.player_km == pytest.approx(0.0) and r.winner == "player"
        with pytest.raises(g.GameError):
            g.set_guess(st, 1, 1, T0)  # no moving the pin after the reveal
        with pytest.raises(g.GameError):
            g.submit(st, move(0, 0), T0)  # no double submit
        st = g.next_round(st, T0 + 10)
    assert st.phase == "over"
    t = g.totals(st)
    assert t.player == 15000 and t.rounds_played == 3 and t.player_rounds_won == 3 and t.model_rounds_won == 0
    assert t.model == sum(r.model_score for r in st.results) and t.margin == 15000 - t.model
    assert t.max_points == 15000 and t.winner == "player"
    assert g.verdict(t) == f"You win by {t.margin:,} points."
    with pytest.raises(g.GameError):
        g.next_round(st, T0)


def test_totals_winner_and_verdicts():
    assert g.verdict(g.Totals(100, 300, 1, 0, 1, 5000)) == "The model wins by 200 points."
    assert g.verdict(g.Totals(100, 300, 1, 0, 1, 5000), final=False) == "The model leads by 200 points."
    assert g.verdict(g.Totals(300, 300, 1, 0, 0, 5000)) == "It's a draw!"
    assert g.Totals(300, 300, 1, 0, 0, 5000).margin == 0


def test_round_tie_by_points():
    st = g.new_game(cfg(n_rounds=1), world_locations(), T0)
    t = st.current.location
    st = g.submit(g.set_guess(st, t.lat, t.lon, T0), move(t.lat, t.lon), T0)
    assert st.results[0].winner == "tie"


def test_clicks_are_normalised():
    st = g.new_game(cfg(), world_locations(), T0)
    assert g.set_guess(st, 45.0, 196.0, T0).guess == (45.0, -164.0)  # panned across the antimeridian
    assert g.set_guess(st, 95.0, -540.0, T0).guess == (90.0, -180.0)
    with pytest.raises(g.GameError):
        g.set_guess(st, float("nan"), 0, T0)


# ------------------------------------------------------------------ time limits
def test_time_limit():
    st = g.new_game(cfg(time_limit_s=30), world_locations(), T0)
    assert g.deadline(st) == T0 + 30 and g.time_left(st, T0 + 10) == 20 and g.time_left(st, T0 + 99) == 0
    st = g.set_guess(st, 10.0, 10.0, T0 + 29)
    assert not g.is_expired(st, T0 + 30 + g.GRACE_S)
    with pytest.raises(g.GameError, match="time"):
        g.set_guess(st, 20.0, 20.0, T0 + 31 + g.GRACE_S)  # too late to move the pin
    done = g.submit(st, move(0, 0), T0 + 40)
    r = done.results[0]
    assert r.timed_out and r.guess == (10.0, 10.0) and r.player_score > 0  # the pin placed in time counts
    nxt = g.next_round(done, T0 + 50)
    assert g.deadline(nxt) == T0 + 80  # the clock restarts each round


def test_time_out_without_a_pin_scores_zero():
    st = g.new_game(cfg(time_limit_s=20), world_locations(), T0)
    done = g.submit(st, move(0, 0), T0 + 60)
    r = done.results[0]
    assert r.timed_out and r.guess is None and r.player_km is None and r.player_score == 0
    assert r.winner in ("model", "tie")


def test_no_time_limit_never_expires():
    st = g.new_game(cfg(), world_locations(), T0)
    assert g.deadline(st) is None and g.time_left(st, T0 + 1e6) is None and not g.is_expired(st, T0 + 1e9)
