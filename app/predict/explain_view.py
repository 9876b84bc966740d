"""The Predict page's explanations: the Grad-CAM overlay with its colour scale, and the shortcut test (hide
part of the photo, predict again). The shortcut test's pictures are kept small, in the session's store."""
from __future__ import annotations

from typing import Any

import streamlit as st

from app.common import formatting as fm
from app.common import photos
from app.common import results as rs
from app.predict import logic as pl
from app.predict.answering import answer
from app.predict.session import session_store
from model import explain as ex

TOP_K = 10  # guesses computed once per input; the slider only shows fewer


def colour_scale() -> None:
    """The overlay's colour scale: what blue and red mean (drawn from the overlay's own colour map)."""
    st.markdown(
        '<div role="img" aria-label="Grad-CAM colour scale: dark blue, no contribution, to dark red, the strongest" '
        'style="font-size:0.8rem;margin:0.2rem 0 0.6rem 0">'
        '<div style="display:flex;justify-content:space-between"><span>0: no contribution</span>'
        '<span>Grad-CAM colour scale (relative, per photo)</span><span>1: strongest</span></div>'
        f'<div style="height:12px;border-radius:3px;background:{ex.colour_scale_css()}"></div></div>',
        unsafe_allow_html=True)


INPUT = "page_input"  # store: the page's input (its views), for the fragment to find by key


def gradcam_section(p: Any, inp: Any, pred: Any, top_n: int) -> None:
    """Grad-CAM overlay and shortcut test of the page's input ``inp`` and its answer ``pred``."""
    session_store().put(INPUT, inp.key, inp)
    _gradcam_fragment(p, inp.key, top_n)


@st.fragment
def _gradcam_fragment(p: Any, key: str, top_n: int) -> None:
    """The section as a fragment: its widgets rerun only this part. Streamlit keeps a fragment's arguments
    with the session (until it is dropped, minutes after its tab closed), so they are small: the input is
    looked up in the session's store by ``key``, the answer in session state."""
    inp = session_store().get(INPUT, key)
    got = st.session_state.get("_pred")
    if inp is None or not got or got[0] != key:
        st.info("This photo is no longer held by the server: choose it again to explain the answer.")
        return
    _gradcam(p, inp, got[1].pred, top_n)


def _gradcam(p: Any, inp: Any, pred: Any, top_n: int) -> None:
    st.subheader("What did the model look at?")
    c1, c2, c3 = st.columns([1, 1, 2], vertical_alignment="bottom")
    on = c1.toggle("Grad-CAM overlay", key="cam_on")
    opacity = c2.slider("Opacity", 0.0, 1.0, 0.5, 0.05, key="cam_opacity", disabled=not on)
    opts = rs.target_options(pred, top_n)
    pick = c3.selectbox("Explain", range(len(opts)), format_func=lambda i: opts[i][0],
                        key=f"cam_target_{inp.key}_{top_n}", disabled=not on)
    views = inp.views.images
    cols = st.columns(max(2, min(4, len(views))))
    if not on:
        for i, img in enumerate(views):
            cols[i % len(cols)].image(photos.thumbnail(img), caption=inp.views.names[i], width="stretch")
    else:
        label, target = opts[int(pick)]
        ck = (inp.key, target)
        cam = st.session_state.get("_cam")
        if not cam or cam[0] != ck:
            with st.spinner("Computing Grad-CAM…"):
                cam = (ck, ex.explain(p, views, target))
            st.session_state["_cam"] = cam
        exp = cam[1]
        for i, img in enumerate(views):
            cols[i % len(cols)].image(ex.overlay(img, exp.cams[i], exp.boxes[i], opacity),
                                      caption=f"{inp.views.names[i]}: {label}", width="stretch")
        colour_scale()
        r = ex.shortcut_readout(sum(exp.cams) / len(exp.cams))
        m1, m2, m3 = st.columns(3)
        m1.metric("Heat in the bottom band", f"{r.bottom_share:.0%}",
                  help=f"The bottom {ex.BOTTOM_BAND:.0%} of what the model saw ({r.bottom_area:.0%} of its area): "
                       "capture car, 'Google' watermark")
        m2.metric("Heat at the edges", f"{r.edge_share:.0%}",
                  help=f"A {ex.EDGE_BAND:.0%} frame at the top and sides ({r.edge_area:.0%} of the area): game UI")
        m3.metric("Grad-CAM time", f"{exp.seconds:.2f} s")
        for msg in r.flags():
            st.warning(msg)
        st.caption("Grad-CAM shows which parts of the picture raised the score of the chosen target; it does not "
                   "say why, and it is coarse (one value per block of about 32 pixels). Its colours are relative to "
                   "this photo's strongest part (red), not a probability. Greyed parts were not seen by the model "
                   "(it looks at the centre square above its bottom crop).")
    shortcut_test(p, inp, pred)


def shortcut_test(p: Any, inp: Any, pred: Any) -> None:
    st.markdown("**Shortcut test**: hide part of the photo and predict again to see how the prediction moves.")
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    what = c1.radio("Hide", list(pl.HIDE_CHOICES), horizontal=True, key="hide_what")
    store = session_store()
    if c2.button("Hide and predict again", key="hide_go", width="stretch"):
        images, crop = pl.hidden_variant(inp.views.images, what, ex.default_crop(p))
        got = answer(p, images, TOP_K, crop)
        seen = [photos.thumbnail(img.crop(ex.view_box(img.width, img.height, crop)), 400) for img in images]
        del images  # full-size copies: gone once the model has seen them
        store.put("hidden_views", inp.key, seen)
        st.session_state["_hidden"] = {"key": inp.key, "what": what, "cmp": pl.compare(pred, got.pred, inp.truth),
                                       "ood": got.ood}
    h = st.session_state.get("_hidden")
    seen = store.get("hidden_views", inp.key) if h else None
    if not h or h["key"] != inp.key:
        st.caption(pl.SHORTCUT_LIMITS)
        return
    c, ood = h["cmp"], h["ood"]
    if seen:
        cols = st.columns(max(2, min(4, len(seen))))
        for i, img in enumerate(seen):
            cols[i % len(cols)].image(img, width="stretch",
                                      caption=f"What the model saw of {inp.views.names[i]}: {h['what'].lower()} hidden")
    m1, m2, m3 = st.columns(3)
    m1.metric("The guess moved", fm.fmt_km(c["moved_km"]))
    m2.metric(f"P({c['country_before']})", f"{c['conf_after']:.0%}",
              f"{(c['conf_after'] - c['conf_before']) * 100:+.0f} pts (was {c['conf_before']:.0%})", delta_color="off",
              help="Probability of the country predicted before hiding, before and after: the same country, so the "
                   "two numbers compare")
    m3.metric("Top answer now", c["country_after"],
              f"changed, {c['top_after']:.0%}" if c["country_changed"] else "unchanged", delta_color="off",
              delta_arrow="off")
    if "km_after" in c:
        m1.metric("Distance to the truth", fm.fmt_km(c["km_after"]), f"was {fm.fmt_km(c['km_before'])}",
                  delta_color="off")
        m2.metric("Score", f"{c['score_after']:,}", f"{c['score_after'] - c['score_before']:+,}", delta_color="off")
    unusual = ood.unusual if ood is not None else None
    (st.warning if unusual else st.markdown)(pl.shortcut_verdict(c, unusual))
    if ood is not None:
        st.caption(f"Out-of-distribution check of the hidden version: {pl.ood_words(ood)}. " + pl.SHORTCUT_LIMITS)
    else:
        st.caption(pl.SHORTCUT_LIMITS)
