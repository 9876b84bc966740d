"""Predict: where was this photo taken? Map of the guesses, top-N table, Grad-CAM and a shortcut test."""
from __future__ import annotations

import time

import streamlit as st

from app.common import formatting as fm
from app.common import photos
from app.common import result_map as rmap
from app.common import results as rs
from app.common.widgets import predictor_or_stop, show_map
from app.predict import logic as pl
from app.predict.inputs import PageInput, choose_input, prepared_input
from model import explain as ex
from model.locks import model_lock
from model.ood import capture_features, predictor_check

TOP_K = 10  # guesses computed once per input; the slider only shows fewer

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


def run_prediction(p, inp: PageInput) -> dict:
    """Predict once per distinct input; reruns (sliders, toggles) reuse the stored result."""
    got = st.session_state.get("_pred")
    if got and got["key"] == inp.key:
        return got
    t0 = time.perf_counter()
    with model_lock(p), capture_features(p) as feats:
        pred = p.predict(inp.views.images, top_k=TOP_K)
    got = {"key": inp.key, "pred": pred, "secs": time.perf_counter() - t0, "ood": predictor_check(p, feats)}
    st.session_state["_pred"] = got
    return got


def side_panel(pred, truth: rs.Truth | None, unusual: bool) -> None:
    s = rs.summary(pred, truth)
    top = pred.top[0]
    st.markdown(f"#### {s['country'] or s['country_code']}"
                + (" :orange-badge[:material/warning: not a street-level photo?]" if unusual else "")
                + f"\nPredicted place: **{fm.place_label(top.name, top.admin1, top.country)}**")
    c1, c2 = st.columns(2)
    c1.metric("Country confidence", f"{s['country_prob']:.0%}", help="Probability of the most likely country "
              "(sum over its cells)")
    c2.metric("Expected error", fm.fmt_km(s["expected_km"]),
              help="Mean distance from the predicted point to the truth if the model's probabilities are right")
    if truth is not None:
        c1.metric("Distance (M)", fm.fmt_km(s["km"]),
                  help="Great-circle distance from the model's predicted place (M on the map: the likeliest "
                       "cell of the likeliest country) to the actual location")
        c2.metric("Score (M)", f"{s['score']:,}", help="GeoGuessr points, world map: 5000·exp(−d / 1492.7 km)")
        c1.metric("Distance (E)", fm.fmt_km(s["best_km"]),
                  help="Distance from the expected-score guess (E on the map: the point that maximises the expected "
                       "GeoGuessr score under the model's probabilities)")
        c2.metric("Score (E)", f"{s['best_score']:,}")


def guess_table(rows: list[dict]) -> None:
    """The top-N guesses, full width under the map: every column visible without scrolling."""
    st.dataframe(rs.guess_table(rows), hide_index=True, key="top_table", width="stretch",
                 column_config={"#": st.column_config.NumberColumn(width=40),
                                "Place": st.column_config.TextColumn(width="large"),
                                "Probability": st.column_config.ProgressColumn(format="%.1f %%", min_value=0,
                                                                               max_value=100, width="medium"),
                                "Distance (km)": st.column_config.NumberColumn(format="localized", width="small"),
                                "Score": st.column_config.NumberColumn(format="localized", width="small",
                                                                       help="GeoGuessr points, world map")})


@st.fragment
def gradcam_section(p, inp: PageInput, pred, top_n: int) -> None:
    """Grad-CAM overlay and shortcut test (a fragment: its widgets rerun only this part)."""
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
                   "say why, and it is coarse (one value per block of about 32 pixels). Greyed parts were not seen "
                   "by the model (it looks at the centre square above its bottom crop).")
    shortcut_test(p, inp, pred)


def shortcut_test(p, inp: PageInput, pred) -> None:
    st.markdown("**Shortcut test**: hide part of the photo and predict again to see how the prediction moves.")
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    what = c1.radio("Hide", list(pl.HIDE_CHOICES), horizontal=True, key="hide_what")
    if c2.button("Hide and predict again", key="hide_go", width="stretch"):
        images, crop = pl.hidden_variant(inp.views.images, what, ex.default_crop(p))
        with model_lock(p), capture_features(p) as feats:
            after = p.predict(images, top_k=TOP_K, crop=crop)
        st.session_state["_hidden"] = {"key": inp.key, "what": what, "pred": after, "images": images, "crop": crop,
                                       "cmp": pl.compare(pred, after, inp.truth), "ood": predictor_check(p, feats)}
    h = st.session_state.get("_hidden")
    if not h or h["key"] != inp.key:
        st.caption(pl.SHORTCUT_LIMITS)
        return
    c, ood = h["cmp"], h["ood"]
    cols = st.columns(max(2, min(4, len(h["images"]))))
    for i, img in enumerate(h["images"]):
        box = ex.view_box(img.width, img.height, h["crop"])
        cols[i % len(cols)].image(photos.thumbnail(img.crop(box), 400), width="stretch",
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
pred, ood = res["pred"], res["ood"]
said = pl.ood_message(ood, inp.views.names)
if said:
    (st.warning if said[0] == "warning" else st.info)(said[1], icon=":material/report:")
top_n = st.slider("Top-N guesses", 1, TOP_K, 5, key="top_n")
rows = rs.guess_rows(pred, inp.truth, top_n)
col_map, col_side = st.columns([3, 2])
with col_map:
    m = rmap.prediction_map(pred, inp.truth, top_n, cells=predictor.cells.table)
    show_map(m, key="predict_map", height=500,
             legend=["truth", "model", "best", "candidate"] if inp.truth else ["model", "best", "candidate"])
    st.caption(f"Predicted from {len(inp.views.images)} view(s) of the {inp.label} in {res['secs']:.2f} s"
               + (f"; actual location from the {inp.truth.source}." if inp.truth else "; actual location unknown.")
               + " Layers (top right): country probabilities, cell probabilities, OpenStreetMap tiles (online)."
               + ("" if ood is not None else " No out-of-distribution check: this checkpoint has no matching "
                  "calibration (`python -m model.ood` makes one)."))
with col_side:
    side_panel(pred, inp.truth, bool(ood is not None and ood.unusual))
guess_table(rows)
gradcam_section(predictor, inp, pred, top_n)
