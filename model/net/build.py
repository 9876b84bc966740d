"""The network a training run trains: backbone (pretrained or random) + head, with the trainable parts set."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .backbones import create_model
from .heads import build_head
from .network import GeoNet

if TYPE_CHECKING:
    from model.train.config import TrainConfig


def trainable_mode(mode: str, backbone) -> str:
    """The mode a backbone can be trained in: ``finetune`` of a backbone without a trunk/tail split
    (``forward_trunk``) trains it end to end (``full``); ``frozen`` and ``full`` stay."""
    if mode == "full" or not hasattr(backbone, "forward_trunk"):
        return "full" if mode != "frozen" else "frozen"
    return mode


def build_net(cfg: "TrainConfig", n_cells: int, n_countries: int = 0) -> GeoNet:
    """Backbone ``cfg.backbone`` (pretrained unless ``cfg.no_pretrained``; ``cfg.input_size`` px) + a
    ``cfg.head`` head over ``n_cells`` cells (and ``n_countries`` country classes), with
    ``requires_grad`` set for the mode the backbone trains in (:func:`trainable_mode` of ``cfg.mode``):
    everything (``full``), the head and the last ``cfg.finetune_blocks`` blocks (``finetune``), the head
    (``frozen``)."""
    bb = create_model(cfg.backbone, pretrained=not cfg.no_pretrained, config=cfg.backbone_config)
    if cfg.input_size:
        if getattr(bb, "fixed_input_size", None) not in (None, cfg.input_size):
            raise ValueError(f"{cfg.backbone} takes {bb.fixed_input_size} px inputs only, not --input-size "
                             f"{cfg.input_size} (with --no-pretrained, --backbone-config '{{\"img_size\": "
                             f"{cfg.input_size}}}' builds it at that size)")
        bb.input_size = cfg.input_size
    mode = trainable_mode(cfg.mode, bb)
    split = cfg.mode != "full" and hasattr(bb, "forward_trunk")  # a frozen trunk before the tail's blocks
    sb = max(0, bb.num_blocks - cfg.finetune_blocks) if split else 0
    head = build_head(cfg.head, bb.feature_dim, n_cells, cfg.hidden, cfg.dropout,
                      cfg.regression, n_countries)
    net = GeoNet(bb, head, sb)
    for p in bb.parameters():
        p.requires_grad = mode == "full"
    if mode == "finetune":
        for m in bb.tail_modules(sb):
            for p in m.parameters():
                p.requires_grad = True
    return net
