"""DINOv2 (Meta, self-supervised on LVD-142M) through ``transformers``: ``Dinov2Model`` and, for the
``_reg`` entries, ``Dinov2WithRegistersModel`` (4 register tokens after CLS).

Feature: the CLS token after the final LayerNorm (the model's pooler output), ``(B, hidden_size)``.
Blocks: the transformer layers (12 for S/B, 24 for L, 40 for g). Position embeddings are always
interpolated, so any input size that is a multiple of 14 works. Preprocessing from the repo's
``preprocessor_config.json``: short side 256, centre crop 224 (``crop_pct`` 0.875), bicubic,
ImageNet mean/std.
"""
from __future__ import annotations

from .blocks import TokenBackbone
from .hf import ClsFinish, HFStem, encoder_layers, fetch_command, load_model, load_preprocess
from .registry import BackboneSpec, register, set_preprocess

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_ARCH = {"s": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6),
         "b": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12),
         "l": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16),
         "g": dict(hidden_size=1536, num_hidden_layers=40, num_attention_heads=24, use_swiglu_ffn=True)}
_SIZE = {"s": "small", "b": "base", "l": "large", "g": "giant"}
_FILES = ("*.json", "model.safetensors")
DINOS = {f"dinov2_vit{k}14": (f"facebook/dinov2-{v}", k, False) for k, v in _SIZE.items()}
DINOS.update({f"dinov2_vit{k}14_reg": (f"facebook/dinov2-with-registers-{v}", k, True) for k, v in _SIZE.items()})


def dinov2(name: str, pretrained: bool = True, config: dict | None = None, **_) -> TokenBackbone:
    """DINOv2 entry ``name`` as a :class:`TokenBackbone` (CLS [+ 4 registers] + patch tokens)."""
    import transformers as tf

    repo, size, registers = DINOS[name]
    if registers:
        model_cls, config_cls = tf.Dinov2WithRegistersModel, tf.Dinov2WithRegistersConfig
    else:
        model_cls, config_cls = tf.Dinov2Model, tf.Dinov2Config
    arch = dict(_ARCH[size], patch_size=14, image_size=518, mlp_ratio=4, layerscale_value=1.0)
    model = load_model(model_cls, repo, pretrained=pretrained, arch=arch, config_cls=config_cls,
                       overrides=config, fetch=fetch_command(repo, _FILES))
    s = int(config["image_size"]) if config and "image_size" in config else 224  # the hub processor's crop
    pp = load_preprocess(tf.BitImageProcessor, repo, pretrained=pretrained,
                         defaults=dict(size={"shortest_edge": round(s * 256 / 224)}, crop_size={"height": s, "width": s},
                                       resample=3, image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD))
    if getattr(model.embeddings, "mask_token", None) is not None:  # only for masked pretraining: never used
        model.embeddings.mask_token = None  # here, and an unused parameter would stop DDP in --mode full
    prefix = 1 + (model.config.num_register_tokens if registers else 0)
    bb = TokenBackbone(HFStem(model.embeddings, interpolate=False), encoder_layers(model), ClsFinish(model.layernorm),
                       model.config.hidden_size, num_prefix_tokens=prefix, norm_attr="norm1")
    return set_preprocess(bb, **pp)


def _register_all() -> None:
    for name, (repo, size, registers) in DINOS.items():
        words = f"DINOv2 ViT-{size.upper()}/14" + (" with registers" if registers else "")
        register(name, BackboneSpec(lambda pretrained=True, _n=name, **k: dinov2(_n, pretrained, **k), 224,
                                    IMAGENET_MEAN, IMAGENET_STD, f"{words}; {repo} (transformers), CLS features",
                                    resize="shortest", interpolation="bicubic", crop_pct=0.875,
                                    library="transformers " + ("Dinov2WithRegistersModel" if registers else "Dinov2Model"),
                                    weights=repo, fetch=fetch_command(repo, _FILES)))


_register_all()
