"""The game map (issue 22 items 9 and 5): a larger guess map, guessing with the keyboard (a crosshair on
the map, or a typed place / coordinates), the end-of-game map zoomed to the rounds or to one round, and
each round opening at its top."""
from __future__ import annotations

import json
import time

import pytest

from app.maps import builders as maps
from app.play import game as g
from app.play import logic as pl
from app.play.keyboard import add_keyboard, parse_guess
from app.play.layout import scroll_script
from app.play.summary import round_points, summary_map
from tests.app.play.playhelpers import loc
from tests.app.play.test_play_app import ok, play, start


@pytest.mark.parametrize("text,want", [
    ("45.81, 15.98", (45.81, 15.98)), ("-33.87 151.21", (-33.87, 151.21)), ("45.81 N 15.98 E", (45.81, 15.98)),
    ("45°48'N 15°58'E", (45.8, 15 + 58 / 60)), ("33°52'S, 151°12'E", (-(33 + 52 / 60), 151.2)),
    ("15.98 E 45.81 N", (45.81, 15.98)), ("Zagreb", (45.814, 15.978)), ("split, croatia", (43.509, 16.439)),
])
def test_a_typed_guess_is_coordinates_or_a_place_on_the_map(text, want):
    (lat, lon), words = parse_guess(text)
    assert (lat, lon) == pytest.approx(want, abs=1e-3) and words


@pytest.mark.parametrize("text", ["", "95, 10", "10, 200", "nowhere-ville", "45.8"])
def test_a_typed_guess_that_is_neither_says_why(text):
    with pytest.raises(g.GameError):
        parse_guess(text)


def test_the_guess_map_has_a_keyboard_crosshair():
    html = maps.map_html(add_keyboard(pl.guess_map([])))
    assert "geo-kbd" in html and "geo-cross" in html and 'map.fire("click"' in html
    assert "arrow keys move the map" in html  # its accessible name says how to use it
    assert "keyboard: false" in html.replace('"keyboard": false', "keyboard: false")  # the map itself is not focused


def _game(n: int = 3) -> g.GameState:
    locs = [loc(0, "HR", 45.0, 16.0), loc(1, "HR", 45.3, 16.4), loc(2, "HR", 43.5, 16.5)]
    st = g.new_game(g.GameConfig(seed="z", region="country:HR", n_rounds=n), locs, 0.0)
    for _ in range(n):
        t = st.current.location
        st = g.next_round(g.submit(g.set_guess(st, t.lat + 0.1, t.lon, 1.0), g.ModelMove(t.lat, t.lon + 0.3), 2.0), 3.0) \
            if not st.is_last_round else g.submit(g.set_guess(st, t.lat + 0.1, t.lon, 1.0), g.ModelMove(t.lat, t.lon + 0.3), 2.0)
    return st


def test_the_end_of_game_map_zooms_to_the_rounds_or_to_one():
    st = _game()
    every = maps.fitted_bounds(summary_map(st.results))
    pts = [p for r in st.results for p in round_points(r)]
    assert every[0][0] <= min(p[0] for p in pts) and every[1][0] >= max(p[0] for p in pts)
    one = st.results[1]
    b = maps.fitted_bounds(summary_map(st.results, focus=1))  # rounds close together: zoom to one of them
    assert b[0][0] <= min(p[0] for p in round_points(one)) <= max(p[0] for p in round_points(one)) <= b[1][0]
    assert (b[1][0] - b[0][0]) < (every[1][0] - every[0][0]) and (b[1][1] - b[0][1]) <= 3.0


def test_a_round_opens_at_its_top_once_per_round():
    js = scroll_script("g1-0-guess")
    assert 'querySelector(\'[data-testid="stMain"]\')' in js and "scrollTo" in js and json.dumps("g1-0-guess") in js


def htmls(at) -> str:
    return "\n".join(str(h.proto) for h in at.get("html"))


def test_the_page_guesses_from_the_keyboard_and_gives_the_map_room(play_env):
    at = play()
    state = start(at, rounds=2)
    assert f"{state.game_id}-0-guess" in htmls(at)  # opens the round at its top
    cols = [c for c in at.columns if c.proto.weight]
    assert cols and min(c.proto.weight for c in cols[:2]) >= 0.5  # the map has half the width (was 2/5)
    (m,) = [c for c in at.get("component_instance")]
    args = json.loads(m.proto.json_args)
    assert args["height"] >= 480 and "geo-kbd" in args["script"]  # taller (was 440), with the crosshair
    box = at.text_input(key=f"play_typed_{state.game_id}_0")
    box.set_value("Zagreb").run()
    ok(at)
    assert at.session_state["play_game"].guess == pytest.approx((45.814, 15.978), abs=1e-3)
    assert any("Your pin: 45.8140, 15.9780 (Zagreb (45.81, 15.98))" in c.value for c in at.caption)
    at.text_input(key=f"play_typed_{state.game_id}_0").set_value("95, 400").run()
    assert "latitude must be" in at.toast[0].value and at.session_state["play_game"].guess[0] == pytest.approx(45.814)
    at.button(key="play_submit").click().run()
    ok(at)
    assert f"{state.game_id}-0-reveal" in htmls(at)
    at.button(key="play_next").click().run()
    assert f"{state.game_id}-1-guess" in htmls(at)  # the next round opens at its top too
    at.segmented_control(key="play_map_size").set_value("Large").run()
    ok(at)
    (m,) = [c for c in at.get("component_instance")]
    assert json.loads(m.proto.json_args)["height"] >= 600


def test_the_final_map_has_a_zoom_per_round(play_env):
    at = play()
    state = start(at, rounds=2)
    for _ in range(2):
        x = at.session_state["play_game"].current.location
        at.session_state["play_game"] = g.set_guess(at.session_state["play_game"], x.lat, x.lon, time.time())
        at.run()
        at.button(key="play_submit").click().run()
        at.button(key="play_next").click().run()
    ok(at)
    zoom = at.segmented_control(key=f"play_zoom_{state.game_id}")
    assert zoom.options == ["All rounds", "Round 1", "Round 2"] and zoom.value == "All rounds"
    done = at.session_state["play_game"]
    (every,) = [json.loads(c.proto.json_args)["script"] for c in at.get("component_instance")]
    zoom.set_value("Round 2").run()
    ok(at)
    (one,) = [json.loads(c.proto.json_args)["script"] for c in at.get("component_instance")]
    framed = maps.fitted_bounds(summary_map(done.results, focus=1))
    assert one != every and json.dumps(framed[0])[1:-1].replace(" ", "") in one.replace(" ", "")


def test_reveal_and_final_maps_keep_pins_clear_of_the_corner_controls():
    # the player's pin sat under the layer switcher (top right) of the reveal map: 30 px of padding
    from app.maps.layers import FitFrame

    st = _game(1)
    for m in (pl.reveal_map(st.results[0]), summary_map(st.results), summary_map(st.results, focus=0)):
        (frame,) = [c for c in m._children.values() if isinstance(c, FitFrame)]
        assert frame.padding >= 60
