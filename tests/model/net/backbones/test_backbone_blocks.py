"""Every family is block-structured: caching the trunk up to block k and running the tail gives the
full network's features, --finetune-blocks N trains exactly the last N blocks, gradients flow, and
Grad-CAM has a target layer whose (reshaped) output is a map."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import CLIP_TINY, DINO_TINY, SIGLIP_TINY, TIMM_VIT_TINY
from model.net.backbones import create_model
from model.explain import CellTarget, gradcam
from model.net.heads import build_head
from model.net.network import GeoNet
from model.predictors.predictor import _LogitsOnly

# name -> (config, tokens before the patches or None for a CNN map)
TINY = {
    "streetclip": (CLIP_TINY, 1), "clip_vit_l14_336": (CLIP_TINY, 1), "dinov2_vitb14": (DINO_TINY, 1),
    "dinov2_vitl14_reg": (DINO_TINY, 5), "siglip_vitb16_224": (SIGLIP_TINY, 0), "timm:test_vit": (TIMM_VIT_TINY, 1),
    "timm:vit_small_patch14_reg4_dinov2": ({"img_size": 28, "depth": 2, "embed_dim": 32, "num_heads": 2}, 5),
    "timm:test_convnext": (None, None), "timm:test_resnet": (None, None), "timm:test_efficientnet": (None, None),
    "timm:test_byobnet": (None, None),
}


def _input(bb, n=2, size=None):
    s = size or (bb.input_size if bb.input_size <= 64 else 64)
    return torch.randn(n, 3, s, s)


@pytest.mark.parametrize("name", list(TINY))
def test_trunk_tail_split_matches_the_models_own_forward(name):
    torch.manual_seed(0)
    cfg, _ = TINY[name]
    bb = create_model(name, pretrained=False, config=cfg).eval()
    x = _input(bb)
    with torch.no_grad():
        full = bb(x)
        assert full.shape == (2, bb.feature_dim)
        for k in range(bb.num_blocks + 1):
            assert torch.allclose(bb.forward_tail(bb.forward_trunk(x, k), k), full, atol=1e-5), k
        if name.startswith("timm:"):  # timm's own features: forward_features, then pre-logits pooling
            ref = bb.model.forward_head(bb.model.forward_features(x), pre_logits=True)
            assert torch.allclose(ref, full, atol=1e-5)


def test_timm_layouts_are_read_from_the_model_class():
    layouts = {n: create_model(n, pretrained=False, config=TINY[n][0]).layout
               for n in ("timm:test_vit", "timm:test_convnext", "timm:test_resnet", "timm:test_efficientnet",
                         "timm:test_byobnet")}
    assert layouts == {"timm:test_vit": "vit", "timm:test_convnext": "convnext", "timm:test_resnet": "resnet",
                       "timm:test_efficientnet": "efficientnet", "timm:test_byobnet": "whole"}
    cnx = create_model("timm:test_convnext", pretrained=False)
    assert cnx.num_blocks == sum(len(s.blocks) for s in cnx.model.stages)  # every block of every stage
    whole = create_model("timm:test_byobnet", pretrained=False)  # unknown layout: one block, all of it
    assert whole.num_blocks == 1 and whole.tail_modules(0) == [whole.model] and whole.tail_modules(1) == []


@pytest.mark.parametrize("name", ["streetclip", "siglip_vitb16_224", "dinov2_vitl14_reg", "timm:test_vit",
                                  "timm:test_convnext"])
def test_finetune_blocks_train_the_last_blocks_only(name):
    """What build_net does for --finetune-blocks 1: only the last block and the finish get gradients."""
    from model.net.build import build_net
    from model.train.config import TrainConfig

    cfg, _ = TINY[name]
    args = TrainConfig(backbone=name, no_pretrained=True, backbone_config=cfg, input_size=0, mode="finetune",
                       finetune_blocks=1, head="mlp", hidden=16, dropout=0.0, regression="offset")
    net = build_net(args, n_cells=4)
    bb = net.backbone
    assert net.start_block == bb.num_blocks - 1
    trained = {id(p) for p in bb.parameters() if p.requires_grad}
    tail = {id(p) for m in bb.tail_modules(net.start_block) for p in m.parameters()}
    assert trained == tail and 0 < len(trained) < len(list(bb.parameters()))
    x = _input(bb)
    h = bb.forward_trunk(x, net.start_block)  # what the trunk cache holds
    out = net.forward_cached(h)
    (out["logits"].logsumexp(1).mean() + out["offset"].pow(2).mean()).backward()
    grads = [p.grad for p in bb.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", list(TINY))
def test_gradcam_target_layer_gives_a_map_of_the_image_size(name):
    torch.manual_seed(0)
    cfg, prefix = TINY[name]
    bb = create_model(name, pretrained=False, config=cfg).eval()
    x = _input(bb, n=1)
    layer, reshape = bb.gradcam_layer(), bb.gradcam_reshape()
    seen = []
    hook = layer.register_forward_hook(lambda m, i, o: seen.append(o))
    with torch.no_grad():
        bb(x)
    hook.remove()
    if prefix is None:
        assert reshape is None and seen[0].dim() == 4  # a CNN's last map
    else:
        assert reshape.prefix == prefix and seen[0].dim() == 3  # tokens (B, prefix + h*w, D)
        m = reshape(seen[0])
        assert m.dim() == 4 and m.shape[2] * m.shape[3] == seen[0].shape[1] - prefix
    net = GeoNet(bb, build_head("mlp", bb.feature_dim, 5, 16, 0.0, "offset"), bb.num_blocks - 1).eval()
    for p in net.parameters():
        p.requires_grad_(False)  # Grad-CAM works through a frozen network
    cam = gradcam(_LogitsOnly(net), layer, x, [CellTarget(int(net(x)["logits"].argmax()))], reshape)
    assert cam.shape == (1, x.shape[2], x.shape[3]) and np.isfinite(cam).all()
    if prefix is not None:  # tokens: a real map, not constant (a random CNN's few positions may all be negative)
        assert cam.std() > 1e-3


@pytest.mark.parametrize("name", list(TINY))
def test_every_weight_learns_in_full_mode(name):
    """--mode full trains the whole backbone: every parameter gets a gradient (an unused one would stop
    DistributedDataParallel)."""
    cfg, _ = TINY[name]
    bb = create_model(name, pretrained=False, config=cfg).train()
    bb.requires_grad_(True)
    bb(_input(bb)).pow(2).mean().backward()
    assert [n for n, p in bb.named_parameters() if p.grad is None] == []


def test_a_fixed_size_timm_vit_refuses_another_input_size():
    from model.net.build import build_net
    from model.train.config import TrainConfig

    args = TrainConfig(backbone="timm:vit_small_patch16_224", no_pretrained=True, input_size=64, mode="finetune",
                       backbone_config={"depth": 2, "embed_dim": 32, "num_heads": 2}, finetune_blocks=1,
                       head="mlp", hidden=16, dropout=0.0, regression="offset")
    with pytest.raises(ValueError, match="takes 224 px inputs only"):
        build_net(args, n_cells=4)
    args = args.replace(backbone_config=dict(args.backbone_config, img_size=64))  # built at that size: fine
    assert build_net(args, n_cells=4).backbone.input_size == 64
