"""Streamlit pieces of the Play page that need only their arguments: a wrapping row of metrics and the
number format of its tables."""
from __future__ import annotations

import streamlit as st

POINTS = "%,d"  # thousands separators in tables, as in the metrics (f"{n:,}"): one number format


def metric_row(*items: tuple[str, str, str | None]) -> None:
    """(label, value, help) metrics side by side, each as wide as its text: on a narrow screen they
    wrap to the next line instead of cutting the numbers off."""
    with st.container(horizontal=True, gap="large"):
        for label, value, tip in items:
            st.metric(label, value, help=tip, width="content")


def numbers(*columns: str) -> dict:
    """Column settings showing whole numbers with thousands separators (like the metrics)."""
    return {c: st.column_config.NumberColumn(c, format=POINTS) for c in columns}
