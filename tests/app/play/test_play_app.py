"""AppTest of the Play page: the real page script, synthetic data, the fake predictor.

AppTest cannot click a folium map, so the player's pin is set through the app's own state (the
``GameState`` in ``st.session_state["play_game"]``, exactly what the map's click handler stores);
the browser test clicks the real map.
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.play import game as g
from app.play import logic as pl
from app.play.leaderboard import Board, Entry, Leaderboard
from tests.app.play.playhelpers import PlayPredictor
from tests.shared import REPO

MAIN = str(REPO / "app" / "main.py")
PAGE = "app_pages/play.py"


def play(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=60)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    at.switch_page(PAGE).run()
    ok(at)
    return at


def ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def start(at: AppTest, **opts) -> g.GameState:
    keys = {"region": "play_region", "time": "play_time", "views": "play_views_mode", "seed": "play_seed"}
    for k, v in opts.items():
        if k == "rounds":
            at.number_input(key="play_rounds").set_value(v)
        elif k == "gradcam":
            at.toggle(key="play_gradcam").set_value(v)
        elif k == "views":
            at.radio(key=keys[k]).set_value(v)
        elif k == "seed":
            at.text_input(key=keys[k]).set_value(v)
        else:
            at.selectbox(key=keys[k]).set_value(v)
    next(b for b in at.button if b.label == "Start game").click().run()
    ok(at)
    return at.session_state["play_game"]


def test_nothing_to_play_says_why(play_env, dataset, tmp_path, monkeypatch):
    """A data set whose test places carry no coordinates (country labels only): the page says that, not
    that every test place was used in training (it crashed with a KeyError before that)."""
    import pandas as pd

    df = pd.read_csv(dataset, keep_default_na=False, dtype=str).assign(lat="", lon="")
    df["image"] = [str(Path(dataset).parent / i) for i in df["image"]]
    df.to_csv(tmp_path / "manifest.csv", index=False)
    monkeypatch.setenv("GEOLOC_DATA", str(tmp_path / "manifest.csv"))
    at = AppTest.from_file(MAIN, default_timeout=60)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    said = " ".join(w.value for w in at.warning)
    assert "used in training" not in said, said
    assert "0 of them have coordinates" in said and "Play plays 0" in said, said


def protos(at: AppTest, components: bool = True) -> str:
    """Everything the page sends for display (text, captions, alt texts, image URLs, map HTML)."""
    out = []

    def walk(node):
        if getattr(node, "key", None) in ("play_region", "play_board_region"):
            return  # the region pickers list every playable region: naming them is no leak
        if components or getattr(node, "type", "") != "component_instance":
            out.append(str(node.proto) if getattr(node, "proto", None) is not None else "")
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    walk(at.sidebar)
    return "\n".join(out)


def number_formats(table) -> dict[str, str]:
    """{column: number format} of a dataframe's column settings (what the browser applies)."""
    cfg = json.loads(table.proto.columns or "{}")
    return {k: v["type_config"]["format"] for k, v in cfg.items() if (v.get("type_config") or {}).get("format")}


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def place_pin(at: AppTest, lat: float, lon: float) -> None:
    at.session_state["play_game"] = g.set_guess(at.session_state["play_game"], lat, lon, time.time())
    at.run()
    ok(at)


def assert_no_leak(at: AppTest, state: g.GameState) -> None:
    x = state.current.location
    everything, page = protos(at), protos(at, components=False)
    assert x.location_id not in everything
    assert not any(Path(p).name in everything or Path(p).stem in everything for p in x.paths)
    assert f"{x.lat:.6f}" not in everything and f"{x.lon:.6f}" not in everything
    assert f"{x.lat:.2f}" not in page and f"{x.lon:.2f}" not in page
    if state.config.region == "world":
        assert x.country not in page


def test_setup_offers_playable_regions(play_env):
    at = play()
    labels = at.selectbox(key="play_region").options
    assert labels == ["World (29 places)", "Europe (17 places)", "North America (8 places)", "Croatia (11 places)"]
    assert at.number_input(key="play_rounds").value == 5
    cam = at.toggle(key="play_gradcam")  # a short label (was cut off: "Grad-CAM of the model's guess after eac...")
    assert cam.label == "Show what the model looked at" and "Grad-CAM" in cam.help
    assert "play_game" not in at.session_state
    assert any("No game saved yet" in c.value for c in at.caption)


