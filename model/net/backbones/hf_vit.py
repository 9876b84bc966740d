"""``vit_b16_in21k``: ``google/vit-base-patch16-224-in21k`` through ``transformers`` (the reference
projects' ViT). The feature is the CLS token after the final LayerNorm, 768-d (use with
``--head vit_mlp``); blocks are its 12 encoder layers (trunk maps are tokens ``(B, 197, 768)``).

Its preprocessing stays the project's original one (short side + centre crop, bilinear, mean/std
0.5) so results compare with earlier runs; the hub's own processor squashes to 224 x 224.
"""
from __future__ import annotations

from .blocks import TokenBackbone
from .hf import ClsFinish, HFStem, encoder_layers, fetch_command, load_model
from .registry import BackboneSpec, register

VIT_ID = "google/vit-base-patch16-224-in21k"
_HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def vit(pretrained: bool = True, config: dict | None = None, **_) -> TokenBackbone:
    """ViT-B/16 (ImageNet-21k); ``config`` overrides ``ViTConfig`` fields when building random
    weights (e.g. a tiny model for tests). Output ``(B, hidden_size)``."""
    from transformers import ViTConfig, ViTModel

    model = load_model(ViTModel, VIT_ID, pretrained=pretrained, arch={}, config_cls=ViTConfig, overrides=config,
                       fetch=fetch_command(VIT_ID), ignore_missing=("pooler",), add_pooling_layer=False)
    return TokenBackbone(HFStem(model.embeddings), encoder_layers(model), ClsFinish(model.layernorm),
                         model.config.hidden_size, num_prefix_tokens=1, norm_attr="layernorm_before")


register("vit_b16_in21k", BackboneSpec(vit, 224, *_HALF, f"{VIT_ID} (transformers), CLS features, use with --head vit_mlp",
                                       library="transformers ViTModel", weights=VIT_ID, fetch=fetch_command(VIT_ID)))
