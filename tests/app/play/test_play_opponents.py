"""The player chooses the opponent (issue 21, Play part): the shipped model, another checkpoint, or a
registered predictor that can run offline (the others listed with what they need); the game, the
leaderboard and "Humans vs the model" keep opponents apart. One game is played against a real
zero-shot CLIP predictor loaded through its real code from a tiny random CLIP in the hub's layout."""
from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from app.play import game as g
from app.play import opponent
from app.play import opponents as opp
from app.play.leaderboard import Leaderboard
from tests.app.play.playhelpers import PlayPredictor
from tests.app.play.test_play_app import MAIN, PAGE, ok, start

ZS = "clip-zeroshot"


def test_choices_list_the_shipped_model_checkpoints_and_runnable_predictors(tmp_path):
    run = tmp_path / "runs" / "b" / "model.pt"
    run.parent.mkdir(parents=True)
    run.write_bytes(b"x")
    (tmp_path / "assets" / "models").mkdir(parents=True)
    (tmp_path / "assets" / "models" / "other.pt").write_bytes(b"x")
    check = {"geoclip": SimpleNamespace(available=False, reason="pip install geoclip"),
             ZS: SimpleNamespace(available=True, reason="")}
    got = opp.opponent_choices(None, root=tmp_path, names=["geoclip", ZS], check=check.__getitem__)
    assert [o.key for o in got] == ["shipped", "ckpt:assets/models/other.pt", "ckpt:runs/b/model.pt", "geoclip", ZS]
    assert got[0].model is None and got[0].label == "The shipped model"  # the app's own model
    assert got[2].model == str(run.resolve())
    assert [o.available for o in got] == [True, True, True, False, True] and got[3].note == "pip install geoclip"
    assert opp.find_opponent("geoclip", got) is None and opp.find_opponent(ZS, got).model == ZS
    assert opp.find_opponent("ckpt:/etc/passwd", got) is None  # a link chooses among these, never names a file
    served = opp.opponent_choices(ZS, root=tmp_path, names=["geoclip", ZS], check=check.__getitem__)
    assert served[0].key == ZS and served[0].model is None and [o.key for o in served].count(ZS) == 1
    assert opp.opponent_label("shipped") == "shipped model" and opp.opponent_label("ckpt:runs/b/model.pt") == \
        "runs/b/model.pt" and opp.opponent_label("") == "not recorded"


@pytest.fixture
def two_models(play_env, monkeypatch, tmp_path):
    """A second checkpoint on offer; get_predictor hands each model its own fake (and records the calls)."""
    import app.common.resources as res

    ck = tmp_path / "runs" / "b" / "model.pt"
    ck.parent.mkdir(parents=True)
    ck.write_bytes(b"x")
    monkeypatch.setattr(opp, "find_checkpoints", lambda root=None: [ck])
    fakes: dict = {}
    calls: list = []

    def get(model=None):
        calls.append(model)
        return fakes.setdefault(model, PlayPredictor())

    monkeypatch.setattr(res, "get_predictor", get)
    return SimpleNamespace(key=opp.checkpoint_key(ck), path=str(ck.resolve()), fakes=fakes, calls=calls)


def one_round(at: AppTest, **opts) -> g.GameState:
    state = start(at, rounds=1, **opts)
    x = state.current.location
    at.session_state["play_game"] = g.set_guess(state, x.lat + 0.5, x.lon, time.time())
    at.run()
    at.button(key="play_submit").click().run()
    ok(at)
    at.button(key="play_next").click().run()
    ok(at)
    return at.session_state["play_game"]


def test_the_player_picks_the_opponent_and_boards_keep_them_apart(two_models, play_env):
    at = AppTest.from_file(MAIN, default_timeout=60)
    at.switch_page(PAGE).run()
    ok(at)
    pick = at.selectbox(key="play_opponent")  # the old page always played the app's model
    assert pick.value == "shipped" and pick.options == ["The shipped model", f"Checkpoint {two_models.key[5:]}"]
    note = " ".join(e.label for e in at.expander)
    assert "Not on this machine" in note and "geoclip" in note
    assert any("hf download geoclip" in m.value for m in at.markdown)  # what each one needs
    first = one_round(at)
    assert first.config.opponent == "shipped"
    at.text_input(key="play_name").set_value("Ana")
    next(b for b in at.button if b.label == "Save to the leaderboard").click().run()
    at.button(key="play_new").click().run()
    at.selectbox(key="play_opponent").set_value(two_models.key).run()
    ok(at)
    second = one_round(at)
    assert second.config.opponent == two_models.key and two_models.path in two_models.calls
    assert two_models.fakes[two_models.path].calls == 1  # the checkpoint answered that round, not the app's model
    assert at.query_params["opponent"] == two_models.key
    at.text_input(key="play_name").set_value("Ana")
    next(b for b in at.button if b.label == "Save to the leaderboard").click().run()
    ok(at)
    boards = at.selectbox(key="play_board_pick").options
    assert len(boards) == 2 and any("World · 1 round · no time limit · vs shipped model" in b for b in boards) \
        and any(f"vs {two_models.path}" in b for b in boards), boards
    vs_pick = at.selectbox(key="play_vs_opponent")
    assert sorted(vs_pick.options) == sorted([f"{two_models.path} (1 round)", "shipped model (1 round)"])
    assert {r.opponent for r in Leaderboard(play_env).round_records()} == {"shipped", two_models.key}


def test_a_zero_shot_clip_opponent_plays_through_its_real_loading_code(play_env, monkeypatch, tmp_path):
    import app.common.resources as res
    from model import predictors as mp
    from model.predictors import registry, zeroshot
    from model.predictors.tiny import REPOS, write_tiny_hub

    repo = zeroshot.weights_info(ZS).repo
    write_tiny_hub(tmp_path / "hf", {repo: REPOS[repo]})
    for k, v in {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                 "GEOLOC_CACHE": str(tmp_path / "cache")}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setattr(mp, "availability", registry.availability)  # the real file check
    monkeypatch.setattr(mp, "predictor_names", lambda: [ZS])
    real: dict = {}
    fake = PlayPredictor()
    monkeypatch.setattr(res, "get_predictor", lambda model=None: real.setdefault(
        model, mp.load_predictor(model, device="cpu")) if model == ZS else fake)
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.switch_page(PAGE).run()
    ok(at)
    at.selectbox(key="play_opponent").set_value(ZS).run()
    ok(at)
    state = start(at, rounds=1, region="continent:EU")
    x = state.current.location
    at.session_state["play_game"] = g.set_guess(state, x.lat, x.lon, time.time())
    at.run()
    at.button(key="play_submit").click().run()
    ok(at)
    res_ = at.session_state["play_game"].results[0]
    assert at.session_state["play_game"].config.opponent == ZS and fake.calls == 0
    assert res_.model.top and 0 <= res_.model_score <= 5000
    move = opponent.play(real[ZS], [Image.new("RGB", (64, 64), (20, 90, 40))], "country:HR", 600.0)
    from app.play import areas

    assert areas.contains("country:HR", [move.lat], [move.lon])[0]  # told the region, it stays inside
