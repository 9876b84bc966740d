"""Small Streamlit widgets shared by the pages (maps, legends, model loading with a clear message)."""
from __future__ import annotations

from typing import Sequence

import folium
import streamlit as st
from streamlit_folium import st_folium

from app.maps import builders as maps


def show_map(m: folium.Map, *, key: str, height: int = 480, legend: Sequence[str] = (),
             returned_objects: Sequence[str] = (), on_change=None) -> dict | None:
    """Render a map built by ``app.maps.builders`` (offline Leaflet) with an optional legend of marker kinds.

    ``returned_objects=[]`` (the default) means panning and zooming cause no rerun; pass
    ``["last_clicked"]`` and an ``on_change`` callback for click handling (see the design notes).
    """
    out = st_folium(m, key=key, height=height, use_container_width=True,
                    returned_objects=list(returned_objects), on_change=on_change)
    if legend:
        st.markdown(maps.legend_markdown(legend), unsafe_allow_html=True)
    return out


def predictor_or_stop():
    """The shared predictor, or an error message and ``st.stop()`` if no model can be loaded."""
    from app.common.resources import get_predictor

    try:
        return get_predictor()
    except FileNotFoundError as e:
        st.error(f"No trained model is available: {e}. Train one with `python -m model.train` "
                 "or set GEOLOC_MODEL to a checkpoint.")
    except Exception as e:  # noqa: BLE001 - show the loader's message, keep the app alive
        st.error(f"The model could not be loaded: {type(e).__name__}: {e}")
    st.stop()
