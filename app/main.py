"""Entry point: ``streamlit run app/main.py`` (multipage app: Predict, Play, Explore, About)."""
from pathlib import Path

import streamlit as st  # `model` and `app` import from the installed project (pip install -e ., make run)

st.set_page_config(page_title="Where is this? Image geolocation", page_icon=str(Path(__file__).parent / "static" / "favicon.png"), layout="wide")

PAGES = [
    st.Page("app_pages/predict.py", title="Predict", icon=":material/location_on:", url_path="predict"),
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
