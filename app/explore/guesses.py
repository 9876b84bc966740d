"""What the stored predictions say about a place whose images are not on this machine (no Streamlit): the
detail panel's table when the loaded model cannot answer live. (The live top-N, sorted by probability with
M marked, is ``app.common.results``, the same table as Predict's.) Probabilities in 0..1.
"""
from __future__ import annotations


import numpy as np
import pandas as pd

from model.data.revgeo import country_name


def stored_guesses(row: pd.Series, cells: pd.DataFrame | None, top_n: int) -> pd.DataFrame:
    """What the evaluation file stores of a place's answer, for a place whose images are not here: two
    rankings side by side, "Likeliest countries" and (when the evaluation is the loaded model's, ``cells``
    its cell table with ``name`` and ``country_code``) "Likeliest cells", each cell with its own country so
    that no row reads as a pair. Only the top country's probability is stored (``confidence``)."""
    countries = [str(c) for c in (row.get("country_rank") or [])][: max(1, top_n)]
    ids = [str(c) for c in (row.get("cell_rank") or [])][: max(1, top_n)]
    n = max(len(countries), len(ids) if cells is not None else 0)
    names = [country_name(c) or c for c in countries]
    if names and np.isfinite(float(row.get("confidence", np.nan))):
        names[0] += f" ({100 * float(row['confidence']):.0f}%)"
    out = pd.DataFrame({"#": [str(i + 1) for i in range(n)], "Likeliest countries": names + [""] * (n - len(names))})
    if cells is not None and ids:
        def label(c: str) -> str:
            i = int(c) if c.lstrip("-").isdigit() else -1
            if not 0 <= i < len(cells):
                return c
            return f"{cells['name'].iloc[i]}, {country_name(cells['country_code'].iloc[i]) or cells['country_code'].iloc[i]}"

        out["Likeliest cells"] = [label(c) for c in ids] + [""] * (n - len(ids))
    return out