def test_full_game_against_the_model(play_env, dataset):
    at = play()
    state = start(at, region="country:HR", rounds=3, seed="zagreb")
    assert at.query_params["seed"] == "zagreb" and at.query_params["region"] == "country:HR"
    expected = g.new_game(state.config, pl.load_playable(PlayPredictor.train_groups, dataset), 0)
    assert [r.location.location_id for r in state.rounds] == [r.location.location_id for r in expected.rounds]
    assert {r.location.country_code for r in state.rounds} == {"HR"} and state.map_size_km is not None
    for i in range(3):
        state = at.session_state["play_game"]
        assert state.phase == "guess" and metric(at, "Round") == f"{i + 1} of 3"
        imgs = at.get("image")
        assert len(imgs) == 1 and imgs[0].proto.imgs[0].caption == "View 1 of 4 · facing N (0°)"
        assert_no_leak(at, state)
        assert at.button(key="play_submit").disabled  # no pin, no guess
        x = state.current.location
        place_pin(at, x.lat + 0.1, x.lon)
        assert not at.button(key="play_submit").disabled
        at.button(key="play_submit").click().run()
        ok(at)
        state = at.session_state["play_game"]
        res = state.results[-1]
        assert state.phase == "reveal" and res.player_km == pytest.approx(11.1, abs=0.2)
        assert metric(at, "Your score") == f"{g.score(res.player_km, state.map_size_km):,}"
        assert metric(at, "Model's score") == f"{res.model_score:,}"
        assert metric(at, "Model's distance") == pl.fmt_km(res.model_km)
        top3 = next(d.value for d in at.dataframe if "Place" in d.value.columns)
        assert len(top3) <= 3 and set(top3["Place"]) <= {"Zagreb", "Split"}  # the model is told the region
        assert list(top3.columns) == ["Place", "Probability"]  # no column repeating "Croatia"
        said = (at.success or at.info)[0].value  # the place is named, not only the country (issue 14)
        assert said.endswith("Croatia**.") and "It was **near " in said, said
        assert said.split(" It was ")[1] == f"**{pl.place_words(*res.truth, 'HR', 'Croatia')}**."
        totals = g.totals(state)
        assert metric(at, "Your points") == f"{totals.player:,}" and metric(at, "Model points") == f"{totals.model:,}"
        at.button(key="play_next").click().run()
        ok(at)
    state = at.session_state["play_game"]
    t = g.totals(state)
    assert state.phase == "over" and at.subheader[0].value == g.verdict(t)
    assert metric(at, "Margin") == f"{t.margin:,}"
    # totals in full: the value is the number, the maximum is said beside it (was "18,215 / 25,0...")
    assert metric(at, "Your total") == f"{t.player:,}" and metric(at, "Model's total") == f"{t.model:,}"
    assert any(c.value.startswith("Totals out of 15,000 points (3 rounds") for c in at.caption)
    assert "Round" not in [m.label for m in at.metric]  # no second copy of the totals above them
    table = next(d for d in at.dataframe if "Winner" in d.value.columns)
    rounds = table.value
    assert list(rounds["Round"]) == [1, 2, 3] and list(rounds["Your points"]) == [r.player_score for r in state.results]
    assert all(p.startswith("near ") and p.endswith("Croatia") for p in rounds["Place"])
    assert number_formats(table) == {"Your points": "%,d", "Model points": "%,d"}  # 4,994 as in the header
    maps = [str(c.proto) for c in at.get("component_instance")]
    summary = [m for m in maps if "Round 3: near" in m]  # the end-of-game map: every round, numbered
    assert len(maps) == len(summary) == 1 and "Every round on one map" in protos(at, components=False)
    assert all(f"Round {n}: near" in summary[0] and f"Round {n}, model:" in summary[0] for n in (1, 2, 3))
    at.text_input(key="play_name").set_value("Ana")
    next(b for b in at.button if b.label == "Save to the leaderboard").click().run()
    ok(at)
    assert at.success[-1].value == "Saved."
    recs = Leaderboard(play_env).round_records()
    assert [(r.index, r.country_code, r.player_score, r.model_score) for r in recs] == \
        [(r.index, "HR", r.player_score, r.model_score) for r in state.results]
    board = next(d.value for d in at.dataframe if "Player" in d.value.columns)
    assert board.iloc[0]["Player"] == "Ana" and board.iloc[0]["Points"] == t.player
    assert board.iloc[0]["Seed"] == "zagreb"
    assert at.selectbox(key="play_board_pick").value.region == "country:HR"  # the board names the region
    vs = next(d.value for d in at.dataframe if "Verdict" in d.value.columns)  # humans vs the model
    assert list(vs["Country"]) == ["Croatia"] and list(vs["Rounds"]) == [3]
    assert vs["Sample"][0] == "indicative"
    next(b for b in at.button if b.label == "Save to the leaderboard").click().run()
    assert at.info[-1].value == "This game is already on the leaderboard."  # neutral, not a green success
    assert not any("already" in x.value for x in at.success)
    assert len(Leaderboard(play_env).round_records()) == 3  # not stored twice
    assert Leaderboard(play_env).count() == 1  # persisted in the configured file
    for f in play_env.parent.glob(play_env.name + "*"):  # a corrupt leaderboard file: a message, not a crash
        f.write_bytes(b"not a database " * 100)
    next(b for b in at.button if b.label == "Save to the leaderboard").click().run()
    assert not at.exception, at.exception
    assert "could not be saved" in at.error[-1].value and "not a database" in at.error[-1].value
    assert at.session_state["play_game"].phase == "over"
    at.button(key="play_replay").click().run()
    ok(at)
    again = at.session_state["play_game"]
    assert again.phase == "guess" and again.game_id != state.game_id
    assert [r.location.location_id for r in again.rounds] == [r.location.location_id for r in state.rounds]


