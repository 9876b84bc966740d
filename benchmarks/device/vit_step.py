"""A StreetCLIP-sized training step on random weights: ``python benchmarks/device/vit_step.py [--compile]
[--batch 64] [--precision bf16] [--tiny] --json OUT.json``.

The project's network (:class:`model.net.network.GeoNet`: the ``streetclip`` backbone, CLIP ViT-L/14
at 336 px = 577 tokens of 1024, 24 blocks, random weights, and the MLP head over 1,000 cells) trained
end to end (``--mode full``): forward under autocast, the cross-entropy of the cell logits in float32,
backward, AdamW. Inputs are random ``(B, 3, 336, 336)`` tensors on the device (no input pipeline).
``--compile`` wraps the network in ``torch.compile`` (the first steps compile; their time is reported
apart). Reports images/s and ms per step over ``--steps`` timed steps after ``--warmup``, and the peak
GPU memory; an out-of-memory batch is retried at half the size (reported). ``--tiny``: a 2-block
32-wide ViT at 32 px (checks the code path on a CPU).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

TINY = {"num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
        "image_size": 32, "patch_size": 8}
N_CELLS = 1000


def build(tiny: bool) -> torch.nn.Module:
    """GeoNet(streetclip backbone with random weights, MLP head over N_CELLS cells), float32."""
    from model.net.backbones import create_model
    from model.net.heads import build_head
    from model.net.network import GeoNet

    torch.manual_seed(0)
    bb = create_model("streetclip", pretrained=False, config=TINY if tiny else None)
    return GeoNet(bb, build_head("mlp", bb.feature_dim, N_CELLS, regression="offset"))


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def run(net: torch.nn.Module, batch: int, steps: int, warmup: int, precision: str, compile_: bool,
        dev: torch.device) -> dict:
    """Time ``warmup + steps`` training steps of ``net`` at ``batch``; figures in a dict."""
    net = net.to(dev).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-5)
    fwd = torch.compile(net) if compile_ else net
    s = int(net.backbone.input_size)
    x = torch.randn(batch, 3, s, s, device=dev).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, N_CELLS, (batch,), device=dev)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    times = []
    for i in range(warmup + steps):
        _sync(dev)
        t0 = time.perf_counter()
        with torch.autocast(dev.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            out = fwd(x)
        loss = F.cross_entropy(out["logits"].float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(dev)
        times.append(time.perf_counter() - t0)
    timed = times[warmup:]
    step_s = sum(timed) / len(timed)
    return {"batch": batch, "input": s, "precision": precision, "compile": compile_, "device": str(dev),
            "images_per_s": batch / step_s, "ms_per_step": 1000 * step_s, "first_steps_s": sum(times[:warmup]),
            "peak_gib": torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None,
            "params_m": sum(p.numel() for p in net.parameters()) / 1e6, "loss": float(loss.detach())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--precision", default="bf16", choices=["fp32", "bf16", "fp16"])
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    ap.add_argument("--json", required=True)
    args = ap.parse_args(argv)
    dev = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    batch, notes = args.batch, []
    while True:
        try:
            res = run(build(args.tiny), batch, args.steps, args.warmup, args.precision, args.compile, dev)
            break
        except torch.OutOfMemoryError:
            notes.append(f"out of memory at batch {batch}")
            if batch <= 1:
                raise
            batch //= 2
            torch.cuda.empty_cache()
    res["notes"] = notes
    res["what"] = "tiny ViT (code path)" if args.tiny else "ViT-L/14-336 (StreetCLIP-sized), random weights"
    Path(args.json).write_text(json.dumps(res, indent=2))
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
