"""The reference projects' architectures as registered backbones (``create_model(name)``).

- ``resnet34`` / ``resnet50`` / ``resnet101`` / ``resnet152``: torchvision ResNets, ImageNet
  weights (``DEFAULT``: V1 for ResNet-34, V2 for the others). The reference that "retrained only
  the final layer" of ResNet-50 is the recipe ``--backbone resnet50 --mode frozen --head linear``
  (frozen backbone, one linear layer on its pooled 2048-d features).
- ``alexnet``: torchvision AlexNet ``features`` + adaptive 6x6 pooling, flattened to
  ``256*6*6 = 9216`` (use with ``--head alexnet``: FC 244 -> cells + 2-output regressor).
- ``vit_b16_in21k``: ``google/vit-base-patch16-224-in21k`` through ``transformers``; the
  feature is the CLS token after the final LayerNorm, 768-d (use with ``--head vit_mlp``).

Pretrained weights are read only from the libraries' own caches (torch hub
``$TORCH_HOME/hub/checkpoints``; Hugging Face ``$HF_HOME/hub``); when absent,
:class:`~model.backbones.PretrainedWeightsMissing` says how to fetch them, before any network
access is attempted. ``pretrained=False`` (``--no-pretrained``) builds random weights.

All of them are block-structured (``stem -> blocks -> finish``) so the trunk can be cached and
the last blocks fine-tuned: ResNet blocks are its residual blocks (16 for ResNet-50), AlexNet's
are its 5 conv stages, ViT's its 12 encoder layers (trunk maps are token sequences (B, 197, 768)).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from .backbones import BackboneSpec, PretrainedWeightsMissing, register

VIT_ID = "google/vit-base-patch16-224-in21k"
_IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
_HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
RESNETS = {"resnet34": "ResNet34_Weights", "resnet50": "ResNet50_Weights",
           "resnet101": "ResNet101_Weights", "resnet152": "ResNet152_Weights"}


class BlockBackbone(nn.Module):
    """``stem`` -> ``blocks[0..n)`` -> ``finish``: images ``(B, 3, S, S)`` -> features ``(B, feature_dim)``.

    ``forward_trunk(x, k)`` runs the stem and blocks ``[0, k)`` (a feature map or token sequence);
    ``forward_tail(h, k)`` runs blocks ``[k, n)`` and ``finish`` (pooling) on it.
    """

    def __init__(self, stem: nn.Module, blocks: list[nn.Module], finish: nn.Module, feature_dim: int):
        super().__init__()
        self.stem, self.blocks, self.finish = stem, nn.ModuleList(blocks), finish
        self.feature_dim, self.num_blocks = feature_dim, len(blocks)

    def forward_trunk(self, x: torch.Tensor, start_block: int) -> torch.Tensor:
        """``(B, 3, S, S)`` -> output of block ``start_block - 1`` (the stem's if 0)."""
        x = self.stem(x)
        for b in self.blocks[:start_block]:
            x = b(x)
        return x

    def forward_tail(self, h: torch.Tensor, start_block: int) -> torch.Tensor:
        """Blocks ``[start_block, n)`` and ``finish``: trunk output -> ``(B, feature_dim)``."""
        for b in self.blocks[start_block:]:
            h = b(h)
        return self.finish(h)

    def tail_modules(self, start_block: int) -> list[nn.Module]:
        """The modules :meth:`forward_tail` runs (the ones fine-tuning unfreezes)."""
        return list(self.blocks[start_block:]) + [self.finish]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_tail(self.forward_trunk(x, 0), 0)

    def gradcam_layer(self) -> nn.Module:
        """Grad-CAM's target (read by the Predictor): the last block, whose output is the last
        spatial map of a CNN. ViT overrides it (tokens are not a map)."""
        return self.blocks[-1]


class ViTBackbone(BlockBackbone):
    """:class:`BlockBackbone` over ViT tokens; Grad-CAM targets the patch projection, the only (B, D, h, w) map."""

    def gradcam_layer(self) -> nn.Module:
        return self.stem.embeddings.patch_embeddings.projection


# -- torchvision: ResNet, AlexNet ------------------------------------------------------------------
def torch_hub_file(weights) -> Path:
    """Where torchvision caches ``weights`` (a ``WeightsEnum`` member): ``$TORCH_HOME/hub/checkpoints/<file>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def torchvision_state(arch: str, weights) -> dict[str, torch.Tensor]:
    """The state dict of ``weights`` from torchvision's cache, or :class:`PretrainedWeightsMissing`."""
    f = torch_hub_file(weights)
    if not f.is_file():
        raise PretrainedWeightsMissing(
            f"ImageNet weights for {arch} ({weights}) are not in the torch hub cache: {f} is missing. "
            f"On a machine with internet run: python -c \"import torchvision; "
            f"torchvision.models.{arch}(weights='DEFAULT')\" (or download {weights.url} to {f}; "
            "set TORCH_HOME to use another cache), or pass --no-pretrained to train from random weights.")
    return weights.get_state_dict(progress=False, check_hash=False)  # reads the cached file, no download


def resnet(arch: str, pretrained: bool = True, **_) -> BlockBackbone:
    """torchvision ResNet as a :class:`BlockBackbone`; ``feature_dim`` 512 (ResNet-34) or 2048."""
    import torchvision.models as tvm

    weights = getattr(tvm, RESNETS[arch]).DEFAULT
    state = torchvision_state(arch, weights) if pretrained else None
    net = getattr(tvm, arch)(weights=None)
    if state is not None:
        net.load_state_dict(state)
    stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
    blocks = [b for layer in (net.layer1, net.layer2, net.layer3, net.layer4) for b in layer]
    finish = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return BlockBackbone(stem, blocks, finish, net.fc.in_features)


def alexnet(pretrained: bool = True, **_) -> BlockBackbone:
    """torchvision AlexNet features, 5 conv stages as blocks, adaptive 6x6 pooling -> ``(B, 9216)``."""
    import torchvision.models as tvm

    weights = tvm.AlexNet_Weights.DEFAULT
    state = torchvision_state("alexnet", weights) if pretrained else None
    net = tvm.alexnet(weights=None)
    if state is not None:
        net.load_state_dict(state)
    f = net.features  # conv-relu-pool, conv-relu-pool, conv-relu, conv-relu, conv-relu-pool
    blocks = [f[0:3], f[3:6], f[6:8], f[8:10], f[10:13]]
    finish = nn.Sequential(nn.AdaptiveAvgPool2d((6, 6)), nn.Flatten())
    return BlockBackbone(nn.Identity(), blocks, finish, 256 * 6 * 6)


# -- transformers: ViT ------------------------------------------------------------------------------
class _ViTStem(nn.Module):
    """Patch + position embeddings: ``(B, 3, S, S)`` -> tokens ``(B, 1 + (S/16)^2, D)``; positions are
    interpolated for inputs other than the configured size."""

    def __init__(self, embeddings: nn.Module):
        super().__init__()
        self.embeddings = embeddings

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embeddings(x.contiguous(), interpolate_pos_encoding=True)


class _ViTFinish(nn.Module):
    """Final LayerNorm, then the CLS token: ``(B, T, D)`` -> ``(B, D)``."""

    def __init__(self, layernorm: nn.Module):
        super().__init__()
        self.layernorm = layernorm

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.layernorm(h)[:, 0]


def hf_cache_dir() -> str:
    """The Hugging Face hub cache, read from the environment at call time (``HF_HUB_CACHE``, ``HF_HOME``)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return os.path.join(home, "hub")


def vit(pretrained: bool = True, config: dict | None = None, **_) -> ViTBackbone:
    """ViT-B/16 (ImageNet-21k) from ``transformers``; ``config`` overrides ``ViTConfig`` fields when
    building random weights (e.g. a tiny model for tests). Output ``(B, hidden_size)``."""
    from transformers import ViTConfig, ViTModel
    from transformers.utils import logging as hf_logging

    if pretrained:
        if config:
            raise ValueError("config overrides apply to --no-pretrained (random) ViTs only")
        cache = hf_cache_dir()
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # the unused pooler weights are expected
        try:
            model = ViTModel.from_pretrained(VIT_ID, local_files_only=True, cache_dir=cache, add_pooling_layer=False)
        except OSError as e:
            raise PretrainedWeightsMissing(
                f"{VIT_ID} is not in the Hugging Face cache {cache}. On a machine with internet run: "
                f"hf download {VIT_ID} (or python -c \"from transformers import ViTModel; "
                f"ViTModel.from_pretrained('{VIT_ID}')\"; set HF_HOME to use another cache), "
                "or pass --no-pretrained to train from random weights.") from e
        finally:
            hf_logging.set_verbosity(verbosity)
    else:
        model = ViTModel(ViTConfig(**(config or {})), add_pooling_layer=False)
    layers = model.layers if hasattr(model, "layers") else model.encoder.layer  # transformers 5 / 4
    return ViTBackbone(_ViTStem(model.embeddings), list(layers), _ViTFinish(model.layernorm), model.config.hidden_size)


def _register_all() -> None:
    for arch in RESNETS:
        register(arch, BackboneSpec(lambda pretrained=True, _a=arch, **k: resnet(_a, pretrained, **k), 224,
                                    *_IMAGENET, f"torchvision {arch}, ImageNet weights from the torch hub cache"))
    register("alexnet", BackboneSpec(alexnet, 224, *_IMAGENET,
                                     "torchvision AlexNet features (256*6*6), use with --head alexnet"))
    register("vit_b16_in21k", BackboneSpec(vit, 224, *_HALF,
                                           f"{VIT_ID} (transformers), CLS features, use with --head vit_mlp"))


_register_all()
