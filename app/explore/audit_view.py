"""The shortcut audit's figures with their uncertainty (no Streamlit), from the rows of
``model.audit`` (``audit.csv``: one row per audited location).

Accuracies carry a 95 % Wilson interval; the change when a part of the picture is hidden is paired
(the same locations before and after) and carries a paired bootstrap interval; heat shares carry a
bootstrap interval of their mean. A change is called an effect only when its interval excludes zero,
and every figure from fewer than ``SMALL_N`` locations is labelled indicative.
"""
from __future__ import annotations

import math

import pandas as pd

from app.common import uncertainty as un

PARTS = {"no_bottom": ("the bottom band", "capture car, 'Google' watermark"),
         "no_edges": ("the edges", "game UI: compass, minimap, score box")}
DEFAULT_SECONDS_PER_LOCATION = 6.5  # measured: 241 test locations in 1,530 s (1 thread, busy 2-core machine)


def _labelled(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows["true_country"].astype(str) != ""]


def group_figures(rows: pd.DataFrame) -> dict:
    """Figures of one group of audit rows: ``n``; ``acc_shown`` / ``acc_no_bottom`` / ``acc_no_edges``
    (:class:`~app.common.uncertainty.Estimate`, over rows with a known country); ``change_no_bottom``
    / ``change_no_edges`` (paired change of accuracy, negative = hiding costs accuracy);
    ``bottom_share`` / ``edge_share`` (mean heat share, bootstrap interval) and ``bottom_area`` /
    ``edge_area`` (share of the picture, what uniform heat would give); ``changed_no_*`` (share of
    locations whose country changed, Wilson)."""
    lab = _labelled(rows)
    out: dict = {"n": int(len(rows))}
    shown = lab["shown_correct"].astype(bool).to_numpy()
    out["acc_shown"] = un.rate(shown)
    for v in PARTS:
        hid = lab[f"{v}_correct"].astype(bool).to_numpy()
        out[f"acc_{v}"] = un.rate(hid)
        out[f"change_{v}"] = un.paired_change(shown, hid)
        moved = rows[f"{v}_country"].astype(str) != rows["shown_country"].astype(str)
        out[f"changed_{v}"] = un.rate(moved.to_numpy())
    for part in ("bottom", "edge"):
        out[f"{part}_share"] = un.bootstrap(rows[f"{part}_share"].astype(float).to_numpy())
        out[f"{part}_area"] = float(rows[f"{part}_area"].astype(float).mean()) if len(rows) else math.nan
    return out


def findings(g: dict, who: str = "") -> list[str]:
    """Plain sentences for one group of :func:`group_figures`: the change of accuracy when each part is
    hidden (an effect only when its interval excludes zero), and where the heat goes."""
    if not g.get("n"):
        return []
    tag = f"{who}: " if who else ""
    small = " Indicative: a small sample." if g["n"] < un.SMALL_N else ""
    out = []
    for v, (what, cue) in PARTS.items():
        ch, a, b = g[f"change_{v}"], g["acc_shown"], g[f"acc_{v}"]
        if not ch.n:
            continue
        span = un.interval_text(ch, un.points).replace("95% CI ", "")
        figures = f"{un.pct(a.value)} → {un.pct(b.value)}, n = {ch.n}" + (f"; 95% CI {span}" if span else "")
        if math.isfinite(ch.hi) and ch.hi < 0:
            out.append(f"{tag}Hiding {what} ({cue}) costs {-round(100 * ch.value)} points of country accuracy "
                       f"({figures}): the model uses that part of the picture.{small}")
        elif math.isfinite(ch.lo) and ch.lo > 0:
            out.append(f"{tag}Hiding {what} raises country accuracy by {round(100 * ch.value)} points "
                       f"({figures}).{small}")
        else:
            out.append(f"{tag}Hiding {what} changes country accuracy by {un.points(ch.value)} ({figures}): within the "
                       f"noise of this sample, no clear effect.{small}")
    for part, what in (("bottom", "bottom band"), ("edge", "edge frame")):
        s, area = g[f"{part}_share"], g[f"{part}_area"]
        if s.n and math.isfinite(area) and area > 0 and math.isfinite(s.lo) and s.lo > 1.5 * area:
            out.append(f"{tag}The {what} draws {un.pct(s.value)} of the Grad-CAM heat ({un.interval_text(s)}) for "
                       f"{un.pct(area)} of the picture ({s.value / area:.1f}×).")
    return out


def by_source_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per source plus "All": Source, Locations, accuracy as shown / bottom hidden / edges
    hidden (whole percents; the hidden ones with the change in points and its 95 % interval, compact:
    "44% (−3; −8 to +1)"), heat shares, and ``Sample`` ("indicative" below ``SMALL_N`` locations)."""
    from app.explore.stats import source_label

    parts = [("All sources", rows)] + [(source_label(s), g) for s, g in rows.groupby("source", sort=True)]
    out = []
    for name, g in parts:
        f = group_figures(g)
        row = {"Source": name, "Locations": f["n"], "Accuracy shown": un.pct(f["acc_shown"].value)}
        for v, label in (("no_bottom", "Bottom hidden"), ("no_edges", "Edges hidden")):
            ch = f[f"change_{v}"]
            ci = un.interval_text(ch, un.points).replace("95% CI ", "").replace(" pts", "")
            row[label] = f"{un.pct(f[f'acc_{v}'].value)} ({un.points(ch.value).replace(' pts', '')}" + \
                (f"; {ci})" if ci else ")")
        row["Bottom heat"] = un.pct(f["bottom_share"].value)
        row["Edge heat"] = un.pct(f["edge_share"].value)
        row["Sample"] = "indicative" if f["n"] < un.SMALL_N else "ok"
        out.append(row)
    return pd.DataFrame(out)


def seconds_per_location(doc: dict | None) -> float:
    """Measured seconds per audited location from an audit's summary (``seconds`` / ``overall.n``),
    else :data:`DEFAULT_SECONDS_PER_LOCATION`."""
    try:
        s, n = float(doc["seconds"]), int(doc["overall"]["n"])
        if s > 0 and n > 0:
            return s / n
    except (KeyError, TypeError, ValueError):
        pass
    return DEFAULT_SECONDS_PER_LOCATION


def interval_width(n: int, p: float = 0.5) -> float:
    """Width of a Wilson 95 % interval for a rate ``p`` over ``n`` locations (0..1): how much a sample
    of that size can say."""
    if n <= 0:
        return math.nan
    e = un.wilson(int(round(p * n)), int(n))
    return e.hi - e.lo
