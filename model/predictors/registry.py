"""The front door (timm-style ``create_model``): :func:`load_predictor` takes a predictor name or a
checkpoint path and returns an object of the protocol of :mod:`model.predictors.base`.

Names: ``geoclip``, ``streetclip-zeroshot``, ``clip-zeroshot`` and ``clip-zeroshot:<clip backbone>``;
anything else is a checkpoint path (default ``assets/models/default.pt``, loaded through
:class:`model.predict.Predictor`). :func:`availability` says without loading anything whether a predictor
can run offline and, if not, what to download; :func:`app_model` / :func:`load_app_predictor` read
``$GEOLOC_MODEL`` (a name or a checkpoint path) for the app.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from model.device import Runtime, app_device, resolve_device
from model.net.checkpoint import DEFAULT_CHECKPOINT

from . import geoclip, zeroshot
from .weights import WeightsInfo, WeightsMissing, missing_files

MODEL_ENV = "GEOLOC_MODEL"


@dataclass(frozen=True)
class PredictorSpec:
    """A registered predictor: what it is, its licence, what it needs (``weights``) and its loader."""

    name: str
    description: str
    licence: str
    weights: tuple[WeightsInfo, ...]
    load: Callable[[Runtime], object]


def _zeroshot_spec(name: str) -> PredictorSpec:
    bb = zeroshot.backbone_of(name)
    words = ("StreetCLIP zero-shot: country then region prompts, no training (geolocal/StreetCLIP)"
             if bb == "streetclip" else f"OpenAI CLIP zero-shot ({bb}): country then region prompts, no training")
    return PredictorSpec(name, words, zeroshot.licence_of(name), (zeroshot.weights_info(name),),
                         lambda rt, _n=name: zeroshot.load_zeroshot(_n, rt))


PREDICTORS: dict[str, PredictorSpec] = {
    "geoclip": PredictorSpec("geoclip", "GeoCLIP: CLIP ViT-L/14 image embedding matched against a location "
                             "encoder over a 100k GPS gallery (pip install geoclip)", geoclip.LICENCE,
                             (geoclip.PACKAGE, geoclip.TOWER), geoclip.load_geoclip),
    "streetclip-zeroshot": _zeroshot_spec("streetclip-zeroshot"),
    "clip-zeroshot": _zeroshot_spec("clip-zeroshot"),
}


def predictor_names() -> list[str]:
    """The registered names (``clip-zeroshot:<clip backbone>`` forms are accepted too)."""
    return list(PREDICTORS)


def get_spec(name: str) -> PredictorSpec:
    """The spec of a registered name or a ``clip-zeroshot:<entry>`` form; KeyError otherwise."""
    if name in PREDICTORS:
        return PREDICTORS[name]
    if name.startswith("clip-zeroshot:"):
        return _zeroshot_spec(name)
    raise KeyError(f"unknown predictor {name!r}; available: {', '.join(PREDICTORS)}, clip-zeroshot:<clip backbone> "
                   "or a checkpoint path")


def is_predictor_name(text: str) -> bool:
    """Whether ``text`` names a registered predictor (rather than a checkpoint path)."""
    try:
        get_spec(str(text))
        return True
    except KeyError:
        return False


@dataclass(frozen=True)
class Availability:
    """Whether a predictor can load offline: ``available``, else ``reason`` (the message of
    :class:`WeightsMissing`, with the download command) and ``missing`` (the weights to fetch)."""

    name: str
    available: bool
    reason: str = ""
    missing: tuple[WeightsInfo, ...] = ()


def availability(name: str | os.PathLike) -> Availability:
    """Checks files only (the hub cache, the package, the checkpoint); loads nothing, no network."""
    text = str(name)
    if not is_predictor_name(text):
        p = Path(text)
        return Availability(text, p.is_file(), "" if p.is_file() else f"no checkpoint file {p}")
    spec = get_spec(text)
    for w in spec.weights:
        if not w.repo:  # a Python package
            try:
                geoclip.wheel()
            except WeightsMissing as e:
                return Availability(text, False, str(e), (w,))
            continue
        miss = missing_files(w)
        if miss:
            return Availability(text, False, str(WeightsMissing(w, miss)), (w,))
    return Availability(text, True)


def load_predictor(model: str | os.PathLike | None = None, device: str | None = None, precision: str = "fp32"):
    """Load predictor ``model`` (a registered name or a checkpoint path; None: the shipped checkpoint) on
    ``device`` (auto|cpu|cuda|mps; default ``$GEOLOC_DEVICE``, else the CPU) in ``precision``
    (fp32, bf16 or fp16 autocast). Raises :class:`WeightsMissing` (a ``PretrainedWeightsMissing``) with
    the download command when weights are not available offline; never downloads unless
    ``GEOLOC_DOWNLOAD_WEIGHTS=1``."""
    dev = resolve_device(device) if device else app_device()
    rt = Runtime(dev, precision)
    text = str(model) if model is not None else ""
    if text and is_predictor_name(text):
        return get_spec(text).load(rt)
    from .checkpoint import CheckpointPredictor

    return CheckpointPredictor.load(Path(text) if text else DEFAULT_CHECKPOINT, device, precision)


def app_model() -> str | None:
    """What the app serves: ``$GEOLOC_MODEL`` (a predictor name or a checkpoint path), None for the default."""
    v = os.environ.get(MODEL_ENV, "").strip()
    return v or None


def load_app_predictor(device: str | None = None, precision: str = "fp32"):
    """:func:`load_predictor` of :func:`app_model` (``GEOLOC_MODEL=geoclip`` serves GeoCLIP)."""
    return load_predictor(app_model(), device, precision)
