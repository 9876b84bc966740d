"""Helpers of the Explore AppTests: open the page with some session state and a tab."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.app.apphelpers import MAIN


def open_explore(tab: str | None = None, timeout: float = 180, **state) -> AppTest:
    """The Explore page run once (no exception), with ``state`` in the session and ``tab`` open."""
    at = AppTest.from_file(MAIN, default_timeout=timeout)
    for k, v in state.items():
        at.session_state[k] = v
    if tab:
        at.session_state["explore_tab"] = tab
    at.switch_page("app_pages/explore.py").run()
    assert not at.exception, at.exception
    return at
