"""The evaluation's files: ``predictions.csv`` (rank lists space-separated), ``metrics.json``,
``classification_report_country.csv``, ``confusion_country.csv`` (and ``.png``), per-location country
F1 added to the metrics."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from model.net.checkpoint import write_json

from .metrics import classification_report_frame, confusion_frame

RANK_COLUMNS = ("cell_rank", "country_rank", "loc_cell_rank", "loc_country_rank")


def write_report(pred: pd.DataFrame, metrics: dict, out_dir: str | Path, top_k: int = 10, plot: bool = True) -> dict:
    """Write the evaluation files of a :func:`model.evaluation.table.predictions_table` and its
    :func:`~model.evaluation.table.compute_metrics` into ``out_dir``; adds the macro F1 scores to ``metrics``
    (returned)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = pred.copy()
    for c in RANK_COLUMNS:
        csv[c] = csv[c].map(lambda v: " ".join(map(str, v[:top_k])))
    csv.to_csv(out_dir / "predictions.csv", index=False, float_format="%.6f")
    loc = pred.drop_duplicates("location_id")
    lab = loc["true_country"] != ""
    y_true, y_pred = loc.loc[lab, "true_country"].tolist(), loc.loc[lab, "loc_pred_country"].tolist()
    if y_true:
        classification_report_frame(y_true, y_pred).to_csv(out_dir / "classification_report_country.csv", index=False)
        cm = confusion_frame(y_true, y_pred)
        cm.to_csv(out_dir / "confusion_country.csv")
        if plot:
            _plot_confusion(cm, out_dir / "confusion_country.png")
        metrics["per_location"]["country_f1_macro"] = _macro_f1(y_true, y_pred)
    img = pred[pred["true_country"] != ""]
    if len(img):
        metrics["per_image"]["country_f1_macro"] = _macro_f1(img["true_country"].tolist(), img["pred_country"].tolist())
    write_json(out_dir / "metrics.json", metrics)
    return metrics


def _macro_f1(y_true: list[str], y_pred: list[str]) -> float:
    """Macro-averaged F1 over the countries seen (true or predicted)."""
    return float(classification_report_frame(y_true, y_pred).set_index("class").loc["macro avg", "f1-score"])


def _plot_confusion(cm: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(cm)
    fig, ax = plt.subplots(figsize=(max(6, n * 0.18), max(5, n * 0.18)))
    norm = cm.div(cm.sum(axis=1).replace(0, 1), axis=0)
    ax.imshow(norm.to_numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), cm.columns, rotation=90, fontsize=6)
    ax.set_yticks(range(n), cm.index, fontsize=6)
    ax.set_xlabel("predicted country")
    ax.set_ylabel("true country")
    ax.set_title("Country confusion (row-normalised, per location)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
