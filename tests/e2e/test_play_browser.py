"""Browser test of Play: the real app in Debian's Chromium (offline: only 127.0.0.1 is reachable).

A seeded one-round world game: nothing in the page, its frames, image URLs or alt texts gives the
place away before the guess; a click on the map places the pin at once (not one click behind) and a
second click moves it; the guess is submitted, the reveal shows both scores and the three pins and
names the place; the final totals are shown in full at 1400 px and at 390 px (no text cut off), with
a map of every round; the game is saved to the leaderboard (a temporary SQLite file), a second save
is a neutral note, and "Humans vs the model" counts its round; quitting a shared game clears the
banner and the options. A click on a map whose bottom is below
the fold lands where it was aimed (the page does not scroll under the cursor). The server, the browser
and the offline page come from ``tests/e2e/test_e2e_browser.py``.
"""
from __future__ import annotations

import io
import os
import re

import pandas as pd
import pytest
from PIL import Image

from app.play.leaderboard import Leaderboard
from tests.app.apphelpers import SHARED
from tests.e2e.test_e2e_browser import ARTIFACTS, IDLE, MAP, browser, offline_page, server  # noqa: F401

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def leaderboard_file(tmp_path_factory):
    """A fresh leaderboard for the server started by this module (read from its environment)."""
    path = tmp_path_factory.mktemp("board") / "leaderboard.sqlite3"
    old = os.environ.get("GEOLOC_LEADERBOARD")
    os.environ["GEOLOC_LEADERBOARD"] = str(path)
    yield path
    if old is None:
        os.environ.pop("GEOLOC_LEADERBOARD", None)
    else:
        os.environ["GEOLOC_LEADERBOARD"] = old


@pytest.fixture(scope="module")
def test_places() -> pd.DataFrame:
    if not (SHARED / "manifest.csv").is_file():
        pytest.skip("shared data not found at ../shared/geodata")
    df = pd.read_csv(SHARED / "manifest.csv", keep_default_na=False)
    return df[(df["split"] == "test") & (df["lat"] != "")]


def all_html(page) -> str:
    """The page and every frame in it (the map iframe's document included)."""
    return "\n".join(f.content() for f in page.frames)


