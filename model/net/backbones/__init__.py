"""The backbone registry and its model families, one module each:

- :mod:`.registry`: ``create_model(name)``, ``BACKBONES``, ``BackboneSpec``, ``register``,
  ``PretrainedWeightsMissing`` and the preprocessing attributes every backbone carries.
- :mod:`.blocks`: the block-structured backbone (stem -> blocks -> finish) shared by the families.
- :mod:`.efficientnet`: EfficientNet-Lite0/1/2 (the default) and the ``geocnn`` baseline.
- :mod:`.torchvision_zoo`: ResNet-34/50/101/152 and AlexNet (torchvision).
- :mod:`.hf_vit`, :mod:`.clip`, :mod:`.dinov2`, :mod:`.siglip`: ViT-B/16 in21k, StreetCLIP and
  OpenAI CLIP, DINOv2, SigLIP (``transformers``; shared loading in :mod:`.hf`).
- :mod:`.timm_any`: ``timm:<model name>``, any timm model.

Importing the package registers every family; heavy libraries are imported only when a model is built.
See ``docs/backbones.md`` for the table of names.
"""
from .registry import (BACKBONES, BackboneSpec, PretrainedWeightsMissing, backbone_arg, backbone_config_arg,
                       create_model, get_spec, known_names, preprocess_of, register, set_preprocess)
from . import efficientnet, torchvision_zoo, hf_vit, clip, dinov2, siglip, timm_any  # noqa: E402,F401  (register)

__all__ = ["BACKBONES", "BackboneSpec", "PretrainedWeightsMissing", "backbone_arg", "backbone_config_arg",
           "create_model", "get_spec", "known_names", "preprocess_of", "register", "set_preprocess"]
