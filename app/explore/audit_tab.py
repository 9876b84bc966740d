"""The Shortcut audit tab of the Explore page (Streamlit): the audit of the evaluation's locations
(``model.audit``: Grad-CAM and predictions with the bottom band or the edges hidden), its figures with
their intervals (``app.explore.audit_view``), and running it again.

Whose audit (``app.explore.audit_runs``): the shared one in the evaluation's folder (the full audit shipped
with the model) stays what every visitor sees; a visitor's runs are kept in their session beside it,
labelled with their size; replacing the shared audit for everyone takes a ticked confirmation and a button,
and only in the page's own cache folder. The figures are over the audited places that pass the page's
filters, and a new run samples among those.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app.common import uncertainty as un
from app.explore import audit_runs as ar
from app.explore import audit_view as av
from app.explore import data as xd
from app.explore import stats as xs
from app.explore.provenance import same_model
from app.explore.ui import progress_callback
from model import audit as au

AUDIT_DEFAULT = 50  # locations of a new audit: a 50 % accuracy to within about ±13 points, ~5 min on 2 cores
RUNS_KEY = "_ex_audit_runs"  # session: {evaluation folder: [AuditRun, ...]} (this visitor's own runs)


def _audit_rows(ev: xd.Evaluation, ids: set[str]) -> pd.DataFrame:
    from app.common.datasets import active_manifest
    from model.data.manifest import read_manifest

    man = ev.info.get("manifest") or st.session_state.get("ex_folder_manifest") or active_manifest()
    df = read_manifest(man)
    return df[df["location_id"].isin(ids)]


def _shipped_here(ev: xd.Evaluation) -> bool:
    """True when the evaluation is the shipped one (read in place, or installed from it)."""
    return bool(ev.info.get("shipped")) or (ev.folder / "shipped.json").is_file()


def _my_runs(ev: xd.Evaluation) -> list[ar.AuditRun]:
    return list(st.session_state.get(RUNS_KEY, {}).get(str(ev.folder), []))


def _shown_run(ev: xd.Evaluation, shared: ar.AuditRun | None) -> ar.AuditRun | None:
    """The audit to show: the shared one or one of this visitor's runs (a radio when there are several)."""
    mine = _my_runs(ev)
    runs = ([shared] if shared is not None else []) + mine
    if not runs:
        return None
    if len(runs) == 1:
        return runs[0]
    first_mine = len(runs) - len(mine)
    labels = [ar.label(r, None if r.shared else k - first_mine + 1, _shipped_here(ev)) for k, r in enumerate(runs)]
    if st.session_state.get("ex_audit_show") not in range(len(runs)):
        st.session_state["ex_audit_show"] = first_mine if mine else 0
    i = st.radio("Audit shown", range(len(runs)), format_func=lambda k: labels[k], key="ex_audit_show",
                 help="Your runs are yours: other visitors keep seeing the shared audit.")
    return runs[int(i)]


def audit_tab(predictor: Any, ev: xd.Evaluation, view: pd.DataFrame | None = None, *, pixels: bool = True,
              writable: bool = False) -> None:
    """The tab (see the module doc). ``view``: the places that pass the filters (default: all)."""
    view = ev.locations if view is None else view
    got = au.read_audit(ev.folder)
    shared = ar.AuditRun(got[0], got[1], shared=True) if got else None
    run = _shown_run(ev, shared)
    if run is not None:
        rows = ar.visible(run.rows, view["location_id"])
        kept = f" (the filters keep {len(rows):,} of its {len(run.rows):,} places)" if len(rows) != len(run.rows) else ""
        st.markdown(f"**Shortcut audit of {len(rows):,} locations**{kept} · {ar.label(run, None, _shipped_here(ev))}.")
        if len(rows):
            _audit_report(rows, run.doc, predictor)
        else:
            st.info("None of the audited places passes the filters: widen them to see the audit.")
    else:
        st.info("No audit yet for this evaluation. The audit runs Grad-CAM and three predictions per location (as "
                "shown, bottom band hidden, edges hidden) to see whether the model leans on the capture car, the "
                "watermark or the game UI.")
    _run_section(predictor, ev, view, run, pixels)
    if writable and _my_runs(ev):
        _replace_section(ev, shared)