def test_seed_in_the_url_gives_the_same_rounds(play_env):
    q = {"seed": "shared-1", "region": "continent:EU", "rounds": "4", "views": "single"}
    a = play(q)
    assert any("shared-1" in i.value for i in a.info)
    sa = start(a)
    b = play(q)
    sb = start(b)
    assert sa.config == sb.config and sa.config.n_rounds == 4 and sa.config.views == "single"
    assert [(r.location.location_id, r.views) for r in sa.rounds] == [(r.location.location_id, r.views) for r in sb.rounds]
    assert {r.location.country_code for r in sa.rounds} <= {"HR", "FR"}
    other = start(play({**q, "seed": "shared-2"}))
    assert [r.location.location_id for r in other.rounds] != [r.location.location_id for r in sa.rounds]


def test_bad_url_values_are_ignored_and_bad_seed_refused(play_env):
    at = play({"seed": "<script>", "region": "country:ZZ", "rounds": "99"})
    assert not any("Shared game" in i.value for i in at.info)
    assert at.selectbox(key="play_region").value == "world" and at.number_input(key="play_rounds").value == 5
    at.text_input(key="play_seed").set_value("not a seed!")
    next(b for b in at.button if b.label == "Start game").click().run()
    assert "play_game" not in at.session_state and "seed" in at.error[0].value


def test_time_out_without_a_pin_scores_zero(play_env):
    at = play()
    state = start(at, time=20, rounds=2)
    assert state.config.time_limit_s == 20
    assert any("s left" in (p.proto.text or "") for p in at.get("progress"))
    at.session_state["play_game"] = replace(state, started_at=time.time() - 60)  # the player walked away
    at.run()
    ok(at)
    state = at.session_state["play_game"]
    res = state.results[0]
    assert state.phase == "reveal" and res.timed_out and res.player_score == 0 and res.guess is None
    assert "Time ran out" in protos(at, components=False)
    assert metric(at, "Your distance") == "no pin"


def test_single_view_with_gradcam_after_the_reveal(play_env):
    at = play()
    state = start(at, views="single", gradcam=True, rounds=1)
    assert len(state.rounds[0].views) == 1
    assert not [b for b in at.get("button_group") if b.key.startswith("look_")]  # nothing to look around with
    img = at.get("image")[0].proto.imgs[0]
    assert img.caption.startswith("View 1 of 1") and "Street-level photo" in img.alt
    x = state.current.location
    place_pin(at, x.lat, x.lon)
    at.button(key="play_submit").click().run()
    ok(at)
    assert "What the model looked at" in protos(at, components=False)
    overlays = at.get("image")
    assert len(overlays) == 1 and overlays[0].proto.imgs[0].caption.startswith("View 1 of 1")
    assert at.session_state["play_game"].results[0].player_score == 5000
    at.button(key="play_next").click().run()
    assert at.session_state["play_game"].phase == "over" and at.subheader[0].value == "You win by " \
        f"{g.totals(at.session_state['play_game']).margin:,} points."
    at.button(key="play_new").click().run()
    ok(at)
    assert "play_game" not in at.session_state and not at.query_params  # a fresh game is on offer
    assert at.text_input(key="play_seed").value != state.config.seed