def pin_centre(frame) -> tuple[float, float]:
    box = frame.locator(".geo-marker-guess").first.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_play_a_round_in_the_browser(server, browser, test_places, leaderboard_file):  # noqa: F811
    blocked: list[str] = []
    page = offline_page(browser, blocked)
    bad: list[str] = []
    # Streamlit's frontend probes <page>/_stcore/... for a base path when a page URL is opened directly
    page.on("response", lambda r: bad.append(f"{r.status} {r.url}")
            if r.status >= 400 and "/play/_stcore/" not in r.url else None)
    page.goto(server + "/play?seed=e2e-browser&region=world&rounds=1")
    page.get_by_text("Shared game: seed").wait_for()
    page.get_by_role("button", name="Start game").click()
    page.locator("img[alt^='Street-level photo']").first.wait_for()
    page.wait_for_selector(IDLE)
    frame = page.frame_locator(MAP)
    frame.locator(".leaflet-container").wait_for()

    # nothing gives the place away before the guess
    html, text = all_html(page), page.locator("body").inner_text()
    for name in set(test_places["location_id"]) | {os.path.basename(p) for p in test_places["image"]}:
        assert name not in html
    for v in set(test_places["lat"]) | set(test_places["lon"]):
        assert v not in html  # the manifest's own 6-decimal strings
    named = [c for c in set(test_places["country"]) if re.search(rf"\b{re.escape(c)}\b", text)]
    assert not named, f"test-set countries named on the page before the guess: {named}"
    srcs = page.locator("img[alt^='Street-level photo']").evaluate_all("els => els.map(e => e.src)")
    assert srcs and all("/media/" in s and s.endswith(".jpg") for s in srcs)
    for src in srcs:  # the served photo carries no EXIF (no GPS, no camera, no time) and no file name
        body = page.request.get(src).body()
        assert body[:2] == b"\xff\xd8" and not Image.open(io.BytesIO(body)).getexif() and b"Exif" not in body
    assert page.get_by_role("button", name="Guess", exact=True).is_disabled()

    # first click: the pin is there at once, where the click was
    box = frame.locator(".leaflet-container").bounding_box()
    first = (box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.45)
    page.mouse.click(*first)
    frame.locator(".geo-marker-guess").wait_for()
    page.wait_for_selector(IDLE)
    assert abs(pin_centre(frame)[0] - first[0]) < 6 and abs(pin_centre(frame)[1] - first[1]) < 6
    page.get_by_text("Your pin:").wait_for()
    shown = page.get_by_text("Your pin:").inner_text()
    # second click: the pin moves there (not to the previous click)
    second = (box["x"] + box["width"] * 0.30, box["y"] + box["height"] * 0.60)
    page.mouse.click(*second)
    page.wait_for_function(f"() => !document.body.innerText.includes({shown!r})")
    page.wait_for_selector(IDLE)
    assert frame.locator(".geo-marker-guess").count() == 1
    assert abs(pin_centre(frame)[0] - second[0]) < 6 and abs(pin_centre(frame)[1] - second[1]) < 6
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "e2e_play_guess.png"), full_page=True)

    # submit: the reveal has both scores, the three pins and the lines between them
    page.get_by_role("button", name="Guess", exact=True).click()
    page.get_by_text("Model's score").wait_for()
    page.wait_for_selector(IDLE)
    reveal = page.frame_locator(MAP).first
    reveal.locator(".geo-marker-truth").wait_for()
    for kind in ("truth", "guess", "best"):  # the model's pin is its expected-score guess
        assert reveal.locator(f".geo-marker-{kind}").count() == 1, kind
    scores = page.locator("[data-testid='stMetric']").all_inner_texts()
    mine = next(s for s in scores if s.startswith("Your score"))
    model = next(s for s in scores if s.startswith("Model's score"))
    assert 0 <= int(mine.split("\n")[-1].replace(",", "")) <= 5000
    assert 0 <= int(model.split("\n")[-1].replace(",", "")) <= 5000
    assert page.get_by_text("The model's top 3").count() == 1
    said = page.locator("[data-testid='stAlert']").first.inner_text()
    assert "It was near " in said, said  # the place is named, not only the country
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "e2e_play_reveal.png"), full_page=True)

    # end of game and the leaderboard
    page.get_by_role("button", name="See the final result").click()
    page.get_by_text("Your total").wait_for()
    page.wait_for_selector(IDLE)
    summary = page.frame_locator(MAP).first  # every round on one map, pins numbered by round
    summary.locator(".geo-marker-truth").wait_for()
    for kind in ("truth", "guess", "best"):
        assert summary.locator(f".geo-marker-{kind}").all_inner_texts() == ["1"], kind
    for width in (1400, 390):  # the totals were cut off ("18,215 / 25,0...")
        page.set_viewport_size({"width": width, "height": 2400})
        page.wait_for_timeout(500)
        assert not cut_off(page), (width, cut_off(page))
        values = page.locator("[data-testid='stMetricValue']").all_inner_texts()
        assert len(values) == 4 and not any("/" in v for v in values), values
    page.set_viewport_size({"width": 1400, "height": 2400})
    page.get_by_label("Your name for the leaderboard").fill("Chromium")
    page.get_by_role("button", name="Save to the leaderboard").click()
    page.get_by_text("Saved.").wait_for()
    page.wait_for_selector(IDLE)
    page.get_by_role("button", name="Save to the leaderboard").click()
    note = page.locator("[data-testid='stAlertContentInfo']", has_text="already on the leaderboard")
    note.wait_for()  # a neutral note, not a green success
    page.wait_for_selector(IDLE)
    page.get_by_text("Humans vs the model").click()
    page.get_by_text("Saved rounds against shipped model: 1.").wait_for()
    page.locator("[data-testid='stDataFrame']").last.wait_for()
    assert leaderboard_file.is_file()
    top = Leaderboard(leaderboard_file).top()
    assert [e.player for e in top] == ["Chromium"] and top[0].seed == "e2e-browser" and top[0].rounds == 1
    page.screenshot(path=str(ARTIFACTS / "e2e_play_over.png"), full_page=True)

    # a shared link's game, quit: back to a fresh setup (the banner and the link's 20 rounds used to stay)
    page.goto(server + "/play?seed=e2e-shared&region=world&rounds=20")
    page.get_by_text("Shared game: seed").wait_for()
    form = page.locator("[data-testid='stForm']").first
    assert form.get_by_label("Rounds").input_value() == "20"
    page.get_by_role("button", name="Start game").click()
    page.get_by_role("button", name="Quit this game").click()
    page.get_by_role("button", name="Start game").wait_for()
    page.wait_for_selector(IDLE)
    assert page.get_by_text("Shared game").count() == 0 and "seed=" not in page.url
    assert page.locator("[data-testid='stForm']").first.get_by_label("Rounds").input_value() == "5"
    assert page.get_by_text("Show what the model looked at").is_visible() and not cut_off(page)
    assert not blocked, blocked[:5]
    assert not bad, bad[:5]
    page.close()


def cut_off(page) -> list[str]:
    """Texts in the page cut off with an ellipsis, and metric values wider than their box."""
    return page.evaluate("""() => [...document.querySelectorAll('[data-testid=stMain] *')]
        .filter(e => e.children.length === 0 && e.innerText && e.scrollWidth > e.clientWidth + 1 &&
                (getComputedStyle(e).textOverflow === 'ellipsis' || e.closest('[data-testid=stMetricValue]')))
        .map(e => e.innerText.slice(0, 80))""")


def test_a_click_on_a_partly_hidden_map_lands_where_it_was_aimed(server, browser, leaderboard_file):  # noqa: F811
    """Leaflet's keyboard handler used to focus the map on mousedown; the focused iframe then scrolled into
    view before mouseup, so the first click on a map partly below the fold landed ~70 px off target."""
    page = offline_page(browser, [])
    page.goto(server + "/play?seed=e2e-fold&region=world&rounds=1")
    page.get_by_role("button", name="Start game").click()
    page.locator("img[alt^='Street-level photo']").first.wait_for()
    page.wait_for_selector(IDLE)
    frame = page.frame_locator(MAP)
    frame.locator(".leaflet-container").wait_for()
    scroll = "() => document.querySelector('[data-testid=stMain]').scrollTop"
    box = page.locator(MAP).first.bounding_box()
    page.set_viewport_size({"width": 1400, "height": int(box["y"] + box["height"] * 0.6)})  # its bottom hidden
    page.wait_for_timeout(500)
    box = frame.locator(".leaflet-container").bounding_box()
    before = page.evaluate(scroll)
    aim = (box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.3)
    page.mouse.click(*aim)
    frame.locator(".geo-marker-guess").wait_for()
    page.wait_for_selector(IDLE)
    assert page.evaluate(scroll) == before  # the page did not jump under the cursor
    x, y = pin_centre(frame)
    assert abs(x - aim[0]) < 6 and abs(y - aim[1]) < 6
    page.close()
