"""CLIP's image side as one module: the vision tower as the project's
:class:`~model.net.backbones.blocks.TokenBackbone` (so Grad-CAM and the ViT token reshape work as for the
backbones) followed by the text-aligned visual projection: images ``(B, 3, S, S)`` -> ``(B, P)``
(P = ``projection_dim``: 768 for ViT-L/14, 512 for ViT-B/32; not normalised).

:func:`load_clip` loads a hub repository's ``CLIPModel`` (text tower included: the zero-shot predictors
need it) or only its vision tower with projection (``CLIPVisionModelWithProjection``, GeoCLIP), from the
local cache only, after :func:`model.predictors.weights.require` checked the files.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from model.net.backbones.blocks import TokenBackbone
from model.net.backbones.clip import CLIP_MEAN, CLIP_STD
from model.net.backbones.hf import ClsFinish, HFStem, encoder_layers, load_model, load_preprocess
from model.net.backbones.registry import set_preprocess

from .weights import WeightsInfo, require


class ClipImageTower(nn.Module):
    """``backbone`` (stem, encoder layers, CLS post-norm) then ``projection``: ``(B, 3, S, S)`` -> ``(B, P)``.
    The backbone carries the repository's preprocessing (input size, resize, bicubic, CLIP mean/std)."""

    def __init__(self, vision_model: nn.Module, projection: nn.Module, preprocess: dict):
        super().__init__()
        vm = vision_model
        self.backbone = set_preprocess(
            TokenBackbone(HFStem(vm.embeddings, vm.pre_layrnorm), encoder_layers(vm), ClsFinish(vm.post_layernorm),
                          vm.config.hidden_size if hasattr(vm, "config") else vm.post_layernorm.normalized_shape[0],
                          num_prefix_tokens=1, norm_attr="layer_norm1", block_args=(None,)),
            **preprocess)
        self.projection = projection

    @property
    def output_dim(self) -> int:
        return int(self.projection.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(self.backbone(x))


def image_preprocess(repo: str, image_size: int) -> dict:
    """The repository's image preprocessing (``preprocessor_config.json`` in the cache; else CLIP's
    published values at ``image_size``) as :func:`set_preprocess` keywords."""
    from transformers import CLIPImageProcessor

    return load_preprocess(CLIPImageProcessor, repo, pretrained=True,
                           defaults=dict(size={"shortest_edge": image_size},
                                         crop_size={"height": image_size, "width": image_size}, resample=3,
                                         image_mean=CLIP_MEAN, image_std=CLIP_STD))


def load_clip(info: WeightsInfo, vision_only: bool = False) -> tuple[nn.Module, ClipImageTower]:
    """(the loaded model, its image tower) of ``info.repo``, float32, eval mode, from the cache only.

    ``vision_only``: a ``CLIPVisionModelWithProjection`` (vision tower + projection: the text tower's
    weights are never read into memory); else the whole ``CLIPModel``. Raises
    :class:`~model.predictors.weights.WeightsMissing` when files are missing."""
    from model.net.backbones.registry import PretrainedWeightsMissing

    from .weights import WeightsMissing

    require(info)
    try:
        with _no_loading_bars():
            return _load(info, vision_only)
    except WeightsMissing:
        raise
    except PretrainedWeightsMissing as e:  # the cache passed the file check but would not load
        raise WeightsMissing(info, ["a loadable copy of the weights"]) from e


@contextlib.contextmanager
def _no_loading_bars():
    """transformers draws a "Loading weights" bar per model; a predictor's load is one step of its own."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def _load(info: WeightsInfo, vision_only: bool) -> tuple[nn.Module, ClipImageTower]:
    from transformers import CLIPConfig, CLIPModel, CLIPVisionModelWithProjection

    if vision_only:
        cfg = _config(info)
        vcfg = cfg.vision_config
        vcfg.projection_dim = cfg.projection_dim  # the projection's size is the top-level value
        model = load_model(CLIPVisionModelWithProjection, info.repo, pretrained=True, arch={}, config_cls=CLIPConfig,
                           overrides=None, fetch=info.command, config=vcfg)
    else:
        model = load_model(CLIPModel, info.repo, pretrained=True, arch={}, config_cls=CLIPConfig, overrides=None,
                           fetch=info.command)
    vm = model.vision_model
    tower = ClipImageTower(vm, model.visual_projection, image_preprocess(info.repo, vm.config.image_size))
    return model, tower.eval()


def _config(info: WeightsInfo):
    from transformers import CLIPConfig

    from model.net.backbones.hf import hf_cache_dir

    from .weights import WeightsMissing, local_files_only

    try:
        return CLIPConfig.from_pretrained(info.repo, cache_dir=hf_cache_dir(), local_files_only=local_files_only())
    except OSError as e:
        raise WeightsMissing(info, ["config.json"]) from e
