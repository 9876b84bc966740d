"""``timm:<model name>``: any model of ``timm`` (``timm.list_models()``, optionally with a pretrained
tag such as ``timm:convnext_tiny.fb_in22k``) as a backbone.

Features are the model's own pre-logits (``forward_head(forward_features(x), pre_logits=True)``).
Preprocessing is ``timm.data.resolve_data_config`` of the model (input size, mean/std,
interpolation, ``crop_pct``, ``crop_mode`` ``squash`` -> squash resize, else short side + centre crop).

Block structure, read from the model's class (the layouts whose ``forward_features`` is replicated
exactly): ``VisionTransformer`` (blocks = transformer blocks; its CLIP, DINOv2, SigLIP, DeiT and
AugReg weights), ``ConvNeXt`` (the blocks of every stage; a stage's downsampling joins its first
block), ``ResNet`` (residual blocks) and ``EfficientNet`` (MBConv blocks). Any other model is one
block (``--finetune-blocks`` >= 1 trains all of it).

Weights: the pretrained tag's Hugging Face repo (``timm/...``) read from the hub cache, or the
torch hub cache for URL-only weights; downloaded only with ``GEOLOC_DOWNLOAD_WEIGHTS=1``.
``config`` (``--backbone-config``) passes keyword arguments to ``timm.create_model`` (random
weights), e.g. ``{"depth": 2, "embed_dim": 64, "num_heads": 2}``.
"""
from __future__ import annotations

import os
from pathlib import Path
import torch
from torch import nn

from .blocks import TokenReshape
from .hf import hf_cache_dir
from .registry import (BackboneSpec, PretrainedWeightsMissing, downloads_allowed, missing_message,
                       register_prefix, set_preprocess)


class TimmBackbone(nn.Module):
    """A timm model split into stem, blocks and finish, with the interface of
    :class:`~model.net.backbones.blocks.BlockBackbone` (``forward_trunk``/``forward_tail``/``tail_modules``).

    The timm model stays whole in ``self.model`` (its own state-dict names); block ``i`` runs the
    submodules named ``block_names[i]`` in order, the finish the model's own head
    (``finish_names`` are the modules it trains).
    """

    def __init__(self, model: nn.Module, layout: str, block_names: list[list[str]], finish_names: list[str],
                 num_prefix_tokens: int = 0):
        super().__init__()
        self.model, self.layout = model, layout
        self.block_names, self.finish_names = block_names, finish_names
        self.num_blocks, self.num_prefix_tokens = len(block_names), int(num_prefix_tokens)
        self.feature_dim = int(getattr(model, "head_hidden_size", None) or model.num_features)

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        m, lay = self.model, self.layout
        if lay == "vit":
            return m.norm_pre(m.patch_drop(m._pos_embed(m.patch_embed(x))))
        if lay == "convnext":
            return m.stem(x)
        if lay == "resnet":
            return m.maxpool(m.act1(m.bn1(m.conv1(x))))
        if lay == "efficientnet":
            return m.bn1(m.conv_stem(x))
        return x

    def _block(self, i: int, x: torch.Tensor) -> torch.Tensor:
        if self.layout == "whole":
            return self.model.forward_features(x)
        for n in self.block_names[i]:
            x = self.model.get_submodule(n)(x)
        return x

    def _finish(self, h: torch.Tensor) -> torch.Tensor:
        m, lay = self.model, self.layout
        if lay == "vit":
            h = m.norm(h)
        elif lay == "convnext":
            h = m.norm_pre(h)
        elif lay == "efficientnet":
            h = m.bn2(m.conv_head(h))
        return m.forward_head(h, pre_logits=True)

    def forward_trunk(self, x: torch.Tensor, start_block: int) -> torch.Tensor:
        """``(B, 3, S, S)`` -> output of block ``start_block - 1``: a map ``(B, C, h, w)`` or tokens ``(B, T, D)``."""
        x = self._stem(x)
        for i in range(start_block):
            x = self._block(i, x)
        return x

    def forward_tail(self, h: torch.Tensor, start_block: int) -> torch.Tensor:
        """Blocks ``[start_block, n)`` and the model's own pooling -> ``(B, feature_dim)``."""
        for i in range(start_block, self.num_blocks):
            h = self._block(i, h)
        return self._finish(h)

    def tail_modules(self, start_block: int) -> list[nn.Module]:
        """The modules :meth:`forward_tail` runs (the ones fine-tuning unfreezes)."""
        names = [n for ns in self.block_names[start_block:] for n in ns] + self.finish_names
        return [self.model.get_submodule(n) if n else self.model for n in names]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_tail(self.forward_trunk(x, 0), 0)

    def gradcam_layer(self) -> nn.Module:
        """ViTs: the last block's first norm (tokens, see TokenBackbone); CNNs: the last block (the
        last map before pooling); one-block models: their last Conv2d."""
        if self.layout == "vit":
            return self.model.blocks[-1].norm1
        if self.layout == "whole":
            return [m for m in self.model.modules() if isinstance(m, nn.Conv2d)][-1]
        return self.model.get_submodule(self.block_names[-1][-1])

    def gradcam_reshape(self) -> TokenReshape | None:
        return TokenReshape(self.num_prefix_tokens) if self.layout == "vit" else None


