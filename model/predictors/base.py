"""The predictor protocol, and the shared implementation of the published predictors.

Every predictor (a project checkpoint, ``geoclip``, ``streetclip-zeroshot``, ``clip-zeroshot``) has:

- ``name``, ``licence`` (words shown beside its answers), ``meta`` (a dict: what it is, its weights);
- ``cells``: its candidate places, a :class:`model.net.cells.CellSet` (``.table`` with the columns
  ``key, name, country_code, country, admin1, lat, lon, n_train``; ``.assign`` for the evaluation's truth);
  ``gallery``: its retrieval gallery (:class:`model.net.retrieval.Gallery`, checkpoints only, else None);
- ``preprocess(img, crop)`` -> ``(3, S, S)``; ``outputs(x)``: per-view outputs of a batch ``(V, 3, S, S)``:
  ``logits`` (V, C) over the candidates (log-probabilities up to a constant per view), optionally
  ``embed`` (V, H), as float32 NumPy; ``file_outputs(paths)``: the same for image files with ``ok`` (N,);
- ``predict(images, top_k=5, crop=None)`` -> :class:`model.net.answer.Prediction`, always through
  :func:`model.net.answer.answer_place` and :func:`~model.net.answer.to_prediction`, so views are fused,
  M/E/top-N/country probabilities/expected error computed the same way for every predictor;
- Grad-CAM hooks: ``cell_logits_model()`` (images -> logits (B, C)), ``gradcam_layer()``, ``gradcam_reshape()``;
- ``lock`` (one forward pass at a time), ``runtime`` (:class:`model.device.Runtime`), ``crop``, ``input_size``.

:class:`NetPredictor` implements it over a module whose ``forward(x)`` returns ``{"logits", "embed"}``.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from PIL import Image

from model.data.images import ImageLoadError, open_image
from model.data.loader import transform_for
from model.data.transforms import check_crop, crop_bottom
from model.device import CPU, Runtime
from model.net.answer import PlaceAnswer, Prediction, answer_place, to_prediction
from model.net.cells import CellSet
from model.net.inference import cell_country_index


@runtime_checkable
class GeoPredictor(Protocol):
    """What the app, the CLI and the evaluation use of a predictor (module docstring)."""

    name: str
    licence: str
    cells: Any
    gallery: Any
    runtime: Runtime
    crop: float

    def predict(self, images, top_k: int = 5, crop: float | None = None) -> Prediction: ...

    def outputs(self, x: torch.Tensor) -> dict[str, np.ndarray]: ...

    def file_outputs(self, paths: Sequence[str]) -> dict[str, np.ndarray]: ...

    def preprocess(self, img: Image.Image, crop: float | None = None) -> torch.Tensor: ...

    def cell_logits_model(self) -> torch.nn.Module: ...

    def gradcam_layer(self) -> torch.nn.Module: ...

    def gradcam_reshape(self): ...


def as_images(images) -> list[Image.Image]:
    """One image or a list of views (paths, bytes or PIL images) -> RGB PIL images; ValueError if none."""
    imgs = images if isinstance(images, (list, tuple)) else [images]
    if not imgs:
        raise ValueError("no image given")
    return [im.convert("RGB") if isinstance(im, Image.Image) else open_image(im) for im in imgs]


class _Logits(torch.nn.Module):
    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)["logits"]


class NetPredictor:
    """A predictor over ``net`` (``forward(x (B, 3, S, S))`` -> ``{"logits": (B, C), "embed": (B, H)}``)
    whose image tower is ``tower_backbone`` (a backbone with the preprocessing attributes and Grad-CAM
    hooks), answering over ``cells``. Thread-safe: one forward pass at a time."""

    gallery = None  # no retrieval gallery of training places
    train_groups: frozenset = frozenset()  # trained on none of the project's data

    def __init__(self, name: str, licence: str, net: torch.nn.Module, tower_backbone: torch.nn.Module,
                 cells: CellSet, runtime: Runtime = CPU, crop: float = 0.0, info: dict | None = None):
        self.name, self.licence, self.cells, self.runtime = name, licence, cells, runtime
        self.net = runtime.place(net).eval()
        self._bb = tower_backbone
        self.input_size, self.mean, self.std = int(tower_backbone.input_size), tuple(tower_backbone.mean), \
            tuple(tower_backbone.std)
        self.crop = check_crop(crop)
        self._tf = transform_for(tower_backbone, train=False)
        self._cidx = cell_country_index(cells.table)[1]
        self.lock = threading.RLock()
        self.info = dict(info or {})
        self.path = name  # what evaluation reports name as "checkpoint"

    @property
    def device(self) -> torch.device:
        return self.runtime.device

    @property
    def meta(self) -> dict:
        """Name, licence, candidates, preprocessing and the weights' description."""
        return {"name": self.name, "licence": self.licence, "cell_scheme": self.cells.scheme,
                "n_cells": len(self.cells), "crop": self.crop, "input_size": self.input_size,
                "device": str(self.device), "precision": self.runtime.precision, **self.info}

    def preprocess(self, img: Image.Image, crop: float | None = None) -> torch.Tensor:
        """PIL image -> model input (3, S, S) with the bottom ``crop`` fraction hidden (None: ``self.crop``)."""
        return self._tf(crop_bottom(img.convert("RGB"), self.crop if crop is None else crop))

    def outputs(self, x: torch.Tensor) -> dict[str, np.ndarray]:
        """Per-view outputs of a batch ``(B, 3, S, S)``: ``logits`` (B, C), ``embed`` (B, H), float32 NumPy."""
        rt = self.runtime
        with self.lock, torch.inference_mode(), rt.autocast():
            o = self.net(rt.to_device(x))
        return {k: v.float().cpu().numpy() for k, v in o.items()}

    def predict(self, images, top_k: int = 5, crop: float | None = None) -> Prediction:
        """The answer for one image or the views of one place (paths, bytes or PIL images), fused."""
        pil = as_images(images)
        c = self.crop if crop is None else check_crop(crop)
        x = torch.stack([self.preprocess(im, c) for im in pil])
        a = answer_place(self.outputs(x), self.cells.table, self._cidx, None)
        return self.prediction(a, top_k, len(pil), c)

    def prediction(self, a: PlaceAnswer, top_k: int = 5, n_views: int = 1, crop: float = 0.0) -> Prediction:
        """The :class:`Prediction` of a per-place answer over this predictor's candidates."""
        return to_prediction(a, self.cells.table, top_k, n_views, crop)

    def file_outputs(self, paths: Sequence[str], batch_size: int = 16) -> dict[str, np.ndarray]:
        """:meth:`outputs` of image files (N,) with ``ok`` (N,): an unreadable image gets zeros and
        ``ok`` False; ImageLoadError when none loads."""
        res: dict[str, np.ndarray] = {}
        ok = np.zeros(len(paths), bool)
        for s in range(0, len(paths), batch_size):
            idx, xs = [], []
            for i in range(s, min(s + batch_size, len(paths))):
                try:
                    xs.append(self.preprocess(open_image(paths[i])))
                    idx.append(i)
                except ImageLoadError:
                    continue
            if not xs:
                continue
            for k, v in self.outputs(torch.stack(xs)).items():
                if k not in res:
                    res[k] = np.zeros((len(paths),) + v.shape[1:], np.float32)
                res[k][idx] = v
            ok[idx] = True
        if not ok.any():
            raise ImageLoadError(f"none of the {len(paths)} images could be loaded")
        res["ok"] = ok
        return res

    # -- for explanations ------------------------------------------------------------------
    def cell_logits_model(self) -> torch.nn.Module:
        """A module mapping images (B, 3, S, S) to candidate logits (B, C) (for Grad-CAM)."""
        return _Logits(self.net)

    def gradcam_layer(self) -> torch.nn.Module:
        """Grad-CAM's target: the vision tower's last block's first LayerNorm (every token)."""
        return self._bb.gradcam_layer()

    def gradcam_reshape(self):
        """ViT tokens -> map ``(B, D, h, w)`` for :meth:`gradcam_layer`'s output."""
        return self._bb.gradcam_reshape()
