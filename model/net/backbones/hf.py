"""Shared loading code of the Hugging Face ``transformers`` families (ViT, CLIP, DINOv2, SigLIP).

Pretrained weights and the image-processor config come from the Hugging Face hub cache
(``$HF_HUB_CACHE`` or ``$HF_HOME/hub``, read at call time), with ``local_files_only`` unless
``GEOLOC_DOWNLOAD_WEIGHTS=1`` opts in to downloading; a miss is :class:`PretrainedWeightsMissing`
naming the ``hf download`` command, never a silent random start. Random weights
(``pretrained=False``) are built from the entry's architecture config, with ``config`` overrides.

The vision towers become :class:`~model.net.backbones.blocks.TokenBackbone`: stem = patch + position
embeddings (interpolated for other input sizes) and any pre-norm, blocks = the encoder layers,
finish = the final norm and the model's own pooling (CLS token or attention-pooling head).
"""
from __future__ import annotations

import contextlib
import logging
import os

import torch
from torch import nn

from .registry import PretrainedWeightsMissing, downloads_allowed, missing_message

log = logging.getLogger(__name__)
_RESAMPLE = {0: "nearest", 2: "bilinear", 3: "bicubic"}  # PIL codes (transformers' PILImageResampling)


def hf_cache_dir() -> str:
    """The Hugging Face hub cache, read from the environment at call time (``HF_HUB_CACHE``, ``HF_HOME``)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return os.path.join(home, "hub")


def fetch_command(repo: str, include: tuple[str, ...] = ()) -> str:
    """The shell command that puts ``repo`` in the hub cache (``hf`` is huggingface_hub's CLI)."""
    inc = " ".join(f'"{p}"' for p in include)
    return f"hf download {repo}" + (f" --include {inc}" if inc else "")


@contextlib.contextmanager
def _quiet_transformers():
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # unused text-tower / pooler weights are expected
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)


def load_model(model_cls, repo: str, *, pretrained: bool, arch: dict, config_cls, overrides: dict | None,
               fetch: str, ignore_missing: tuple[str, ...] = (), **kwargs) -> nn.Module:
    """``model_cls`` with the weights of ``repo`` from the cache (``pretrained``) or random weights of
    ``config_cls(**arch, **overrides)``. Float32, eval mode.

    Weights that the checkpoint does not provide (other than names containing one of
    ``ignore_missing``) are a ValueError: a checkpoint of another architecture must not start randomly.
    """
    if not pretrained:
        return model_cls(config_cls(**{**arch, **(overrides or {})}), **kwargs).float().eval()
    if overrides:
        raise ValueError("--backbone-config overrides apply to --no-pretrained (random) backbones only")
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    cache = hf_cache_dir()
    try:
        with _quiet_transformers():
            model, info = model_cls.from_pretrained(repo, cache_dir=cache, local_files_only=not downloads_allowed(),
                                                    output_loading_info=True, dtype=torch.float32, **kwargs)
    except (OSError, LocalEntryNotFoundError, HfHubHTTPError) as e:
        raise PretrainedWeightsMissing(missing_message(f"The weights of {repo}", cache, fetch)) from e
    missing = [k for k in info.get("missing_keys", []) if not any(s in k for s in ignore_missing)]
    if missing:
        raise ValueError(f"{repo} does not hold the weights of a {model_cls.__name__} (missing: "
                         f"{', '.join(sorted(missing)[:3])}{' ...' if len(missing) > 3 else ''})")
    return model.float().eval()


def _field(size, key: str):
    return size.get(key) if isinstance(size, dict) else getattr(size, key, None)


def processor_preprocess(p) -> dict:
    """Preprocessing of a transformers image processor as ``set_preprocess`` keywords:
    resize+centre-crop processors (CLIP, DINOv2) -> ``shortest`` with ``crop_pct = crop / short side``;
    fixed height x width processors (SigLIP, ViT) -> ``squash``."""
    size, crop = p.size, getattr(p, "crop_size", None)
    short, height = _field(size, "shortest_edge"), _field(size, "height")
    crop_h = _field(crop, "height") if crop is not None else None
    center = bool(getattr(p, "do_center_crop", False)) and crop_h
    if short:
        s = int(crop_h) if center else int(short)
        kw = {"input_size": s, "resize": "shortest", "crop_pct": s / int(short)}
    elif height:
        s = int(crop_h) if center else int(height)
        kw = {"input_size": s, "resize": "squash", "crop_pct": s / int(height)}
    else:
        raise ValueError(f"unsupported image-processor size {size!r}")
    resample = getattr(p, "resample", 3)
    code = resample.value if hasattr(resample, "value") else resample
    kw["interpolation"] = _RESAMPLE.get(code, "bicubic") if isinstance(code, int) else str(code).lower()
    if getattr(p, "do_normalize", True):
        kw["mean"], kw["std"] = tuple(p.image_mean), tuple(p.image_std)
    else:
        kw["mean"], kw["std"] = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    return kw


def load_preprocess(processor_cls, repo: str, *, pretrained: bool, defaults: dict) -> dict:
    """Preprocessing from ``repo``'s ``preprocessor_config.json`` in the cache (pretrained), else from
    ``processor_cls(**defaults)`` (the hub config's values, for random weights or a cache without it)."""
    if pretrained:
        try:
            with _quiet_transformers():
                p = processor_cls.from_pretrained(repo, cache_dir=hf_cache_dir(),
                                                  local_files_only=not downloads_allowed())
            return processor_preprocess(p)
        except OSError as e:
            log.warning("%s: no image-processor config in the cache (%s); using the published values %s",
                        repo, str(e).splitlines()[0][:120], defaults)
    return processor_preprocess(processor_cls(**defaults))


class HFStem(nn.Module):
    """Patch + position embeddings (interpolated when ``interpolate``; DINOv2 always interpolates),
    then an optional pre-norm (CLIP): ``(B, 3, S, S)`` -> tokens ``(B, prefix + (S/p)^2, D)``."""

    def __init__(self, embeddings: nn.Module, pre_norm: nn.Module | None = None, interpolate: bool = True):
        super().__init__()
        self.embeddings = embeddings
        if pre_norm is not None:
            self.pre_norm = pre_norm
        self.interpolate = interpolate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        h = self.embeddings(x, interpolate_pos_encoding=True) if self.interpolate else self.embeddings(x)
        return self.pre_norm(h) if hasattr(self, "pre_norm") else h


class ClsFinish(nn.Module):
    """Final LayerNorm of the CLS token: ``(B, T, D)`` -> ``(B, D)`` (ViT, CLIP's pooler output, DINOv2)."""

    def __init__(self, layernorm: nn.Module):
        super().__init__()
        self.layernorm = layernorm

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.layernorm(h[:, 0])


class HeadFinish(nn.Module):
    """Final LayerNorm of every token, then the model's pooling head (SigLIP's attention pooling), or
    the token mean without a head: ``(B, T, D)`` -> ``(B, D)``."""

    def __init__(self, layernorm: nn.Module, head: nn.Module | None):
        super().__init__()
        self.layernorm = layernorm
        if head is not None:
            self.head = head

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = self.layernorm(h)
        return self.head(h) if hasattr(self, "head") else h.mean(dim=1)


def encoder_layers(model: nn.Module) -> list[nn.Module]:
    """The transformer layers of a transformers vision model (v5 flat ``layers`` or ``encoder.layer(s)``)."""
    for path in ("layers", "encoder.layers", "encoder.layer"):
        obj = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
        if obj is not None:
            return list(obj)
    raise AttributeError(f"{type(model).__name__}: no encoder layers found")
