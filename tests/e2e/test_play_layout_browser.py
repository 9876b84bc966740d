"""Browser tests of Play's layout (issue 22 items 5, 9 and 11): what only a browser shows.

* Phone (390x844): every round opens at its photo and every reveal at its verdict, although Start,
  Guess and Next sit low on the page (Streamlit keeps the scroll position across reruns); the tables
  put their key columns first, say on a narrow screen that they scroll sideways, and the page itself
  never scrolls sideways.
* Desktop (1400x1000): the guess map has room (it was 368 px wide) and a Large size; the keyboard
  crosshair places the pin (Tab to its button, arrow keys, Enter) where it points; the photo's
  fullscreen button does not cover the timer.

The server, the browser and the offline page come from ``tests/e2e/test_e2e_browser.py``; screenshots
go to ``tests/artifacts/``.
"""
from __future__ import annotations

import os
import random

import pytest

from app.play.leaderboard import Entry, Leaderboard, RoundRecord
from tests.app.apphelpers import SHARED
from tests.e2e.test_e2e_browser import ARTIFACTS, IDLE, MAP, browser, offline_page, server  # noqa: F401

pytestmark = pytest.mark.e2e
PHOTO = "img[alt^='Street-level photo']"
SCROLL = "() => document.querySelector('[data-testid=stMain]').scrollTop"


@pytest.fixture(scope="module", autouse=True)
def leaderboard_file(tmp_path_factory):
    """A leaderboard with a few saved games (with rounds) for the server this module starts."""
    if not (SHARED / "manifest.csv").is_file():
        pytest.skip("shared data not found at ../shared/geodata")
    path = tmp_path_factory.mktemp("board") / "leaderboard.sqlite3"
    b, rng = Leaderboard(path), random.Random(3)
    for i in range(4):
        recs = [RoundRecord(k, 45.0, 16.0, rng.choice(["HR", "US", "FR"]), 50.0, rng.randrange(5000), 80.0,
                            rng.randrange(5000)) for k in range(5)]
        b.add(Entry(f"seeded-{i}", f"A rather long player name {i}", f"{900000 + i}", "world", 5,
                    sum(r.player_score for r in recs), sum(r.model_score for r in recs), opponent="shipped",
                    dataset="shared"), recs)
    old = os.environ.get("GEOLOC_LEADERBOARD")
    os.environ["GEOLOC_LEADERBOARD"] = str(path)
    yield path
    if old is None:
        os.environ.pop("GEOLOC_LEADERBOARD", None)
    else:
        os.environ["GEOLOC_LEADERBOARD"] = old


def idle(page) -> None:
    page.wait_for_selector(IDLE)
    page.wait_for_timeout(1500)  # the page's scroll script runs in the first second of a view


def in_view(page, selector: str, height: int) -> bool:
    """Whether the top of the first element matching ``selector`` is on screen (below the app's header)."""
    box = page.locator(selector).first.bounding_box()
    return box is not None and 0 <= box["y"] < height * 0.5


def click_low(page, role_name: str) -> None:
    """Scroll to a button low on the page and click it (as a phone user does)."""
    btn = page.get_by_role("button", name=role_name, exact=True)
    btn.scroll_into_view_if_needed()
    assert page.evaluate(SCROLL) > 200  # the button is far down: the scroll position is kept across the rerun
    btn.click()


