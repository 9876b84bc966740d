"""Play's shareable links and tables: every setting in the link, key columns first, boards named by
every setting (issue 22 items 4 and 5)."""
from __future__ import annotations

from app.common.formatting import fmt_km
from app.play import game as g
from app.play.leaderboard import Board, Entry
from app.play.links import config_query, options_from_query, replay_link
from app.play.tables import BOARD_COLUMNS, board_name, board_rows, game_entry, result_rows, round_records
from app.play.versus import tally, tally_rows
from model.geo import haversine_km
from tests.app.play.playhelpers import loc


def test_url_round_trip_carries_every_setting_and_drops_bad_values():
    cfg = g.GameConfig(seed="hr-42", region="country:HR", n_rounds=7, views="single", time_limit_s=60,
                       opponent="geoclip", dataset="demo")
    q = config_query(cfg)
    assert q == {"seed": "hr-42", "region": "country:HR", "rounds": "7", "views": "single", "time": "60",
                 "opponent": "geoclip", "data": "demo"}
    back = options_from_query(q, ["world", "country:HR"], ["shipped", "geoclip"])
    assert g.GameConfig(**back) == cfg
    assert "time" not in config_query(g.GameConfig(seed="x"))
    assert options_from_query(q, ["world"]).get("region") is None  # not a playable region here
    assert "opponent" not in options_from_query(q, ["world"], ["shipped"])  # not an opponent offered here
    bad = {"seed": "<x>", "region": "country:HR", "rounds": "0", "views": "every", "time": "7", "opponent": "a\nb"}
    assert options_from_query(bad, ["country:HR"]) == {"region": "country:HR"}
    assert options_from_query({}, ["world"]) == {}


def test_play_this_seed_carries_the_time_limit_opponent_and_data_set():
    # issue 22.4: the link dropped &time= (and knew nothing of opponents or data sets)
    e = Entry("id", "Ana", "hr 42", "country:HR", 5, 12000, 13000, "all", "2026-03-04T05:06:07+00:00", 30,
              "ckpt:runs/b/model.pt", "demo")
    assert replay_link(e) == ("play?seed=hr+42&region=country%3AHR&rounds=5&views=all&time=30"
                              "&opponent=ckpt%3Aruns%2Fb%2Fmodel.pt&data=demo")
    old = Entry("id", "Bo", "s", "world", 5, 1, 2, "all", "2026-01-01", recorded=False)  # settings unknown
    assert replay_link(old) == "play?seed=s&region=world&rounds=5&views=all"


def test_board_rows_key_columns_first_and_replays_marked():
    # issue 22.5: on a phone the leaderboard showed Player, Date, Region and stopped there
    rows = board_rows([Entry("a", "Ana", "s1", "world", 5, 12000, 13000, "all", "2026-03-04T05:06:07+00:00"),
                       Entry("b", "Bo", "s2", "world", 5, 9000, 8000, "single", "2026-03-05", replay=True)])
    assert list(rows.columns) == BOARD_COLUMNS and BOARD_COLUMNS[:5] == ["#", "Player", "Points", "Model", "Margin"]
    assert list(rows["#"]) == [1, 2] and list(rows["Player"]) == ["Ana", "Bo · replay"]
    assert rows["Margin"].iloc[0] == -1000 and rows["Date"].iloc[0] == "2026-03-04"
    assert list(rows["Views"]) == ["all views", "single view"]


def test_versus_rows_put_the_rate_and_verdict_first():
    recs = [type("R", (), {"country_code": "HR", "player_score": p, "model_score": m})() for p, m in
            [(10, 5), (1, 9), (3, 3)]]
    cols = list(tally_rows(tally(recs, "country", {"HR": "Croatia"}), "country")[0])
    assert cols[:3] == ["Country", "Players' win rate (95% interval)", "Verdict"]  # what a phone shows


def test_board_names_say_every_setting():
    names = {"HR": "Croatia"}
    b = Board("country:HR", 5, 60, "shipped", "demo")
    assert board_name(b, names, {"demo": "Demo set"}) == "Croatia · 5 rounds · 60 s a round · vs shipped model · Demo set"
    assert board_name(Board("world", 3, None, "geoclip", "manifest:/x.csv"), names) == \
        "World · 3 rounds · no time limit · vs geoclip · manifest:/x.csv"
    old = board_name(Board("world", 5, None, "", "", recorded=False), names)
    assert old.startswith("World · 5 rounds") and "not recorded" in old


def test_result_rows_and_records():
    locs = [loc(i, "HR", 45 + i * 0.1, 16.0) for i in range(4)]
    st = g.new_game(g.GameConfig(seed="t", region="country:HR", n_rounds=2, time_limit_s=10), locs, 0.0)
    t = st.current.location
    st = g.submit(g.set_guess(st, t.lat + 0.2, t.lon, 1.0), g.ModelMove(t.lat, t.lon + 0.5, (), 3), 2.0)
    t2 = g.next_round(st, 3.0)
    st = g.submit(t2, g.ModelMove(t2.current.location.lat, 16.1, (), 1), 100.0)  # timed out without a pin
    df = result_rows(st)
    assert list(df.columns[:4]) == ["Round", "Your points", "Model points", "Winner"]  # key columns first
    assert list(df["Round"]) == [1, 2] and list(df["Place"]) == ["Croatia", "Croatia"]
    assert list(result_rows(st, lambda r: f"near X{r.index}, {r.country}")["Place"]) == \
        ["near X0, Croatia", "near X1, Croatia"]
    recs = round_records(st)  # what the leaderboard stores for "Humans vs the model"
    assert [(r.index, r.country_code, r.player_score, r.model_score) for r in recs] == \
        [(0, "HR", st.results[0].player_score, st.results[0].model_score), (1, "HR", 0, st.results[1].model_score)]
    assert recs[1].player_km is None and recs[0].lat == st.results[0].truth[0]
    assert df["Your distance"].iloc[0] == fmt_km(haversine_km(t.lat + 0.2, t.lon, t.lat, t.lon))
    assert df["Your distance"].iloc[1] == "no pin" and df["Your points"].iloc[1] == 0
    assert df["Winner"].iloc[1] == "Model"
    assert result_rows(g.new_game(g.GameConfig(seed="t"), locs, 0.0)).empty
    e = game_entry(st, "Ana", replay=True)  # every setting that changes the score goes with the game
    assert (e.region, e.rounds, e.time_limit_s, e.opponent, e.replay) == ("country:HR", 2, 10, "shipped", True)
    assert e.player_score == sum(r.player_score for r in st.results) and e.board.time_limit_s == 10
