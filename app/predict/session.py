"""The current Streamlit session's :class:`app.predict.store.SessionStore`, and the janitor that drops a
session's store when its browser tab is gone (the Streamlit side of :mod:`app.predict.store`)."""
from __future__ import annotations

import uuid

import streamlit as st

from app.predict.store import STORES, SessionStore, start_janitor

TOKEN = "_predict_store"  # session_state: this session's part of the store (fresh state, fresh store)


def _session_id() -> str:
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None else "no-session"


def _runtime():
    from streamlit import runtime

    return runtime.get_instance() if runtime.exists() else None


def _expired(store_id: str) -> None:
    """A tab gone for :data:`app.predict.store.EXPIRED_AFTER_S`: close its Streamlit session, which frees its
    session state, uploaded files and media. ``Runtime.clear_user_info_for_session`` is the thread-safe way to
    do it: it marks the session as not to be resumed and closes it on the event loop if it is not connected."""
    rt = _runtime()
    if rt is None:
        return
    sid = store_id.split("/", 1)[0]
    if not rt.is_active_session(sid):
        rt.clear_user_info_for_session(sid)


def _ensure_janitor() -> None:
    rt = _runtime()
    if rt is None:  # AppTest and bare runs: no server, no disconnects
        return
    start_janitor(lambda store_id: rt.is_active_session(store_id.split("/", 1)[0]), _expired)


def session_store() -> SessionStore:
    """This session's store (made on first use; the janitor started once per server process)."""
    token = st.session_state.get(TOKEN)
    if token is None:
        token = st.session_state[TOKEN] = uuid.uuid4().hex[:12]
    _ensure_janitor()
    return STORES.of(f"{_session_id()}/{token}")
