"""Predict: where was this photo taken? Map of the guesses, top-N table, the look-alike training places behind
the answer, a second model side by side, Grad-CAM and a shortcut test (the parts: ``app/predict``)."""
from __future__ import annotations

import streamlit as st

from app.common.resources import model_path
from app.common.widgets import predictor_or_stop
from app.predict import compare_view as cv
from app.predict import logic as pl
from app.predict import lookalikes as la
from app.predict import models as pm
from app.predict import result_view as rv
from app.predict import why_view as why
from app.predict.answering import Answer, answer
from app.predict.explain_view import TOP_K, gradcam_section
from app.predict.inputs import PageInput, choose_input, prepared_input
from app.predict.result_view import Shown

st.title(":material/location_on: Where was this photo taken?")
predictor = predictor_or_stop()


def _test_set_words() -> tuple[str, str | None]:
    """'one of the 195 held-out test places with coordinates (of the 241 ...)' and why the pages count
    differently (``app.common.heldout``, the same numbers on every page)."""
    from app.common.heldout import explain, heldout_for, page_line

    try:
        h = heldout_for(None, predictor.train_groups)
    except Exception:  # noqa: BLE001 - no data on this machine: the test-set tab says so itself
        return "a test-set place", None
    return f"one of the {page_line(h, 'predict')}", explain(h)


_words, _why = _test_set_words()
st.caption(f"Upload a street-level photo, take one, pick {_words}, or pull one from Street View. "
           "Photos are processed on this machine and never leave it.", help=_why)


def run_prediction(p, inp: PageInput) -> Answer:
    """Predict once per distinct input; reruns (sliders, toggles) reuse the stored answer."""
    got = st.session_state.get("_pred")
    if got and got[0] == inp.key:
        return got[1]
    ans = answer(p, inp.views.images, TOP_K)
    st.session_state["_pred"] = (inp.key, ans)
    return ans


inp = choose_input()
if inp is None:
    st.info("Choose a photo above to see where the model thinks it was taken.")
    st.stop()
for msg in inp.views.errors:
    st.error(msg)
for msg in inp.views.notes:
    st.info(msg, icon=":material/info:")
if not inp.views.images:
    st.stop()
inp = prepared_input(inp, predictor.input_size)
if inp is None:
    st.stop()
if inp.from_exif:
    st.warning(f"This photo carries GPS coordinates in its EXIF data ({inp.truth.lat:.5f}, {inp.truth.lon:.5f}): "
               "the file itself gives its location away. They are used as the actual location below; strip EXIF "
               "data before sharing photos you do not want located.", icon=":material/satellite_alt:")
try:
    res = run_prediction(predictor, inp)
except Exception as e:  # noqa: BLE001 - a failed prediction is a message; the page keeps working
    st.error(f"The prediction failed: {type(e).__name__}: {e}")
    st.stop()
pred, ood = res.pred, res.ood
said = pl.ood_message(ood, inp.views.names)
if said:
    (st.warning if said[0] == "warning" else st.info)(said[1], icon=":material/report:")
top_n = st.slider("Top-N guesses", 1, TOP_K, 5, key="top_n")
unusual = bool(ood is not None and ood.unusual)
looks = [] if unusual else why.find(predictor, res.place, pred, inp.truth)
own = Shown(pm.name_of(predictor, "the app's model"), pm.licence_of(predictor), predictor, res,
            la.map_points(looks) or None)
second = cv.chosen(model_path())
p2 = cv.load(second) if second is not None else None
a2 = cv.second_answer(p2, second, inp) if p2 is not None else None
if a2 is not None:
    rv.pair(own, Shown(pm.name_of(p2, second.label), pm.licence_of(p2), p2, a2), inp, top_n)
else:
    rv.single(own, inp, top_n)
if not unusual:
    why.section(predictor, res.place, looks, inp.key)
gradcam_section(predictor, inp, pred, top_n)
