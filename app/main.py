"""Entry point: ``streamlit run app/main.py`` (multipage app: Predict, Play, Explore, About)."""
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)  # `streamlit run` puts app/ on sys.path, not the root
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

st.set_page_config(page_title="Where is this? Image geolocation", page_icon=str(Path(__file__).parent / "static" / "favicon.png"), layout="wide")

PAGES = [
    st.Page("app_pages/predict.py", title="Predict", icon=":material/location_on:", default=True, url_path="predict"),
    st.Page("app_pages/play.py", title="Play", icon=":material/sports_esports:", url_path="play"),
    st.Page("app_pages/explore.py", title="Explore", icon=":material/travel_explore:", url_path="explore"),
    st.Page("app_pages/about.py", title="About", icon=":material/info:", url_path="about"),
]
st.navigation(PAGES).run()
