"""SigLIP vision towers (Google, sigmoid-loss CLIP on WebLI) through ``transformers``
(``SiglipVisionModel``).

- ``siglip_vitb16_224``: ``google/siglip-base-patch16-224`` (12 blocks, 768-d).
- ``siglip_so400m14_384``: ``google/siglip-so400m-patch14-384`` (27 blocks, 1152-d).

No CLS token: the feature is the model's attention-pooling head (MAP) over the final-LayerNorm
tokens, ``(B, hidden_size)``. Preprocessing from the repo's ``preprocessor_config.json``: the whole
image squashed to a square (no crop), bicubic, mean/std 0.5.
"""
from __future__ import annotations

from .blocks import TokenBackbone
from .hf import HeadFinish, HFStem, encoder_layers, fetch_command, load_model, load_preprocess
from .registry import BackboneSpec, register, set_preprocess

_HALF = (0.5, 0.5, 0.5)
_FILES = ("*.json", "model.safetensors")
SIGLIPS = {
    "siglip_vitb16_224": ("google/siglip-base-patch16-224", dict(image_size=224, patch_size=16), "SigLIP ViT-B/16, 224 px"),
    "siglip_so400m14_384": ("google/siglip-so400m-patch14-384",
                            dict(image_size=384, patch_size=14, hidden_size=1152, intermediate_size=4304,
                                 num_hidden_layers=27, num_attention_heads=16), "SigLIP So400m/14, 384 px"),
}


def siglip(name: str, pretrained: bool = True, config: dict | None = None, **_) -> TokenBackbone:
    """SigLIP entry ``name`` as a :class:`TokenBackbone` (patch tokens only)."""
    from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

    repo, arch, _ = SIGLIPS[name]
    model = load_model(SiglipVisionModel, repo, pretrained=pretrained, arch=arch, config_cls=SiglipVisionConfig,
                       overrides=config, fetch=fetch_command(repo, _FILES))
    s = model.config.image_size
    pp = load_preprocess(SiglipImageProcessor, repo, pretrained=pretrained,
                         defaults=dict(size={"height": s, "width": s}, resample=3, image_mean=_HALF, image_std=_HALF))
    head = model.head if getattr(model, "use_head", True) and hasattr(model, "head") else None
    bb = TokenBackbone(HFStem(model.embeddings), encoder_layers(model), HeadFinish(model.post_layernorm, head),
                       model.config.hidden_size, num_prefix_tokens=0, norm_attr="layer_norm1", block_args=(None,))
    return set_preprocess(bb, **pp)


def _register_all() -> None:
    for name, (repo, arch, words) in SIGLIPS.items():
        register(name, BackboneSpec(lambda pretrained=True, _n=name, **k: siglip(_n, pretrained, **k),
                                    arch["image_size"], _HALF, _HALF,
                                    f"{words}; {repo} (transformers SiglipVisionModel), attention-pooled features",
                                    resize="squash", interpolation="bicubic", library="transformers SiglipVisionModel",
                                    weights=repo, fetch=fetch_command(repo, _FILES)))


_register_all()
