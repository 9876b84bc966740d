"""One answer of a predictor for the page (no Streamlit): the :class:`model.net.answer.Prediction` and, for a
checkpoint with a retrieval gallery, the per-place answer behind it (:class:`model.net.answer.PlaceAnswer`,
whose look-alike training places "Why this answer" shows), with the out-of-distribution check.

The prediction is computed as ``Predictor.predict`` does it (preprocess, ``outputs``, ``answer_place``,
``prediction``), so it is the same answer; a predictor without a gallery simply answers with ``predict``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

from model.locks import model_lock
from model.ood import capture_features, predictor_check


@dataclass
class Answer:
    """``pred`` the Prediction; ``place`` the PlaceAnswer (None: no gallery, or not a checkpoint);
    ``secs`` wall time (s); ``ood`` the out-of-distribution assessment (None: no calibration)."""

    pred: Any
    place: Any = None
    secs: float = 0.0
    ood: Any = None


def _cell_country_index(p: Any):
    got = getattr(p, "_geoloc_cidx", None)
    if got is None:
        from model.net.inference import cell_country_index

        got = cell_country_index(p.cells.table)[1]
        try:
            p._geoloc_cidx = got
        except AttributeError:
            pass
    return got


def with_place_answer(p: Any) -> bool:
    """Whether the answer's place (look-alikes) can be had: a checkpoint's predictor with a gallery."""
    return (getattr(p, "gallery", None) is not None and hasattr(p, "outputs") and hasattr(p, "preprocess")
            and hasattr(p, "prediction"))


def predict_place(p: Any, images: Sequence[Any], top_k: int = 5, crop: float | None = None) -> tuple[Any, Any]:
    """(Prediction, PlaceAnswer or None) for the views ``images`` (PIL) of one place."""
    if not with_place_answer(p):
        return p.predict(list(images), top_k=top_k, crop=crop), None
    import torch

    from model.data.transforms import check_crop
    from model.net.answer import answer_place

    c = p.crop if crop is None else check_crop(crop)
    x = torch.stack([p.preprocess(im, c) for im in images])
    a = answer_place(p.outputs(x), p.cells.table, _cell_country_index(p), p.gallery)
    return p.prediction(a, top_k, len(images), c), a


def answer(p: Any, images: Sequence[Any], top_k: int = 5, crop: float | None = None) -> Answer:
    """:func:`predict_place` under the model's lock, timed, with the out-of-distribution check."""
    t0 = time.perf_counter()
    with model_lock(p), capture_features(p) as feats:
        pred, place = predict_place(p, images, top_k, crop)
    return Answer(pred, place, time.perf_counter() - t0, predictor_check(p, feats))
