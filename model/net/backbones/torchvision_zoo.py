"""torchvision ResNets and AlexNet as block-structured backbones (the reference projects' CNNs).

- ``resnet34`` / ``resnet50`` / ``resnet101`` / ``resnet152``: ImageNet weights (``DEFAULT``: V1
  for ResNet-34, V2 for the others); blocks are the residual blocks (16 for ResNet-50). The
  reference that "retrained only the final layer" of ResNet-50 is the recipe
  ``--backbone resnet50 --mode frozen --head linear``.
- ``alexnet``: ``features`` as 5 conv stages + adaptive 6x6 pooling, flattened to ``256*6*6 = 9216``
  (use with ``--head alexnet``).

Weights are read only from torchvision's cache (``$TORCH_HOME/hub/checkpoints``); when absent,
:class:`~model.net.backbones.PretrainedWeightsMissing` says how to fetch them, before any network access.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from .blocks import BlockBackbone
from .registry import BackboneSpec, PretrainedWeightsMissing, downloads_allowed, register

_IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
RESNETS = {"resnet34": "ResNet34_Weights", "resnet50": "ResNet50_Weights",
           "resnet101": "ResNet101_Weights", "resnet152": "ResNet152_Weights"}


def torch_hub_file(weights) -> Path:
    """Where torchvision caches ``weights`` (a ``WeightsEnum`` member): ``$TORCH_HOME/hub/checkpoints/<file>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def torchvision_state(arch: str, weights) -> dict[str, torch.Tensor]:
    """The state dict of ``weights`` from torchvision's cache (downloaded only when
    ``GEOLOC_DOWNLOAD_WEIGHTS=1``), or :class:`PretrainedWeightsMissing`."""
    f = torch_hub_file(weights)
    if not f.is_file() and not downloads_allowed():
        raise PretrainedWeightsMissing(
            f"ImageNet weights for {arch} ({weights}) are not in the torch hub cache: {f} is missing. "
            f"On a machine with internet run: python -c \"import torchvision; "
            f"torchvision.models.{arch}(weights='DEFAULT')\" (or download {weights.url} to {f}; "
            "set TORCH_HOME to use another cache), or pass --no-pretrained to train from random weights.")
    return weights.get_state_dict(progress=False, check_hash=False)  # reads the cached file


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


def _register_all() -> None:
    for arch, enum in RESNETS.items():
        register(arch, BackboneSpec(lambda pretrained=True, _a=arch, **k: resnet(_a, pretrained, **k), 224,
                                    *_IMAGENET, f"torchvision {arch}, ImageNet weights from the torch hub cache",
                                    library="torchvision", weights=f"{enum}.DEFAULT",
                                    fetch=f"python -c \"import torchvision; torchvision.models.{arch}(weights='DEFAULT')\""))
    register("alexnet", BackboneSpec(alexnet, 224, *_IMAGENET,
                                     "torchvision AlexNet features (256*6*6), use with --head alexnet",
                                     library="torchvision", weights="AlexNet_Weights.DEFAULT",
                                     fetch="python -c \"import torchvision; torchvision.models.alexnet(weights='DEFAULT')\""))


_register_all()
