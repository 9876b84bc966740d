"""Block-structured backbones: ``stem -> blocks[0..n) -> finish``, for CNNs and transformers alike.

``forward_trunk(x, k)`` runs the stem and blocks ``[0, k)``; its output (a CNN feature map
``(B, C, h, w)`` or a ViT token sequence ``(B, T, D)``) can be cached on disk, and
``forward_tail(h, k)`` runs blocks ``[k, n)`` and ``finish`` (pooling) on it. ``--finetune-blocks N``
trains ``tail_modules(n - N)``: the last N blocks (residual blocks, MBConv blocks, transformer
layers) and the finish (final norm, pooling head).

Grad-CAM (pytorch-grad-cam): ``gradcam_layer()`` is the module whose output is explained and
``gradcam_reshape()`` the ``reshape_transform`` that turns it into a map ``(B, D, h, w)`` (None for
CNNs, whose target already is one).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn


class BlockBackbone(nn.Module):
    """``stem`` -> ``blocks[0..n)`` -> ``finish``: images ``(B, 3, S, S)`` -> features ``(B, feature_dim)``.

    ``block_args`` are extra positional arguments every block is called with (e.g. ``(None,)`` for a
    Hugging Face layer's attention mask).
    """

    def __init__(self, stem: nn.Module, blocks: list[nn.Module], finish: nn.Module, feature_dim: int,
                 block_args: tuple = ()):
        super().__init__()
        self.stem, self.blocks, self.finish = stem, nn.ModuleList(blocks), finish
        self.feature_dim, self.num_blocks = feature_dim, len(blocks)
        self.block_args = block_args

    def forward_trunk(self, x: torch.Tensor, start_block: int) -> torch.Tensor:
        """``(B, 3, S, S)`` -> output of block ``start_block - 1`` (the stem's if 0)."""
        x = self.stem(x)
        for b in self.blocks[:start_block]:
            x = b(x, *self.block_args)
        return x

    def forward_tail(self, h: torch.Tensor, start_block: int) -> torch.Tensor:
        """Blocks ``[start_block, n)`` and ``finish``: trunk output -> ``(B, feature_dim)``."""
        for b in self.blocks[start_block:]:
            h = b(h, *self.block_args)
        return self.finish(h)

    def tail_modules(self, start_block: int) -> list[nn.Module]:
        """The modules :meth:`forward_tail` runs (the ones fine-tuning unfreezes)."""
        return list(self.blocks[start_block:]) + [self.finish]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_tail(self.forward_trunk(x, 0), 0)

    def gradcam_layer(self) -> nn.Module:
        """Grad-CAM's target (read by the Predictor): the last block, whose output is the last
        spatial map of a CNN. Token backbones override it (tokens are not a map)."""
        return self.blocks[-1]

    def gradcam_reshape(self) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """pytorch-grad-cam's ``reshape_transform`` for :meth:`gradcam_layer`'s output (None: a map already)."""
        return None


class TokenReshape:
    """pytorch-grad-cam ``reshape_transform``: tokens ``(B, prefix + h*w, D)`` -> map ``(B, D, h, w)``.

    The first ``prefix`` tokens (CLS, registers) are dropped; the patch grid is square (the
    inputs are ``S x S``). A picklable class rather than a closure.
    """

    def __init__(self, prefix: int):
        self.prefix = int(prefix)

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.dim() != 3:
            raise ValueError(f"expected tokens (B, T, D), got shape {tuple(tokens.shape)}")
        patches = tokens[:, self.prefix:]
        n = patches.shape[1]
        side = int(round(math.sqrt(n)))
        if side * side != n:
            raise ValueError(f"{n} patch tokens (after {self.prefix} prefix tokens) are not a square grid")
        return patches.reshape(tokens.shape[0], side, side, tokens.shape[2]).permute(0, 3, 1, 2)


class TokenBackbone(BlockBackbone):
    """A :class:`BlockBackbone` over transformer tokens ``(B, T, D)``: ``num_prefix_tokens`` (CLS and
    register tokens) come before the ``h * w`` patch tokens.

    Grad-CAM targets the first LayerNorm of the last block (``norm_attr`` names it): its output is
    every token, and the gradient reaches all of them through that block's attention (the last
    block's output only passes the gradient to the pooled CLS token).
    """

    def __init__(self, stem: nn.Module, blocks: list[nn.Module], finish: nn.Module, feature_dim: int,
                 num_prefix_tokens: int, norm_attr: str, block_args: tuple = ()):
        super().__init__(stem, blocks, finish, feature_dim, block_args)
        self.num_prefix_tokens, self.norm_attr = int(num_prefix_tokens), norm_attr

    def gradcam_layer(self) -> nn.Module:
        return getattr(self.blocks[-1], self.norm_attr)

    def gradcam_reshape(self) -> TokenReshape:
        return TokenReshape(self.num_prefix_tokens)
