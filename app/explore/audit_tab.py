"""The Shortcut audit tab of the Explore page (Streamlit): the audit of the evaluation's locations
(``model.audit``: Grad-CAM and predictions with the bottom band or the edges hidden), its figures with
their intervals (``app.explore.audit_view``), and running it again.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app.common import uncertainty as un
from app.explore import audit_view as av
from app.explore import data as xd
from app.explore import stats as xs
from app.explore.ui import progress_callback
from model import audit as au

AUDIT_DEFAULT = 50  # locations of a new audit: a 50 % accuracy to within about ±13 points, ~5 min on 2 cores


def _audit_rows(ev: xd.Evaluation) -> pd.DataFrame:
    from model.data.manifest import read_manifest

    man = ev.info.get("manifest") or st.session_state.get("ex_folder_manifest") or None
    df = read_manifest(man)
    return df[df["location_id"].isin(ev.locations["location_id"])]


def audit_tab(predictor: Any, ev: xd.Evaluation) -> None:
    got = au.read_audit(ev.folder)
    if got:
        _audit_report(*got, predictor)
    else:
        st.info("No audit yet for this evaluation. The audit runs Grad-CAM and three predictions per location (as "
                "shown, bottom band hidden, edges hidden) to see whether the model leans on the capture car, the "
                "watermark or the game UI.")
    n_loc = len(ev.locations)
    per_loc = av.seconds_per_location(got[1] if got else None)
    st.markdown("**Run an audit**" if not got else "**Run it again**")
    c1, c2, c3 = st.columns([2, 1, 2], vertical_alignment="bottom")
    size = c1.number_input("Locations to audit (spread over sources)", 1, n_loc, min(AUDIT_DEFAULT, n_loc),
                           key="ex_audit_n")
    seed = c2.number_input("Seed", 0, 10_000, 0, key="ex_audit_seed")
    go = c3.button("Run the audit" if not got else "Run it again", key="ex_audit_go", icon=":material/play_arrow:")
    width = av.interval_width(int(size))
    how = "measured by the last audit here" if got else "as measured on 2 CPU cores"
    st.caption(f"About {_duration(int(size) * per_loc)} for {int(size)} locations ({per_loc:.0f} s per location, "
               f"{how}). With {int(size)} locations a 50 % accuracy is known to within about "
               f"±{50 * width:.0f} points (95 %); the {n_loc} locations of this evaluation take about "
               f"{_duration(n_loc * per_loc)}.")
    with st.expander("Reproduce offline"):
        st.code(f"python -m model.audit --checkpoint {predictor.path} --data {ev.info.get('manifest', 'MANIFEST')} "
                f"--split {ev.info.get('split', 'test')} --out {ev.folder}", language="bash")
    if go:
        bar = st.progress(0.0, text="Auditing…")
        import time

        t0 = time.perf_counter()
        from model.data.manifest import ManifestError

        try:
            audit_rows = _audit_rows(ev)
        except ManifestError as e:
            bar.empty()
            st.error(f"The audit needs the evaluation's manifest: {e}")
            return
        rows = au.run_audit(predictor, audit_rows, int(size), int(seed), progress_callback(bar, "Locations audited"))
        au.write_audit(ev.folder, rows, {"checkpoint": str(predictor.path), "data": ev.info.get("manifest", ""),
                                         "split": ev.info.get("split", ""), "limit": int(size), "seed": int(seed),
                                         "seconds": time.perf_counter() - t0})
        st.rerun()


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _audit_report(rows: pd.DataFrame, doc: dict, predictor: Any) -> None:
    if doc.get("checkpoint") and Path(doc["checkpoint"]).resolve() != Path(predictor.path).resolve():
        st.warning(f"This audit was made with `{Path(doc['checkpoint']).name}`, not the loaded model.")
    g = av.group_figures(rows)
    sample = "every location of the evaluation" if doc.get("limit") is None else \
        f"a sample spread over sources, seed {doc.get('seed', 0)}"
    st.markdown(f"**Shortcut audit of {g['n']} locations** ({sample}).")
    m = st.columns(4)
    for i, part, area_help in ((0, "bottom", "Capture car, 'Google' watermark"),
                               (1, "edge", "Game UI: compass, minimap, score box")):
        e, area = g[f"{part}_share"], g[f"{part}_area"]
        m[i].metric(f"Heat in the {'bottom band' if part == 'bottom' else 'edges'}", un.pct(e.value),
                    f"{un.interval_text(e)} · {area:.0%} of the picture", delta_color="off", delta_arrow="off",
                    help=f"{area_help}. Mean share of the Grad-CAM heat (for the predicted cell) that falls there; "
                         "uniform heat would give its share of the picture.")
    for i, v in ((2, "no_bottom"), (3, "no_edges")):
        ch, acc = g[f"change_{v}"], g[f"acc_{v}"]
        span = un.interval_text(ch, un.points)
        part = "bottom band" if v == "no_bottom" else "edges"
        span = span.replace("95% CI ", "").replace(" pts", "")
        m[i].metric(f"Accuracy, {part} hidden", un.pct(acc.value),
                    f"{un.points(ch.value)}" + (f" (95% CI {span})" if span else ""),
                    delta_color="off", delta_arrow="off",
                    help=f"Country accuracy of the same {ch.n} locations with the {part} hidden, against "
                         f"{un.pct(g['acc_shown'].value)} as shown. Below: the change in points and its 95 % interval "
                         "(paired bootstrap over locations).")
    found = av.findings(g)
    for src, sg in rows.groupby("source", sort=True):
        f = av.group_figures(sg)
        found += [x for x in av.findings(f, f"{xs.source_label(src)} (n={f['n']})") if "costs" in x or "draws" in x]
    for msg in found:
        st.markdown(f"- {msg}")
    st.dataframe(av.by_source_table(rows), hide_index=True, key="ex_audit_by", column_config={
        "Bottom hidden": st.column_config.TextColumn(help="Country accuracy with the bottom band hidden (change vs "
                                                      "shown, 95 % interval of the change)"),
        "Edges hidden": st.column_config.TextColumn(help="Country accuracy with the edges hidden (change vs shown, "
                                                     "95 % interval of the change)"),
        "Sample": st.column_config.TextColumn(help=f"'indicative' below {un.SMALL_N} locations")})
    st.caption("Per source: the GeoGuessr screenshots with game UI show it at the edges; the Street View sources "
               "show the capture car and the watermark at the bottom. Below 30 locations a source's figures are "
               "indicative. What the audit can tell: whether hiding a part moves the "
               "answer. What it cannot: a hidden part is replaced by a blank band or frame that no training photo had, "
               "so a loss can come from the unusual input as much as from the missing cue; and few locations per "
               "source give wide intervals.")
    with st.expander("Every audited location"):
        st.dataframe(rows, hide_index=True, key="ex_audit_rows")
