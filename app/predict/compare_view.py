"""Predict with a second model: the picker, what a model that is not on this machine needs (name, size,
licence, the exact ``hf download`` command, and a download button that runs only when clicked, with a
progress bar), loading it, and its answer on the same views (kept per input and model)."""
from __future__ import annotations

from typing import Any

import streamlit as st

from app.predict import models as pm
from app.predict.answering import Answer, answer
from app.predict.explain_view import TOP_K

ON, PICK = "cmp_on", "cmp_model"


def _missing(c: pm.Choice) -> None:
    """What ``c`` needs, and the button that fetches it (nothing is downloaded unless it is clicked)."""
    st.warning(f"**{c.label}** cannot run on this machine yet: its weights are not here, and nothing is "
               "downloaded without your say-so.", icon=":material/cloud_off:")
    for w in c.missing:
        st.markdown(f"- **{w.what}**: {'Hugging Face repository `' + w.repo + '`' if w.repo else 'a Python package'}, "
                    f"{w.size}; licence: {w.licence}")
        st.code(w.command, language="bash")
    if not c.missing and c.reason:
        st.caption(c.reason)
    repos = [w for w in c.missing if w.repo]
    if c.licence:
        st.caption(f":material/license: Licence: {c.licence}")
    if not repos:
        if c.missing:
            st.caption("A Python package cannot be installed from the page: run the command, then restart the app.")
        return
    size = ", ".join(w.size for w in repos)
    if st.button(f"Download now ({size})", key=f"cmp_download_{c.model}", icon=":material/download:",
                 help="Fetches exactly what the command above fetches, into the Hugging Face cache of this machine."):
        from model import predictors as mp

        bar = st.progress(0.0, text="Starting the download…")

        def progress(done: int, total: int) -> None:
            frac = min(1.0, done / total) if total else 0.0
            bar.progress(frac, text=f"Downloading {c.label}: {done / 2**20:,.0f} of "
                                    f"{total / 2**20:,.0f} MB" if total else f"Downloading {c.label}…")

        try:
            mp.download(c.model, progress=progress)
        except OSError as e:
            bar.empty()
            st.error(f"The download failed: {e}")
            return
        bar.progress(1.0, text="Downloaded.")
        st.success(f"{c.label} is now on this machine.", icon=":material/check_circle:")
        st.button("Use it", key=f"cmp_use_{c.model}", icon=":material/refresh:")


def chosen(app_model: str | None) -> pm.Choice | None:
    """The compare toggle and picker: the chosen model when it can run here (None: off, or it cannot: then
    what it needs is shown)."""
    if not st.toggle("Compare with a second model", key=ON,
                     help="The same photo through another model, side by side: the project's other checkpoints and "
                          "the published geolocators (GeoCLIP, StreetCLIP / CLIP zero-shot)."):
        return None
    opts = pm.choices(app_model)
    if not opts:
        st.info("No other model is known on this machine: train one (`python -m model.train`) or install a "
                "published predictor (docs/predictors.md).")
        return None
    by = {c.model: c for c in opts}
    pick = st.selectbox("Second model", list(by), format_func=lambda k: pm.option_label(by[k]), key=PICK)
    c = by.get(pick)
    if c is None:
        return None
    if not c.available:
        _missing(c)
        return None
    return c


def load(c: pm.Choice) -> Any | None:
    """The chosen model, loaded once per process (``app.common.resources.get_predictor``); None with a message."""
    from app.common.resources import get_predictor

    try:
        with st.spinner(f"Loading {c.label}…"):
            return get_predictor(c.model)
    except Exception as e:  # noqa: BLE001 - WeightsMissing and loader errors: words, not a traceback
        st.error(f"{c.label} could not be loaded: {type(e).__name__}: {e}")
        return None


def second_answer(p: Any, c: pm.Choice, inp: Any) -> Answer | None:
    """The second model's answer on the page's views (once per input and model; a failure is a message)."""
    key = (inp.key, c.model)
    got = st.session_state.get("_cmp")
    if got and got[0] == key:
        return got[1]
    try:
        with st.spinner(f"{c.label} is answering…"):
            a = answer(p, inp.views.images, TOP_K)
    except Exception as e:  # noqa: BLE001
        st.error(f"{c.label} failed on this photo: {type(e).__name__}: {e}")
        return None
    st.session_state["_cmp"] = (key, a)
    return a
