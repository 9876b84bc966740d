"""Whose shortcut audit the Explore page shows (no Streamlit).

The **shared audit** is the one in the evaluation's folder (``audit.csv``/``audit.json``): the full audit
shipped with the model, or one a visitor made the shared one on purpose. A visitor's own runs are
**theirs**: kept in their session beside the shared audit (at most :data:`MAX_RUNS`, newest first), each
labelled with its size, and never written where other visitors read. Only an explicit choice (a ticked
confirmation and a button) replaces the shared audit, and never the copy shipped in ``assets/``.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

MAX_RUNS = 5  # a visitor's runs kept in their session (each a few hundred rows at most)


@dataclass(frozen=True)
class AuditRun:
    """One audit: its rows (``model.audit.run_audit``), its summary document (``write_audit``'s JSON) and
    whether it is the shared one (in the evaluation's folder) or this visitor's."""

    rows: pd.DataFrame
    doc: dict
    shared: bool = False

    @property
    def n(self) -> int:
        """Places audited."""
        try:
            return int(self.doc.get("overall", {}).get("n", len(self.rows)))
        except (TypeError, ValueError):
            return int(len(self.rows))

    @property
    def full(self) -> bool:
        """True when the audit took every place of the evaluation (no ``limit``)."""
        return self.doc.get("limit") is None and not self.doc.get("sampled_from")


def label(run: AuditRun, number: int | None = None, shipped: bool = False) -> str:
    """'Shared audit: all 241 places (shipped with the model)', 'Your run 2: 3 places (sample, seed 0)'."""
    size = f"all {run.n:,} places" if run.full else f"{run.n:,} place{'s' if run.n != 1 else ''}"
    how = "" if run.full else f" (sample, seed {run.doc.get('seed', 0)})"
    if run.shared:
        by = " (shipped with the model)" if shipped and not run.doc.get("replaced") else \
            (f" (made the shared audit by a visitor, {run.doc['replaced']})" if run.doc.get("replaced") else "")
        return f"Shared audit: {size}{how}{by}"
    return f"Your run{f' {number}' if number else ''}: {size}{how}"


def add_run(runs: Iterable[AuditRun], run: AuditRun, cap: int = MAX_RUNS) -> list[AuditRun]:
    """``run`` first, then the earlier ``runs``, at most ``cap`` (the oldest dropped)."""
    return [run, *list(runs)][:cap]


def visible(rows: pd.DataFrame, ids: Iterable[str]) -> pd.DataFrame:
    """The audit rows of the places that pass the page's filters (``ids``: their location ids)."""
    keep = set(map(str, ids))
    return rows[rows["location_id"].astype(str).isin(keep)]


def replacement_warning(new: AuditRun, current: AuditRun | None) -> str:
    """What replacing the shared audit with ``new`` does, in words (shown beside the confirmation)."""
    now = f"the shared audit of {current.n:,} places" if current is not None else "no shared audit yet"
    smaller = (f" Your run holds fewer places ({new.n:,}): its intervals are wider." if current is not None
               and new.n < current.n else "")
    return (f"Every visitor of this server will see your run of {new.n:,} places instead of {now}.{smaller} The "
            "copy shipped with the model (assets/models) is not touched.")