def test_look_around_switches_views(play_env):
    at = play()
    state = start(at, rounds=1)
    assert_no_leak(at, state)  # a world game: not even the country is named
    look = at.segmented_control(key=f"look_{state.game_id}_0")
    assert look.label == "Look around" and look.options == ["N", "E", "S", "W"]
    look.set_value(2).run()
    ok(at)
    assert at.get("image")[0].proto.imgs[0].caption == "View 3 of 4 · facing S (180°)"
    assert_no_leak(at, state)


def test_short_region_gives_a_shorter_game(play_env):
    at = play()
    state = start(at, region="continent:NA", rounds=10)
    assert len(state.rounds) == 8 and metric(at, "Round") == "1 of 8"
    assert "has 8 places" in at.toast[0].value


def test_quit_resets_the_shared_game_and_the_settings(play_env):
    # issue 14: after "Quit this game" the banner still said "Shared game ... whoever sent the link" and the
    # setup kept the link's 20 rounds
    at = play({"seed": "shared-9", "region": "continent:EU", "rounds": "20", "views": "single", "time": "60"})
    assert any("Shared game: seed **shared-9**" in i.value for i in at.info)
    first = start(at, gradcam=True)
    assert (first.config.seed, first.config.n_rounds, first.config.views) == ("shared-9", 20, "single")
    at.button(key="play_quit").click().run()
    ok(at)
    assert "play_game" not in at.session_state and not at.query_params
    assert not any("Shared game" in i.value for i in at.info)
    assert at.selectbox(key="play_region").value == "world" and at.number_input(key="play_rounds").value == 5
    assert at.radio(key="play_views_mode").value == "all" and at.selectbox(key="play_time").value is None
    assert at.toggle(key="play_gradcam").value is False
    assert at.text_input(key="play_seed").value not in ("", "shared-9")  # a fresh seed: new places
    again = start(at)
    assert again.config == g.GameConfig(seed=again.config.seed, dataset=again.config.dataset)  # defaults
    assert again.config.dataset.startswith("manifest:")  # the data set played on is part of the game


def test_a_saved_game_is_shown_on_the_leaderboard_and_counted_against_the_model(play_env):
    board = Leaderboard(play_env)  # earlier games: 5 rounds, the most played board
    for i in range(2):
        board.add(Entry(f"old-{i}", f"old{i}", "s", "country:HR", 5, 9000 + i, 8000, opponent="shipped"))
    at = play()
    assert set(next(d.value for d in at.dataframe if "Player" in d.value.columns)["Player"]) == {"old0", "old1"}
    state = start(at, rounds=1)
    x = state.current.location
    place_pin(at, x.lat, x.lon)
    at.button(key="play_submit").click().run()
    at.button(key="play_next").click().run()
    at.text_input(key="play_name").set_value("Newcomer")
    next(b for b in at.button if b.label == "Save to the leaderboard").click().run()
    ok(at)
    # the board switches to games like the one just saved (it used to stay on the 5-round games)
    picked = at.selectbox(key="play_board_pick").value
    assert (picked.region, picked.rounds, picked.opponent) == ("world", 1, "shipped")
    shown = next(d.value for d in at.dataframe if "Player" in d.value.columns)
    assert list(shown["Player"]) == ["Newcomer"]
    vs = next(d.value for d in at.dataframe if "Verdict" in d.value.columns)
    assert list(vs["Rounds"]) == [1] and vs["Country"][0] == x.country  # only games with recorded rounds
    at.segmented_control(key="play_vs_by").set_value("continent").run()
    ok(at)
    assert "Continent" in next(d.value for d in at.dataframe if "Verdict" in d.value.columns).columns
    board.add(Entry("old-3", "old3", "s", "country:HR", 3, 100, 8000, opponent="shipped"))
    at.run()
    ok(at)
    boards = at.selectbox(key="play_board_pick").options
    assert len(boards) == 3 and any("Croatia · 3 rounds" in b for b in boards), boards
    at.selectbox(key="play_board_pick").set_value(Board("country:HR", 5, None, "shipped", "")).run()
    ok(at)
    assert set(next(d.value for d in at.dataframe if "Player" in d.value.columns)["Player"]) == {"old0", "old1"}
