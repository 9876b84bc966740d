"""Street View pulls in the app, against the local fake Street View Static API on 127.0.0.1
(metadata and image endpoints, error statuses): never the real service."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.apphelpers import MAIN, TIMEOUT, metric
from tests.model.collect.fakes.streetview_server import FakeStreetView

KEY = "test-key-5f3c9a"
PLACE = "45.8150, 15.9819"


@pytest.fixture
def fake(monkeypatch):
    with FakeStreetView(key=KEY, coverage=1.0, grid_deg=0.0003) as f:  # a panorama every ~33 m
        monkeypatch.setenv("GSV_BASE_URL", f.base_url)
        for v in ("GOOGLE_MAPS_API_KEY", "GSV_API_KEY", "GOOGLE_API_KEY"):
            monkeypatch.delenv(v, raising=False)
        yield f


def pull(place: str = PLACE, key: str | None = KEY, heading: int = 90) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.run()
    at.segmented_control(key="source").set_value("Street View").run()
    at.text_input(key="sv_place").set_value(place)
    at.slider(key="sv_heading").set_value(heading)
    if key is not None:
        at.text_input(key="sv_key").set_value(key)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def all_text(at: AppTest) -> str:
    parts = [e.value for e in at.error] + [c.value for c in at.caption] + [m.value for m in at.markdown]
    parts += [w.value for w in at.warning] + [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(map(str, parts))


def test_pull_by_coordinates_predicts_with_the_panorama_as_truth(model_env, fake):
    at = pull()
    assert not at.error, [e.value for e in at.error]
    assert fake.count("metadata") == 1 and fake.count("image") == 1
    img = next(r for r in fake.requests if r.endpoint == "image")
    assert img.params["heading"] == "90" and img.params["fov"] == "90" and img.params["size"] == "640x640"
    text = all_text(at)
    assert "Street View panorama" in text and "© Google" in text
    assert "actual location from the Street View panorama location" in text
    assert metric(at, "Distance (M)")
    assert KEY not in text  # the key is never shown


def test_pull_by_maps_link_uses_its_camera(model_env, fake):
    at = pull("https://www.google.com/maps/@45.8150,15.9819,3a,60y,200h,100t/data=!3m4", heading=0)
    assert not at.error
    img = next(r for r in fake.requests if r.endpoint == "image")
    assert (img.params["heading"], img.params["pitch"], img.params["fov"]) == ("200", "10", "60")


def test_key_from_environment(model_env, fake, monkeypatch):
    monkeypatch.setenv("GOOGLE_MAPS_API_KEY", KEY)
    at = pull(key=None)
    assert not at.error and fake.count("image") == 1


@pytest.mark.parametrize("fault,endpoint,expected", [
    ("ZERO_RESULTS", "metadata", "No Street View coverage"),
    ("OVER_QUERY_LIMIT", "metadata", "quota"),
    ("429", "image", "quota"),
    ("500", "metadata", "try again later"),
    ("drop", "metadata", "Could not reach Street View"),
])
def test_errors_get_clear_messages(model_env, fake, fault, endpoint, expected):
    fake.fail_next(fault, endpoint=endpoint)
    at = pull()
    errs = [e.value for e in at.error]
    assert len(errs) == 1 and expected in errs[0], errs
    assert KEY not in all_text(at)
    assert not at.metric  # nothing predicted, the page keeps working
    fake.reset_log()
    at.button[0].click().run()  # the same request again now succeeds
    assert not at.error and metric(at, "Country confidence")


def test_wrong_key_is_refused_without_echo(model_env, fake):
    at = pull(key="wrong-key-123")
    errs = [e.value for e in at.error]
    assert len(errs) == 1 and "key is wrong" in errs[0]
    assert "wrong-key-123" not in all_text(at)


def test_no_coverage_anywhere(model_env, fake):
    fake.settings.coverage = 0.0
    at = pull()
    assert "No Street View coverage" in at.error[0].value


def test_a_failed_pull_clears_the_previous_image(model_env, fake):
    at = pull()
    assert metric(at, "Distance (M)")
    fake.fail_next("ZERO_RESULTS", endpoint="metadata")
    at.button[0].click().run()
    assert not at.exception and "No Street View coverage" in at.error[0].value
    assert not at.metric and "Street View panorama" not in all_text(at)  # no stale picture or prediction


@pytest.mark.parametrize("place", ["Zagreb", "45,8150, 15,9819"])
def test_text_that_is_neither_coordinates_nor_a_link_says_what_a_place_can_be(model_env, fake, place):
    at = pull(place)
    errs = [e.value for e in at.error]
    assert len(errs) == 1 and "is not 'lat, lon'" in errs[0] and "Google Maps / Street View link" in errs[0], errs
    assert "host" not in errs[0] and fake.count("metadata") == 0