def _split(model: nn.Module) -> TimmBackbone:
    """The finest exactly replicated layout of ``model`` (see the module docstring)."""
    from timm.models.convnext import ConvNeXt
    from timm.models.efficientnet import EfficientNet
    from timm.models.resnet import ResNet
    from timm.models.vision_transformer import VisionTransformer

    m, t = model, type(model)
    has = lambda *names: [n for n in names if isinstance(getattr(m, n, None), nn.Module)]  # noqa: E731
    if isinstance(m, VisionTransformer) and t.forward_features is VisionTransformer.forward_features:
        return TimmBackbone(m, "vit", [[f"blocks.{i}"] for i in range(len(m.blocks))],
                            has("norm", "attn_pool", "fc_norm", "head_drop"), m.num_prefix_tokens)
    if isinstance(m, ConvNeXt) and t.forward_features is ConvNeXt.forward_features:
        names = [([f"stages.{s}.downsample"] if i == 0 else []) + [f"stages.{s}.blocks.{i}"]
                 for s, st in enumerate(m.stages) for i in range(len(st.blocks))]
        return TimmBackbone(m, "convnext", names, has("norm_pre", "head"))
    if isinstance(m, ResNet) and t.forward_features is ResNet.forward_features:
        names = [[f"layer{k}.{i}"] for k in range(1, 5) for i in range(len(getattr(m, f"layer{k}")))]
        return TimmBackbone(m, "resnet", names, has("global_pool"))
    if isinstance(m, EfficientNet) and t.forward_features is EfficientNet.forward_features:
        names = [[f"blocks.{s}.{i}"] for s, st in enumerate(m.blocks) for i in range(len(st))]
        return TimmBackbone(m, "efficientnet", names, has("conv_head", "bn2", "global_pool"))
    return TimmBackbone(m, "whole", [[""]], [])


def _weights_file(name: str, model_cfg: dict) -> str:
    """Local file of the pretrained weights of timm model ``name`` (hub cache or torch hub cache),
    downloaded only when allowed; else :class:`PretrainedWeightsMissing` with the fetch command."""
    hub_id, url = model_cfg.get("hf_hub_id"), model_cfg.get("url")
    if hub_id:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

        repo = hub_id.rstrip("/")
        files = [model_cfg["hf_hub_filename"]] if model_cfg.get("hf_hub_filename") else \
            ["model.safetensors", "pytorch_model.bin"]
        for f in files:
            try:
                return hf_hub_download(repo, f, cache_dir=hf_cache_dir(), local_files_only=not downloads_allowed())
            except (OSError, LocalEntryNotFoundError, HfHubHTTPError):
                continue
        raise PretrainedWeightsMissing(missing_message(f"The weights of timm:{name} ({repo})", hf_cache_dir(),
                                                       f"hf download {repo} {files[0]}"))
    if url:
        f = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)
        if f.is_file():
            return str(f)
        if downloads_allowed():
            torch.hub.download_url_to_file(url, str(f))
            return str(f)
        raise PretrainedWeightsMissing(missing_message(f"The weights of timm:{name}", str(f.parent),
                                                       f"python -c \"import timm; timm.create_model('{name}', pretrained=True)\""))
    raise PretrainedWeightsMissing(f"timm has no pretrained weights for {name!r}; pass --no-pretrained "
                                   "(or name a pretrained tag: python -c \"import timm; print(timm.list_pretrained('"
                                   f"{name.split('.')[0]}*'))\")")


def timm_model(name: str, pretrained: bool = True, config: dict | None = None, **_) -> TimmBackbone:
    """Build ``timm.create_model(name, num_classes=0)`` (weights from the local caches when
    ``pretrained``) as a :class:`TimmBackbone` with its data config as preprocessing."""
    import timm
    from timm.data import resolve_data_config

    kwargs = dict(config or {})
    if pretrained:
        cfg = timm.models.get_pretrained_cfg(name) or timm.models.get_pretrained_cfg(name.split(".")[0])
        if cfg is None:
            raise PretrainedWeightsMissing(f"timm has no pretrained configuration for {name!r}; pass --no-pretrained")
        kwargs["pretrained_cfg_overlay"] = dict(file=_weights_file(name, cfg.to_dict()))
    try:
        model = timm.create_model(name, pretrained=pretrained, num_classes=0, **kwargs).eval()
    except TypeError as e:  # an argument the model's constructor does not take
        raise ValueError(f"timm:{name} does not take --backbone-config {config}: {e}") from e
    dc = resolve_data_config({}, model=model)
    size = int(dc["input_size"][-1])
    img = getattr(getattr(model, "patch_embed", None), "img_size", None)
    if config and img:  # random weights at another size: the model's own size
        size = int(img[0] if isinstance(img, (tuple, list)) else img)
    interp = dc.get("interpolation", "bicubic")
    bb = _split(model)
    pe = getattr(model, "patch_embed", None)  # timm ViTs check the input size unless built dynamic
    strict = getattr(pe, "strict_img_size", False) and not getattr(model, "dynamic_img_size", False)
    bb.fixed_input_size = size if strict else None
    return set_preprocess(bb, size, dc["mean"], dc["std"], "squash" if dc.get("crop_mode") == "squash" else "shortest",
                          interp if interp in ("bilinear", "bicubic", "nearest") else "bicubic",
                          float(dc.get("crop_pct", 1.0) or 1.0))


def resolve(rest: str) -> BackboneSpec:
    """The spec of ``timm:<rest>``; KeyError if timm has no such model."""
    import timm

    if not rest or not timm.is_model(rest):
        raise KeyError(f"timm has no model {rest!r} (list them: python -c \"import timm; "
                       f"print(timm.list_models('*{rest.split('.')[0][:12]}*'))\")")
    return BackboneSpec(lambda pretrained=True, **k: timm_model(rest, pretrained, **k), 224,
                        (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), f"timm {rest}", library="timm",
                        weights=f"timm/{rest}", fetch=f"hf download timm/{rest}")


register_prefix("timm", resolve)
