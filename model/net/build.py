"""The network a training run trains: backbone (pretrained or random) + head, with the trainable parts set."""
from __future__ import annotations

from .backbones import create_model
from .heads import build_head
from .network import GeoNet


def build_net(args, n_cells: int, n_countries: int = 0) -> GeoNet:
    bb = create_model(args.backbone, pretrained=not args.no_pretrained, config=getattr(args, "backbone_config", None))
    if getattr(args, "input_size", 0):
        if getattr(bb, "fixed_input_size", None) not in (None, args.input_size):
            raise ValueError(f"{args.backbone} takes {bb.fixed_input_size} px inputs only, not --input-size "
                             f"{args.input_size} (with --no-pretrained, --backbone-config '{{\"img_size\": "
                             f"{args.input_size}}}' builds it at that size)")
        bb.input_size = args.input_size
    if args.mode == "full" or not hasattr(bb, "forward_trunk"):
        args.mode = "full" if args.mode != "frozen" else "frozen"
        sb = 0
    else:
        sb = max(0, bb.num_blocks - args.finetune_blocks)
    head = build_head(getattr(args, "head", "mlp"), bb.feature_dim, n_cells, args.hidden, args.dropout,
                      args.regression, n_countries)
    net = GeoNet(bb, head, sb)
    for p in bb.parameters():
        p.requires_grad = args.mode == "full"
    if args.mode == "finetune":
        for m in bb.tail_modules(sb):
            for p in m.parameters():
                p.requires_grad = True
    return net
