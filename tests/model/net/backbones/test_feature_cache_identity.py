"""The feature cache never mixes backbones that share a registry name but differ: random draws,
architecture overrides, preprocessing. The common case (pretrained, registry preprocessing) keeps its
plain folder, so existing caches stay valid."""
from __future__ import annotations

import torch

from model.net.backbones import create_model
from model.data.features import cache_file
from tests.model.net.backbones.conftest import CLIP_TINY

PATHS = ["a.jpg", "b.jpg"]


def _folder(bb) -> str:
    return cache_file(bb, PATHS, 0, 0.0, "clean", "/tmp/cache").parent.name


def test_pretrained_backbone_keeps_the_plain_folder_name():
    bb = create_model("efficientnet_lite0")
    assert _folder(bb) == "efficientnet_lite0-s224-c0-b0"


def test_random_draws_and_configs_get_folders_of_their_own():
    torch.manual_seed(0)
    a = create_model("clip_vit_b32", pretrained=False, config=CLIP_TINY)
    torch.manual_seed(0)
    same = create_model("clip_vit_b32", pretrained=False, config=CLIP_TINY)
    torch.manual_seed(1)
    other_draw = create_model("clip_vit_b32", pretrained=False, config=CLIP_TINY)
    torch.manual_seed(0)
    other_cfg = create_model("clip_vit_b32", pretrained=False, config={**CLIP_TINY, "intermediate_size": 48})
    assert _folder(a) == _folder(same)
    assert len({_folder(a), _folder(other_draw), _folder(other_cfg)}) == 3
    assert all(_folder(m).startswith("clip_vit_b32-s32-c0-b0-") for m in (a, other_draw, other_cfg))


def test_another_resize_mode_is_another_folder():
    bb = create_model("efficientnet_lite0")
    plain = _folder(bb)
    bb.resize = "squash"
    assert _folder(bb) != plain