def test_on_a_phone_every_round_opens_at_its_photo_and_tables_fit(server, browser):  # noqa: F811
    page = offline_page(browser, [])
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server + "/play?seed=phone-1&region=world&rounds=2&views=single")
    page.get_by_role("button", name="Start game").wait_for()
    idle(page)
    click_low(page, "Start game")
    page.locator(PHOTO).first.wait_for()
    idle(page)
    assert in_view(page, PHOTO, 844), page.locator(PHOTO).first.bounding_box()
    page.screenshot(path=str(ARTIFACTS / "play_phone_round1.png"))
    for i in range(2):
        box = page.get_by_label("Or type your guess")
        box.scroll_into_view_if_needed()
        box.fill("Zagreb")
        box.press("Enter")
        page.get_by_text("Your pin:").wait_for()
        idle(page)
        click_low(page, "Guess")
        page.get_by_text("Model's score").wait_for()
        idle(page)
        assert in_view(page, "[data-testid='stAlert']", 844)  # the reveal opens at its verdict
        if i == 0:
            click_low(page, "Next round")
            page.locator(PHOTO).first.wait_for()
            idle(page)
            assert in_view(page, PHOTO, 844), (page.evaluate(SCROLL), page.locator(PHOTO).first.bounding_box())
            page.screenshot(path=str(ARTIFACTS / "play_phone_round2.png"))
    click_low(page, "See the final result")
    page.get_by_text("Your total").wait_for()
    idle(page)
    assert page.evaluate(SCROLL) < 50  # the final result opens at its top
    heads = page.evaluate("""() => [...document.querySelectorAll('[data-testid=stDataFrame]')].map(
        d => [...d.querySelectorAll('th')].map(t => t.innerText.trim()))""")
    board = next(h for h in heads if "Player" in h)  # the grid renders only the columns on screen
    assert board[:4] == ["#", "Player", "Points", "Model"], board  # the key columns are what a phone shows
    main = page.evaluate("() => { const m = document.querySelector('[data-testid=stMain]');"
                         " return [m.scrollWidth, m.clientWidth]; }")
    assert main[0] <= main[1] + 1, main  # the page itself never scrolls sideways
    hint = page.get_by_text("The table scrolls sideways: date, seed")
    hint.scroll_into_view_if_needed()
    assert hint.is_visible()  # the table's own sideways scroll is marked
    page.get_by_text("Humans vs the model").click()
    page.locator("[data-testid='stDataFrame']").last.wait_for()
    idle(page)
    heads = page.evaluate("""() => [...document.querySelectorAll('[data-testid=stDataFrame]')].map(
        d => [...d.querySelectorAll('th')].map(t => t.innerText.trim()))""")
    versus = next(h for h in heads if "Country" in h)
    assert versus[:3] == ["Country", "Players' win rate (95% interval)", "Verdict"], versus
    page.locator("[data-testid='stDataFrame']").last.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "play_phone_tables.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.wait_for_timeout(500)
    assert not hint.is_visible()  # a wide screen shows every column: no hint
    page.close()


def test_the_guess_map_has_room_and_a_keyboard_crosshair(server, browser):  # noqa: F811
    page = offline_page(browser, [])
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(server + "/play?seed=kbd-1&region=world&rounds=1&views=single&time=180")
    page.get_by_role("button", name="Start game").click()
    page.locator(PHOTO).first.wait_for()
    idle(page)
    frame = page.frame_locator(MAP)
    frame.locator(".leaflet-container").wait_for()
    assert page.locator(MAP).first.bounding_box()["width"] >= 440  # was 368 px at this width

    # the photo's fullscreen button does not sit over the timer
    page.locator(PHOTO).first.hover()
    page.wait_for_timeout(300)
    full = page.locator("[data-testid='stElementToolbarButton']").first.bounding_box()
    timer = page.locator("[data-testid='stProgress']").first.bounding_box()
    text = page.get_by_text("s left in this round").bounding_box()
    for b in (timer, text):
        apart = full["x"] + full["width"] <= b["x"] or b["x"] + b["width"] <= full["x"] or \
            full["y"] + full["height"] <= b["y"] or b["y"] + b["height"] <= full["y"]
        assert apart, (full, b)

    # Tab to the crosshair button, move the map with the arrow keys, Enter: the pin is where it points
    button = frame.locator("button.geo-kbd")
    assert "arrow keys" in button.get_attribute("aria-label")
    button.focus()
    assert frame.locator(".geo-cross").is_visible()
    for key in ("ArrowLeft", "ArrowLeft", "ArrowUp", "+"):
        page.keyboard.press(key)
        page.wait_for_timeout(200)
    cross = frame.locator(".geo-cross").bounding_box()
    page.keyboard.press("Enter")
    frame.locator(".geo-marker-guess").wait_for()
    idle(page)
    pin = frame.locator(".geo-marker-guess").first.bounding_box()
    cx, cy = cross["x"] + cross["width"] / 2, cross["y"] + cross["height"] / 2
    assert abs(pin["x"] + pin["width"] / 2 - cx) < 8 and abs(pin["y"] + pin["height"] / 2 - cy) < 8, (pin, cross)
    page.get_by_text("Your pin:").wait_for()
    assert page.get_by_role("button", name="Guess", exact=True).is_enabled()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "play_keyboard_guess.png"))

    # a larger map on request: as wide as the page, under the photo
    page.locator("[data-testid=stButtonGroup] button", has_text="Large").click()
    idle(page)
    assert page.locator(MAP).first.bounding_box()["width"] >= 900
    page.get_by_role("button", name="Guess", exact=True).click()
    page.get_by_text("Model's score").wait_for()
    page.close()
