"""How the Explore page names classes and writes small-sample figures (no Streamlit): one name per country
everywhere on the page (``model.data.revgeo.country_name``: "Türkiye", as in the cell table, never the
map file's "Turkey"), the pooled class "other" as "Other countries" (or "Other cells"), and a precision
that was never measured (n = 0) as "–"."""
from __future__ import annotations

import math

from model.data.revgeo import country_name

OTHER = "other"  # the pooled label of app.explore.stats.class_labels


def class_name(label: str, level: str = "country") -> str:
    """A confusion class as the page writes it: a country's name (the code if unknown), "Other countries" /
    "Other cells" for the pooled class, a cell's own name as it is."""
    if str(label) == OTHER:
        return "Other countries" if level == "country" else "Other cells"
    if level != "country":
        return str(label)
    return country_name(label) or str(label)


def precision_text(p: float, n: int) -> str:
    """'67%' (the share of the ``n`` places guessed as a country that are it), '–' when ``n`` is 0."""
    if not n or p is None or not math.isfinite(float(p)):
        return "–"
    return f"{100 * float(p):.0f}%"
