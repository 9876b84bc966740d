"""Entry point: ``streamlit run app/main.py`` (multipage app: Predict, Your photos, Play, Explore, About).

Cold start (issue 22.7): the first run after the server starts loads the libraries and the shared model,
with its Grad-CAM warm-up, in a background thread once per process (``_warm_up``) and shows at once a
progress bar of that load ("Starting up: ...") until it is done (at most :data:`WAIT_S` seconds), then
the page, which finds everything warm. A visitor arriving meanwhile sees the same bar. ``GEOLOC_WARM_UP=0``
turns this off (AppTest runs have it off unless ``GEOLOC_WARM_UP=1``: tests load or fake the model).
"""
import os
import threading
import time
from pathlib import Path

import streamlit as st  # `model` and `app` import from the installed project (pip install -e ., make run)

st.set_page_config(page_title="Where is this? Image geolocation", page_icon=str(Path(__file__).parent / "static" / "favicon.png"), layout="wide")

WARM_ENV = "GEOLOC_WARM_UP"
WAIT_S = 60.0  # the longest the first page waits for the warm-up before drawing itself anyway


class _Warm:
    """Progress of the warm-up: ``stage`` (words), ``fraction`` (0..1), ``done`` (set when finished or failed)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.stage, self.fraction = "starting", 0.0

    def run(self) -> None:
        try:
            self.stage, self.fraction = "importing the maps and tables", 0.05
            # Never a Streamlit component module here (streamlit_folium, app.common.widgets): declare_component
            # registers a component only inside a script run, so imported first by this thread the map would
            # answer 404 for the whole life of the server.
            import folium  # noqa: F401

            import app.maps.builders  # noqa: F401
            self.stage, self.fraction = "importing PyTorch", 0.25
            import torch  # noqa: F401

            from app.common.resources import get_predictor
            self.stage, self.fraction = "loading the model and warming up Grad-CAM", 0.5
            get_predictor()
            self.stage, self.fraction = "ready", 1.0
        except Exception:  # noqa: BLE001 - the page that asks for the model shows the loader's message
            pass
        finally:
            self.done.set()


@st.cache_resource(show_spinner=False)
def _warm_up() -> _Warm:
    """Start the warm-up once per server process (a daemon thread); returns its progress."""
    w = _Warm()
    threading.Thread(target=w.run, name="geoloc-warm-up", daemon=True).start()
    return w


def _warm_up_wanted() -> bool:
    flag = os.environ.get(WARM_ENV, "").strip()
    if flag:
        return flag != "0"
    from streamlit.runtime.state.common import TESTING_KEY

    return TESTING_KEY not in st.session_state  # AppTest: tests load (or fake) the model themselves


def _wait_for_warm_up() -> None:
    """Show the warm-up's progress until it is done (or :data:`WAIT_S` has passed), then remove the bar."""
    w = _warm_up()
    if w.done.is_set():
        return
    bar = st.progress(w.fraction, text="Starting up: the first page after the server starts takes a few seconds…")
    deadline = time.monotonic() + WAIT_S
    while not w.done.wait(0.25) and time.monotonic() < deadline:
        bar.progress(w.fraction, text=f"Starting up: {w.stage}… (only the first page after the server starts "
                                      "waits for this)")
    bar.empty()


if _warm_up_wanted():
    _wait_for_warm_up()

PAGES = [
    st.Page("app_pages/predict.py", title="Predict", icon=":material/location_on:", url_path="predict"),
    st.Page("app_pages/photos.py", title="Your photos", icon=":material/photo_library:", url_path="photos"),
    st.Page("app_pages/play.py", title="Play", icon=":material/sports_esports:", url_path="play"),
    st.Page("app_pages/explore.py", title="Explore", icon=":material/travel_explore:", url_path="explore"),
    st.Page("app_pages/about.py", title="About", icon=":material/info:", url_path="about"),
]


def _front_door() -> None:
    """The root URL opens Predict at its own address (/predict), keeping any query parameters.

    Streamlit serves its default page only at "/", so a default Predict page would answer "Page not
    found" at /predict; this hidden default forwards instead, and every page has its own URL."""
    st.switch_page(PAGES[0], query_params=st.query_params.to_dict())


ROOT_PAGE = st.Page(_front_door, title="Where is this?", url_path="start", default=True, visibility="hidden")
st.navigation([ROOT_PAGE, *PAGES]).run()
