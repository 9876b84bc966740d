"""Country similarity (no Streamlit): which countries does the model treat alike?

Each country becomes a vector, with ``n``, the number of places behind it:

- ``gallery`` (default): the mean look-alike embedding of the model's retrieval gallery places in
  that country (training and validation places, no test data), centred on the mean over countries
  so that the shared "street photo" direction does not make every pair look alike; n = places;
- ``soft``: the mean predicted country distribution of its test images (top-5 countries'
  probability mass, renormalised), a confusion-based view; n = test locations;
- ``weights``: the mean of the classifier weights of its cells (``net.head.cls.weight``); n = the
  training locations of its cells.

Countries with fewer than a minimum n (default :data:`MIN_PLACES`) are left out: a vector averaged
over 1-4 places is mostly noise. Similarity is the cosine of two vectors (:func:`similarity_matrix`);
:func:`embed` lays the countries out in 2-D (UMAP / t-SNE, as in the 85-country reference project).
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
SOURCES = {"gallery": "Look-alike embeddings of the model's reference places (no test data)",
           "soft": "Confusion on the test set: mean predicted probabilities",
           "weights": "Classifier weights of the model's cells (no test data)"}
N_WORDS = {"gallery": "reference places", "soft": "test locations", "weights": "training locations"}
MIN_PLACES = 10
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


def gallery_features(predictor: Any) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(codes, vectors (K, H), n (K,)): the mean unit embedding of the retrieval gallery's places per
    country, minus the mean of those country vectors (centring), and how many places each holds.
    Empty when the checkpoint has no gallery."""
    g = getattr(predictor, "gallery", None)
    if g is None or len(g) == 0:
        return [], np.zeros((0, 0)), np.zeros(0, int)
    codes_all = sorted(set(predictor.cells.table["country_code"].astype(str)))
    idx = np.asarray(g.country, int)
    present = sorted(set(idx[idx >= 0].tolist()))
    emb = np.asarray(g.embed, float)
    x = np.stack([emb[idx == i].mean(0) for i in present])
    n = np.array([int((idx == i).sum()) for i in present])
    return [codes_all[i] for i in present], x - x.mean(0, keepdims=True), n


def soft_counts(images: pd.DataFrame) -> dict[str, int]:
    """Test locations per true country of a predictions table (the ``n`` of :func:`soft_features`)."""
    lab = images[images["true_country"].astype(str) != ""].drop_duplicates("location_id")
    return {str(k): int(v) for k, v in lab["true_country"].astype(str).value_counts().items()}


def weight_counts(predictor: Any) -> dict[str, int]:
    """Training locations per country of the cell table (``n_train`` summed over its cells; the number
    of cells when the table has no ``n_train``)."""
    t = predictor.cells.table
    cc = t["country_code"].astype(str).str.upper()
    if "n_train" in t:
        return {str(k): int(v) for k, v in t.groupby(cc)["n_train"].sum().items()}
    return {str(k): int(v) for k, v in cc.value_counts().items()}


def keep_frequent(labels: Sequence[str], x: np.ndarray, n: Sequence[int], min_n: int = MIN_PLACES
                  ) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """The rows with ``n >= min_n``: (labels, x, n, left_out labels)."""
    n = np.asarray(n, int)
    keep = n >= int(min_n)
    labels = [str(c) for c in labels]
    return ([c for c, k in zip(labels, keep) if k], np.asarray(x)[keep], n[keep],
            [c for c, k in zip(labels, keep) if not k])


def similarity_matrix(x: np.ndarray) -> np.ndarray:
    """Cosine similarity (K, K) of the rows of ``x`` (zero rows: 0)."""
    x = np.asarray(x, float)
    u = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return u @ u.T


def similarity_long(labels: Sequence[str], x: np.ndarray, n: Sequence[int], order: Sequence[str] | None = None
                    ) -> pd.DataFrame:
    """Long table for a heatmap: a, b (codes), a_name / b_name ('Name (n)'), cos, for every pair
    (the diagonal included, as NaN so it draws blank)."""
    from model.data.revgeo import country_name

    s = similarity_matrix(x)
    np.fill_diagonal(s, np.nan)
    lab = {str(c): f"{country_name(c) or c} ({int(k)})" for c, k in zip(labels, n)}
    rows = [{"a": str(labels[i]), "b": str(labels[j]), "a_name": lab[str(labels[i])], "b_name": lab[str(labels[j])],
             "cos": float(s[i, j]) if np.isfinite(s[i, j]) else None}
            for i in range(len(labels)) for j in range(len(labels))]
    df = pd.DataFrame(rows, columns=["a", "b", "a_name", "b_name", "cos"])
    if order is not None:
        rank = {str(c): i for i, c in enumerate(order)}
        df = df.sort_values(["a", "b"], key=lambda col: col.map(rank)).reset_index(drop=True)
    return df


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
    return {a: [b for b, _ in v] for a, v in nearest_with_scores(labels, x, k).items()}


def nearest_with_scores(labels: Sequence[str], x: np.ndarray, k: int = 3) -> dict[str, list[tuple[str, float]]]:
    """For each label, the ``k`` most similar labels with their cosine similarity, best first."""
    x = np.asarray(x, float)
    if len(x) < 2:
        return {str(lab): [] for lab in labels}
    s = similarity_matrix(x)
    np.fill_diagonal(s, -np.inf)
    order = np.argsort(-s, axis=1)[:, :k]
    return {str(labels[i]): [(str(labels[j]), float(s[i, j])) for j in order[i]] for i in range(len(labels))}


def embedding_frame(labels: Sequence[str], xy: np.ndarray, x: np.ndarray | None = None,
                    n: Sequence[int] | None = None) -> pd.DataFrame:
    """Plot table: code, name, continent, x, y, (with ``n``) n, and (with the vectors ``x``) ``similar``:
    the 3 nearest countries by name with their cosine similarity ("Norway 0.81, ...")."""
    from model.data.revgeo import country_name

    df = pd.DataFrame({"code": list(labels), "x": xy[:, 0] if len(xy) else [], "y": xy[:, 1] if len(xy) else []})
    df["name"] = [country_name(c) or c for c in df["code"]]
    df["continent"] = [continent(c) for c in df["code"]]
    if n is not None:
        df["n"] = [int(v) for v in n]
    if x is not None:
        nn = nearest_with_scores(labels, x)
        df["similar"] = [", ".join(f"{country_name(b) or b} {s:.2f}" for b, s in nn[c]) for c in df["code"]]
    return df