def _run_section(predictor: Any, ev: xd.Evaluation, view: pd.DataFrame, last: ar.AuditRun | None,
                 pixels: bool) -> None:
    st.markdown("**Run an audit of your own**")
    if not pixels:
        st.info("Running an audit needs the images, which are not on this machine: the audit above is the one "
                "shipped with the model. Pick a data set with its images under Data to run your own.")
        return
    ids = [i for i, p in zip(view["location_id"], view["paths"]) if xd.pixels_here(p)]
    if not ids:
        st.info("No place that passes the filters has its images here.")
        return
    n_loc = len(ids)
    per_loc = av.seconds_per_location(last.doc if last else None)
    c1, c2, c3 = st.columns([2, 1, 2], vertical_alignment="bottom")
    size = c1.number_input(f"Places to audit, among the {n_loc:,} that pass the filters (spread over sources)", 1,
                           n_loc, min(AUDIT_DEFAULT, n_loc), key="ex_audit_n")
    seed = c2.number_input("Seed", 0, 10_000, 0, key="ex_audit_seed")
    go = c3.button("Run the audit", key="ex_audit_go", icon=":material/play_arrow:",
                   help="Your run is kept in your session beside the shared audit; other visitors do not see it.")
    width = av.interval_width(int(size))
    how = "measured by the audit shown" if last else "as measured on 2 CPU cores"
    st.caption(f"About {_duration(int(size) * per_loc)} for {int(size)} places ({per_loc:.0f} s per place, {how}). "
               f"With {int(size)} places a 50 % accuracy is known to within about ±{50 * width:.0f} points (95 %); "
               f"all {n_loc} take about {_duration(n_loc * per_loc)}.")
    with st.expander("Reproduce offline"):
        st.code(f"python -m model.audit --checkpoint {predictor.path} --data {ev.info.get('manifest', 'MANIFEST')} "
                f"--split {ev.info.get('split', 'test')} --out runs/audit", language="bash")
    if not go:
        return
    from model.data.manifest import ManifestError

    bar = st.progress(0.0, text="Auditing…")
    t0 = time.perf_counter()
    try:
        audit_rows = _audit_rows(ev, set(ids))
    except ManifestError as e:
        bar.empty()
        st.error(f"The audit needs the evaluation's manifest: {e}")
        return
    rows = au.run_audit(predictor, audit_rows, int(size), int(seed), progress_callback(bar, "Places audited"))
    meta = {"checkpoint": str(predictor.path), "data": ev.info.get("manifest", ""), "split": ev.info.get("split", ""),
            "limit": int(size), "seed": int(seed), "seconds": time.perf_counter() - t0,
            "sampled_from": n_loc if n_loc < len(ev.locations) else None}
    runs = dict(st.session_state.get(RUNS_KEY, {}))
    runs[str(ev.folder)] = ar.add_run(runs.get(str(ev.folder), []), ar.AuditRun(rows, au.audit_doc(rows, meta)))
    st.session_state[RUNS_KEY] = runs
    st.session_state.pop("ex_audit_show", None)  # show the new run
    st.rerun()


def _replace_section(ev: xd.Evaluation, shared: ar.AuditRun | None) -> None:
    mine = _my_runs(ev)
    with st.expander("Make one of your runs the audit every visitor sees"):
        i = st.selectbox("Your run", range(len(mine)), format_func=lambda k: ar.label(mine[k], k + 1),
                         key="ex_audit_replace_pick")
        new = mine[int(i or 0)]
        st.warning(ar.replacement_warning(new, shared), icon=":material/group:")
        sure = st.checkbox("Yes, replace the shared audit for everyone", key="ex_audit_replace_ok")
        st.button("Replace the shared audit", key="ex_audit_replace_go", disabled=not sure,
                  icon=":material/published_with_changes:", on_click=_replace, args=(ev.folder, new))


def _replace(folder: Path, run: ar.AuditRun) -> None:
    """The confirmed replacement (a button's callback): write the run as the folder's audit, untick."""
    meta = {k: v for k, v in run.doc.items() if k not in ("overall", "by_source")}
    au.write_audit(folder, run.rows, {**meta, "replaced": time.strftime("%Y-%m-%d %H:%M")})
    st.session_state["ex_audit_replace_ok"] = False
    st.session_state.pop("ex_audit_show", None)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _audit_report(rows: pd.DataFrame, doc: dict, predictor: Any) -> None:
    if not same_model(str(doc.get("checkpoint") or ""), predictor.path):
        st.warning(f"This audit was made with `{Path(doc['checkpoint']).name}`, not the loaded model.")
    g = av.group_figures(rows)
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
    st.dataframe(av.by_source_table(rows), hide_index=True, key="ex_audit_by", width="stretch", column_config={
        "Source": st.column_config.TextColumn(width=215),
        "Locations": st.column_config.NumberColumn("n", width=45, help="Audited places of the source"),
        "Accuracy shown": st.column_config.TextColumn("Shown", width=65, help="Country accuracy as shown"),
        "Bottom hidden": st.column_config.TextColumn(width=150, help="Country accuracy with the bottom band hidden; "
                                                     "in brackets the change in points vs shown and its 95 % interval"),
        "Edges hidden": st.column_config.TextColumn(width=150, help="Country accuracy with the edges hidden; in "
                                                    "brackets the change in points vs shown and its 95 % interval"),
        "Bottom heat": st.column_config.TextColumn(width=100, help="Mean share of the Grad-CAM heat in the bottom "
                                                   "band"),
        "Edge heat": st.column_config.TextColumn(width=85, help="Mean share of the Grad-CAM heat in the edge frame"),
        "Sample": st.column_config.TextColumn(width=85, help=f"'indicative' below {un.SMALL_N} locations")})
    st.caption("Per source: the GeoGuessr screenshots with game UI show it at the edges; the Street View sources "
               "show the capture car and the watermark at the bottom. Below 30 locations a source's figures are "
               "indicative. What the audit can tell: whether hiding a part moves the "
               "answer. What it cannot: a hidden part is replaced by a blank band or frame that no training photo had, "
               "so a loss can come from the unusual input as much as from the missing cue; and few locations per "
               "source give wide intervals.")
    with st.expander("Every audited location"):
        st.dataframe(rows, hide_index=True, key="ex_audit_rows")
