"""CLIP vision towers through ``transformers`` (``CLIPVisionModel``): StreetCLIP and OpenAI's CLIP.

- ``streetclip``: ``geolocal/StreetCLIP``, CLIP ViT-L/14 at 336 px further pretrained on 1.1 M
  street-level images for geolocation (PIGEON's backbone); 24 blocks, 1024-d.
- ``clip_vit_b32`` / ``clip_vit_l14`` / ``clip_vit_l14_336``: OpenAI's weights
  (``openai/clip-vit-base-patch32``, ``-large-patch14``, ``-large-patch14-336``).

The hub repos hold the whole CLIP model; only the vision tower is loaded. The feature is CLIP's
pooler output (the CLS token after ``post_layernorm``, before the text-aligned projection):
``(B, hidden_size)``. Preprocessing from the repo's ``preprocessor_config.json``: short side to
the input size, centre crop, bicubic, CLIP mean/std.
"""
from __future__ import annotations

from .blocks import TokenBackbone
from .hf import ClsFinish, HFStem, encoder_layers, fetch_command, load_model, load_preprocess
from .registry import BackboneSpec, register, set_preprocess

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_L14 = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16, patch_size=14,
            projection_dim=768, hidden_act="quick_gelu")
_B32 = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12, patch_size=32,
            projection_dim=512, hidden_act="quick_gelu")
# name -> (hub repo, architecture of its vision tower, what fetches it, description)
CLIPS = {
    "streetclip": ("geolocal/StreetCLIP", dict(_L14, image_size=336), fetch_command("geolocal/StreetCLIP"),
                   "StreetCLIP: CLIP ViT-L/14-336 pretrained for geolocation (PIGEON's backbone)"),
    "clip_vit_b32": ("openai/clip-vit-base-patch32", dict(_B32, image_size=224), None, "OpenAI CLIP ViT-B/32"),
    "clip_vit_l14": ("openai/clip-vit-large-patch14", dict(_L14, image_size=224), None, "OpenAI CLIP ViT-L/14"),
    "clip_vit_l14_336": ("openai/clip-vit-large-patch14-336", dict(_L14, image_size=336), None,
                         "OpenAI CLIP ViT-L/14 at 336 px"),
}
_FILES = ("*.json", "*.txt", "model.safetensors")  # the OpenAI repos also hold TF and Flax copies


def clip_vision(name: str, pretrained: bool = True, config: dict | None = None, **_) -> TokenBackbone:
    """The vision tower of CLIP entry ``name`` as a :class:`TokenBackbone` (1 CLS + patch tokens)."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    repo, arch, fetch, _ = CLIPS[name]
    model = load_model(CLIPVisionModel, repo, pretrained=pretrained, arch=arch, config_cls=CLIPVisionConfig,
                       overrides=config, fetch=fetch or fetch_command(repo, _FILES))
    s = model.config.image_size
    pp = load_preprocess(CLIPImageProcessor, repo, pretrained=pretrained,
                         defaults=dict(size={"shortest_edge": s}, crop_size={"height": s, "width": s}, resample=3,
                                       image_mean=CLIP_MEAN, image_std=CLIP_STD))
    bb = TokenBackbone(HFStem(model.embeddings, model.pre_layrnorm), encoder_layers(model),
                       ClsFinish(model.post_layernorm), model.config.hidden_size, num_prefix_tokens=1,
                       norm_attr="layer_norm1", block_args=(None,))
    return set_preprocess(bb, **pp)


def _register_all() -> None:
    for name, (repo, arch, fetch, words) in CLIPS.items():
        s = arch["image_size"]
        register(name, BackboneSpec(lambda pretrained=True, _n=name, **k: clip_vision(_n, pretrained, **k), s,
                                    CLIP_MEAN, CLIP_STD, f"{words}; {repo} (transformers CLIPVisionModel)",
                                    resize="shortest", interpolation="bicubic", library="transformers CLIPVisionModel",
                                    weights=repo, fetch=fetch or fetch_command(repo, _FILES)))


_register_all()
