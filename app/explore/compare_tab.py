"""The Compare tab of the Explore page (Streamlit): the explored evaluation (A) against another evaluation of
the same places (B: the shipped one, another checkpoint's, a predictor's from ``python -m model.evaluate
--model NAME --out DIR``), each headline and each country with a paired bootstrap interval of B - A
(``model.evaluation.compare``, the statistics), on the places both hold with the same truth.

Only the filters that do not look at A's answers apply (country, source): choosing places by how A did
(right or wrong, its error, its confidence) would favour B by construction (regression to the mean).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app.common import uncertainty as un
from app.explore import data as xd
from app.explore import provenance as pv
from app.explore import stats as xs
from app.explore.names import class_name
from model.evaluation import compare as cp

OTHER = "__folder__"


def _pick_b(ev: xd.Evaluation) -> Path | None:
    """The evaluation B widgets: a list of the evaluations found here, or a folder typed in."""
    found = [str(p) for p in pv.other_evaluations(ev.folder)]
    if not found:
        split = str(ev.info.get("split") or "test")
        st.info("No other evaluation of these places is on this machine yet (copies of the one explored above are "
                "left out: a model compared with itself differs by nothing). Make one of another model, then "
                "reopen this tab, or name a folder below:", icon=":material/compare_arrows:")
        st.code(f"python -m model.evaluate --model geoclip --split {split} --out runs/geoclip-{split}\n"
                f"python -m model.evaluate --checkpoint runs/<run>/best.pt --split {split} "
                f"--out runs/<run>-{split}", language="bash")
    opts = found + [OTHER]
    pick = st.selectbox("Evaluation B (compared with the one explored above, A)", opts, key="ex_cmp_pick",
                        format_func=lambda k: "Another folder…" if k == OTHER else pv.describe_folder(k, code=False),
                        help="Evaluations found here: the shipped ones, those this page computed, and runs/. Make "
                             "one of another model with `python -m model.evaluate --model NAME --out runs/NAME`.")
    if pick != OTHER:
        return Path(pick)
    text = st.text_input("Evaluation folder B (holding predictions.csv)", key="ex_cmp_folder",
                         placeholder="runs/geoclip-test")
    if not text.strip():
        return None
    f = Path(text.strip()).expanduser()
    return f if f.is_absolute() else xd.ROOT / f


def _headline_table(t: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "Metric": t["metric"], "A": [cp.fmt_value(v, u) for v, u in zip(t["a"], t["unit"])],
        "B": [cp.fmt_value(v, u) for v, u in zip(t["b"], t["unit"])],
        "B − A (95% CI)": [cp.fmt_diff(d, lo, hi, u) for d, lo, hi, u in zip(t["diff"], t["lo"], t["hi"], t["unit"])],
        "n": t["n"].astype(int), "Verdict": t["verdict"]})


def _country_table(pc: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "Country": [class_name(c) for c in pc["country"]], "n": pc["n"].astype(int),
        "Accuracy A": [cp.fmt_value(v, "%") for v in pc["acc_a"]],
        "Accuracy B": [cp.fmt_value(v, "%") for v in pc["acc_b"]],
        "Accuracy B − A": [cp.fmt_diff(d, lo, hi, "%", True) for d, lo, hi in
                           zip(pc["acc_diff"], pc["acc_lo"], pc["acc_hi"])],
        "Median km B − A": [cp.fmt_diff(d, lo, hi, "km", True) for d, lo, hi in
                            zip(pc["median_km_diff"], pc["median_km_lo"], pc["median_km_hi"])],
        "Score B − A": [cp.fmt_diff(d, lo, hi, "pts", True) for d, lo, hi in
                        zip(pc["score_diff"], pc["score_lo"], pc["score_hi"])],
        "Sample": ["indicative" if v else "ok" for v in pc["indicative"]]})


def compare_tab(ev: xd.Evaluation, f: xs.Filters) -> None:
    """The tab (see the module doc): ``ev`` is A, ``f`` the page's filters (country and source used)."""
    st.caption("A is the evaluation explored above; pick B, another evaluation of the same places. Each figure "
               "is over the places both hold with the same truth; B − A comes with a paired bootstrap 95 % interval "
               "(the same resampled places for both), and a verdict only when it excludes zero.")
    folder = _pick_b(ev)
    if folder is None:
        return
    if not xd.has_evaluation(folder):
        st.error(f"No predictions.csv in `{pv.short(folder)}`: make one with `python -m model.evaluate --out DIR`.")
        return
    try:
        b = cp.read_locations(xd.predictions_file(folder))
    except (OSError, ValueError, KeyError) as e:
        st.error(f"`{pv.short(folder)}` cannot be read as an evaluation: {e}")
        return
    keep = xs.apply_filters(ev.locations, xs.Filters(countries=f.countries, sources=f.sources))["location_id"]
    a = cp.location_rows(ev.images)
    a = a[a["location_id"].isin(set(keep))]
    p = cp.pair(a, b)
    st.markdown(f"**A**: {pv.describe_folder(ev.folder)}  \n**B**: {pv.describe_folder(folder)}")
    left = [f"{k:,} {w}" for k, w in ((p.only_a, "only in A"), (p.only_b, "only in B"),
                                       (p.truth_differs, "with a different truth")) if k]
    narrowed = f.countries or f.sources
    st.markdown(f"**{p.n:,} places in both**" + (f" ({', '.join(left)} left out)" if left else "") +
                (" among the countries and sources the filters keep" if narrowed else "") + ".")
    if f.right_wrong != "All" or f.min_km > 0 or f.max_km is not None or f.min_conf > 0 or f.max_conf < 1:
        st.caption("The filters on A's answers (right or wrong, error, confidence) are not applied here: choosing "
                   "places by how A did would favour B by construction.")
    if p.n == 0:
        st.warning("The two evaluations share no place: they are of different data sets or splits.")
        return
    st.dataframe(_headline_table(cp.headline(p)), hide_index=True, key="ex_cmp_head", width="stretch",
                 column_config={"B − A (95% CI)": st.column_config.TextColumn(width="medium")})
    if p.n < un.SMALL_N:
        st.caption(f"Indicative: {p.n} places is a small sample.")
    pc = cp.per_country(p)
    if pc.empty:
        return
    st.markdown("**Per country** (the places with a known country; median error and score over those with "
                "coordinates)")
    st.dataframe(_country_table(pc), hide_index=True, key="ex_cmp_countries", height=min(420, 38 + 35 * len(pc)),
                 width="stretch", column_config={
                     "Country": st.column_config.TextColumn(width=150), "n": st.column_config.NumberColumn(width=45),
                     "Accuracy A": st.column_config.TextColumn(width=85),
                     "Accuracy B": st.column_config.TextColumn(width=85),
                     "Accuracy B − A": st.column_config.TextColumn(width=150, help="Points, with the paired 95 % "
                                                                   "interval in brackets"),
                     "Median km B − A": st.column_config.TextColumn(width=150, help="km, with the paired 95 % "
                                                                    "interval in brackets"),
                     "Score B − A": st.column_config.TextColumn(width=130, help="GeoGuessr points, with the paired "
                                                                "95 % interval in brackets"),
                     "Sample": st.column_config.TextColumn(width=80)})
    st.caption(f"Below {cp.SMALL_N} places a country's figures are indicative: read the interval. With few places a "
               "country's interval is wide and most differences are within the noise.")
