"""Country similarity (no Streamlit): 2-D UMAP / t-SNE embeddings of the classes, as in the
85-country reference project (its ``plot_tsne_umap``: rows of the row-normalised confusion
matrix, cosine similarity).

Three ways to describe a country as a vector:

- ``hard``: its row of the row-normalised confusion matrix (where its locations were sent);
- ``soft``: the mean predicted country distribution of its images (top-5 cells' probability mass,
  renormalised): far richer than hard counts on a small test set;
- ``weights``: the mean of the classifier weights of its cells (``net.head.cls.weight``): what the
  model learned, independent of any test set.

Countries close in the embedding are those the model treats alike; colours are continents, so a
user sees whether the model's notion of similarity is geographic.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

_CONTINENTS = {
    "Europe": "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI LT LU LV "
              "MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK",
    "Asia": "AE AF AM AZ BD BH BN BT CN GE HK ID IL IN IQ IR JO JP KG KH KP KR KW KZ LA LB LK MM MN MO MV MY NP OM "
            "PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE",
    "Africa": "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG ML MR MU "
              "MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW",
    "North America": "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ MS MX NI PA "
                     "PM PR SV SX TC TT US VC VG VI",
    "South America": "AR BO BR CL CO EC FK GF GY PE PY SR UY VE",
    "Oceania": "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS",
    "Antarctica": "AQ BV GS HM TF",
}
CONTINENT = {code: name for name, codes in _CONTINENTS.items() for code in codes.split()}
SOURCES = {"soft": "Confusion: mean predicted probabilities (test set)",
           "hard": "Confusion matrix rows (test set, as in the reference project)",
           "weights": "Classifier weights of the model (no test data)"}
METHODS = ("t-SNE", "UMAP")  # t-SNE first: UMAP compiles its numba kernels on first use (~20-50 s)


def continent(code: str) -> str:
    """Continent of an ISO 3166-1 alpha-2 code ("Other" if unknown)."""
    return CONTINENT.get(str(code).upper(), "Other")


def hard_features(locs: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Rows of the row-normalised country confusion matrix: one per true country (with a label),
    columns over every country seen as truth or guess."""
    lab = locs[locs["true_country"] != ""]
    classes = sorted(set(lab["true_country"]) | set(lab["pred_country"]))
    rows = sorted(set(lab["true_country"]))
    ct = pd.crosstab(lab["true_country"], lab["pred_country"]).reindex(index=rows, columns=classes, fill_value=0)
    x = ct.to_numpy(float)
    return rows, x / np.maximum(x.sum(1, keepdims=True), 1e-12)


def soft_features(images: pd.DataFrame, k: int = 5) -> tuple[list[str], np.ndarray]:
    """Mean predicted country distribution per true country, from the per-image ``top{i}_country`` /
    ``top{i}_prob`` columns of predictions.csv (i = 1..k), each image's mass renormalised to 1."""
    lab = images[images["true_country"].astype(str) != ""]
    cols = [(f"top{i}_country", f"top{i}_prob") for i in range(1, k + 1) if f"top{i}_country" in lab]
    if not cols or lab.empty:
        return [], np.zeros((0, 0))
    long = pd.concat([pd.DataFrame({"row": np.arange(len(lab)), "true": lab["true_country"].astype(str).to_numpy(),
                                    "pred": lab[c].astype(str).to_numpy(), "p": lab[p].astype(float).to_numpy()})
                      for c, p in cols])
    long["p"] = long["p"] / long.groupby("row")["p"].transform("sum").clip(lower=1e-12)
    per_image = long.pivot_table(index=["row", "true"], columns="pred", values="p", aggfunc="sum", fill_value=0.0)
    mean = per_image.groupby(level="true").mean()
    return [str(c) for c in mean.index], mean.to_numpy(float)


def weight_features(predictor: Any) -> tuple[list[str], np.ndarray]:
    """Mean classifier weight vector (``net.head.cls.weight``, cells x hidden) of each country's cells,
    the cells' countries taken from ``predictor.cells.table.country_code``."""
    w = predictor.net.head.cls.weight.detach().cpu().numpy().astype(float)
    cc = predictor.cells.table["country_code"].astype(str).str.upper().to_numpy()
    if len(cc) != len(w):
        raise ValueError(f"{len(w)} classifier rows but {len(cc)} cells")
    codes = sorted(set(cc) - {""})
    return codes, np.stack([w[cc == c].mean(0) for c in codes]) if codes else np.zeros((0, w.shape[1]))


def embed(x: np.ndarray, method: str = "t-SNE", seed: int = 0) -> np.ndarray:
    """2-D embedding (n, 2) of the rows of ``x`` with cosine distances.

    UMAP: ``n_neighbors = min(15, n - 1)``, random init for fewer than 10 rows (spectral init needs
    more); t-SNE: ``perplexity = min(30, (n - 1) / 3)``. Fewer than 4 rows are placed on a circle
    (no embedding is meaningful there).
    """
    x = np.asarray(x, float)
    n = len(x)
    if n < 4:
        a = np.linspace(0, 2 * math.pi, n, endpoint=False)
        return np.stack([np.cos(a), np.sin(a)], 1) if n else np.zeros((0, 2))
    x = x + 1e-9  # all-zero rows have no cosine direction
    if method == "UMAP":
        import warnings

        import umap

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            red = umap.UMAP(n_components=2, n_neighbors=min(15, n - 1), metric="cosine", random_state=seed,
                            init="spectral" if n >= 10 else "random", min_dist=0.1)
            return np.asarray(red.fit_transform(x), float)
    if method == "t-SNE":
        from sklearn.manifold import TSNE

        t = TSNE(n_components=2, perplexity=max(1.0, min(30.0, (n - 1) / 3)), metric="cosine", init="random",
                 random_state=seed)
        return np.asarray(t.fit_transform(x), float)
    raise ValueError(f"method must be one of {METHODS}")


def nearest_neighbours(labels: Sequence[str], x: np.ndarray, k: int = 3) -> dict[str, list[str]]:
    """For each label, the ``k`` labels with the most similar vectors (cosine similarity)."""
    x = np.asarray(x, float)
    if len(x) < 2:
        return {str(lab): [] for lab in labels}
    u = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    s = u @ u.T
    np.fill_diagonal(s, -np.inf)
    order = np.argsort(-s, axis=1)[:, :k]
    return {str(labels[i]): [str(labels[j]) for j in order[i]] for i in range(len(labels))}


def embedding_frame(labels: Sequence[str], xy: np.ndarray, x: np.ndarray | None = None) -> pd.DataFrame:
    """Plot table: code, name, continent, x, y and (with the vectors ``x``) ``similar`` (3 nearest)."""
    from model.revgeo import country_name

    df = pd.DataFrame({"code": list(labels), "x": xy[:, 0] if len(xy) else [], "y": xy[:, 1] if len(xy) else []})
    df["name"] = [country_name(c) for c in df["code"]]
    df["continent"] = [continent(c) for c in df["code"]]
    if x is not None:
        nn = nearest_neighbours(labels, x)
        df["similar"] = [", ".join(nn[c]) for c in df["code"]]
    return df
