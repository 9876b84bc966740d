"""Named training recipes: the exact arguments of ``python -m model.train`` for a purpose.

``python -m model.recipes`` prints the default recipe (the arguments that produced
``assets/models/default.pt``; ``make train-default`` runs it), ``python -m model.recipes NAME`` the
arguments of recipe NAME, ``--list`` the recipes, ``--show NAME`` what NAME expects (hardware,
estimated time per epoch per million images) and the commands that run it::

    python -m model.train --data SHARDS_DIR $(python -m model.recipes streetclip-geocells) --out runs/sc

Time estimates are arithmetic, not measurements: the training FLOPs per image of the recipe's
network (:func:`vit_flops`) over a GPU's dense bf16 peak at 30-50 % utilisation (what well-fed
PyTorch ViT training typically reaches); the input pipeline must keep up (``--workers``).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

DEFAULT_RECIPE: list[str] = [
    "--backbone", "efficientnet_lite2", "--mode", "finetune", "--finetune-blocks", "5", "--aug-rounds", "0",
    "--no-country-head",
    "--cells", "geocells", "--min-cell", "8", "--max-cell", "40", "--tau", "300", "--regression", "offset",
    "--hidden", "512", "--dropout", "0.3", "--lr", "1e-3", "--backbone-lr", "2e-4", "--weight-decay", "1e-2",
    "--epochs", "8", "--patience", "2", "--batch-size", "64", "--seed", "0",
]

# Dense bf16 tensor-core peaks (TFLOP/s, no sparsity), from NVIDIA's data sheets.
GPU_PEAK_TFLOPS = {"A100": 312.0, "H100 SXM": 989.0}
UTILISATION = (0.3, 0.5)


def vit_flops(layers: int, width: int, tokens: int, mlp_ratio: float = 4.0) -> float:
    """Forward FLOPs of ``layers`` transformer blocks of ``width`` on ``tokens`` tokens (2 per multiply-add):
    the linear layers ``2 * tokens * (4 + 2 * mlp_ratio) * width^2`` and attention ``4 * tokens^2 * width``."""
    per_block = 2 * tokens * (4 + 2 * mlp_ratio) * width ** 2 + 4 * tokens ** 2 * width
    return layers * per_block


def train_flops(layers: int, width: int, tokens: int, trained_blocks: int) -> float:
    """FLOPs per training image when only the last ``trained_blocks`` blocks learn: the whole forward
    pass plus the backward of those blocks (about twice their forward)."""
    return vit_flops(layers, width, tokens) + 2 * vit_flops(trained_blocks, width, tokens)


@dataclass(frozen=True)
class Recipe:
    """A named set of ``model.train`` arguments and what running it takes."""

    name: str
    summary: str
    args: list[str]
    hardware: str
    train_gflop: float = 0.0  # training FLOPs per image and epoch (GFLOP); 0 = no estimate
    notes: str = ""

    def epoch_minutes(self, gpu: str) -> tuple[float, float]:
        """Estimated (fast, slow) minutes per epoch per million training images on one ``gpu``."""
        peak = GPU_PEAK_TFLOPS[gpu] * 1e12
        return tuple(1e6 * self.train_gflop * 1e9 / (peak * u) / 60 for u in reversed(UTILISATION))


_L14_336 = dict(layers=24, width=1024, tokens=(336 // 14) ** 2 + 1)   # StreetCLIP / CLIP ViT-L/14-336: 577 tokens
_B14_224 = dict(layers=12, width=768, tokens=(224 // 14) ** 2 + 1)    # DINOv2 ViT-B/14 at 224 px: 257 tokens

RECIPES: dict[str, Recipe] = {r.name: r for r in [
    Recipe("default", "the shipped model: EfficientNet-Lite2, last 5 blocks fine-tuned on cached trunk maps, "
           "geocells of 8-40 places, tau 300 km", DEFAULT_RECIPE,
           "a 2-core CPU: about 20 min on the shared ~7,500 images with a warm feature cache (the shipped run: "
           "1,124 s of training, 7 epochs; the trunk cache itself takes about 8 min, README)"),
    Recipe("streetclip-geocells",
           "the field's strongest known recipe (PIGEON): StreetCLIP ViT-L/14-336, its last transformer block "
           "fine-tuned at a low learning rate with the head, geocells of 30-60 places, haversine label smoothing "
           "tau 75 km, retrieval refinement (the gallery of training places), bf16, global batch 1024",
           ["--backbone", "streetclip", "--mode", "finetune", "--finetune-blocks", "1", "--no-cache",
            "--cells", "geocells", "--min-cell", "30", "--max-cell", "60", "--tau", "75", "--regression", "offset",
            "--hidden", "1024", "--dropout", "0.1", "--lr", "1e-3", "--backbone-lr", "2e-5", "--weight-decay", "1e-2",
            "--scheduler", "cosine", "--epochs", "10", "--patience", "2", "--batch-size", "1024",
            "--precision", "bf16", "--seed", "0"],
           "1-8 NVIDIA GPUs with >= 24 GB each (A100/H100 40-80 GB ideal; bf16 needs Ampere or newer); the global "
           "batch of 1024 is split over the processes (on one 24 GB card use --batch-size 256); about 8 CPU cores "
           "per GPU for JPEG decoding (--workers 8); data as shards (python -m model.shards write)",
           train_flops(**_L14_336, trained_blocks=1) / 1e9,
           "Weights first: hf download geolocal/StreetCLIP (1.7 GB, CC BY-NC 4.0: non-commercial use). PIGEON "
           "fine-tunes the last CLIP layer at lr 2e-5 with batch 1024 and tau 75 km (LukasHaas/PIGEON config.py); "
           "it adds multi-task heads and ProtoNet refinement that this project replaces by its retrieval gallery. "
           "The trunk runs on the fly (--no-cache): its 577 x 1024 tokens per image would take ~1.2 TB per million."),
    Recipe("dinov2-b14-finetune",
           "DINOv2 ViT-B/14 (self-supervised, strong on scenes), last 2 blocks fine-tuned, geocells of 30-60 "
           "places, tau 75 km, bf16",
           ["--backbone", "dinov2_vitb14", "--mode", "finetune", "--finetune-blocks", "2", "--no-cache",
            "--cells", "geocells", "--min-cell", "30", "--max-cell", "60", "--tau", "75", "--regression", "offset",
            "--hidden", "768", "--dropout", "0.1", "--lr", "1e-3", "--backbone-lr", "2e-5", "--weight-decay", "1e-2",
            "--scheduler", "cosine", "--epochs", "10", "--patience", "2", "--batch-size", "512",
            "--precision", "bf16", "--seed", "0"],
           "1-8 GPUs with >= 16 GB each; about 8 CPU cores per GPU (--workers 8)",
           train_flops(**_B14_224, trained_blocks=2) / 1e9,
           "Weights first: hf download facebook/dinov2-base --include \"*.json\" \"model.safetensors\"."),
    Recipe("clip-b32-probe",
           "OpenAI CLIP ViT-B/32 frozen, a linear layer on its pooled features (a linear probe, comparable with "
           "published CLIP probes), geocells of 8-40 places, tau 75 km",
           ["--backbone", "clip_vit_b32", "--mode", "frozen", "--head", "linear", "--cells", "geocells",
            "--min-cell", "8", "--max-cell", "40", "--tau", "75", "--regression", "offset", "--lr", "1e-3",
            "--weight-decay", "1e-4", "--epochs", "30", "--patience", "3", "--batch-size", "1024",
            "--precision", "bf16", "--seed", "0"],
           "any: a CPU for up to ~10^4 images, one GPU beyond (features are extracted once, then cached)",
           0.0,
           "Weights first: hf download openai/clip-vit-base-patch32 --include \"*.json\" \"*.txt\" \"model.safetensors\". "
           "One pass of ~8.8 GFLOP per image extracts the features; the epochs then train a linear layer on "
           "cached vectors (seconds)."),
]}


def describe(r: Recipe) -> str:
    """What recipe ``r`` is, what it expects, the estimate and the commands that run it (text)."""
    args = f"$(python -m model.recipes {r.name})" if r.name != "default" else "$(python -m model.recipes)"
    lines = [f"{r.name}: {r.summary}", "", f"hardware: {r.hardware}"]
    if r.train_gflop:
        lines.append(f"estimate (FLOPs / bf16 peak at {UTILISATION[0]:.0%}-{UTILISATION[1]:.0%} utilisation, not "
                     f"measured): {r.train_gflop:.0f} GFLOP per training image;")
        for gpu in GPU_PEAK_TFLOPS:
            lo, hi = r.epoch_minutes(gpu)
            lines.append(f"  one {gpu}: {lo:.0f}-{hi:.0f} min per epoch per million images "
                         f"(8 GPUs: {lo / 8:.0f}-{hi / 8:.0f} min), plus a forward pass over the training "
                         "places for the gallery at the end")
    if r.notes:
        lines += ["", r.notes]
    lines += ["", "run it (shards: python -m model.shards write --data MANIFEST --out SHARDS_DIR):",
              f"  python -m model.train --data SHARDS_DIR {args} --out runs/{r.name}",
              f"  torchrun --nproc_per_node 8 -m model.train --data SHARDS_DIR {args} --out runs/{r.name}",
              "  (several nodes: docs/training.md)"]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.recipes", description=__doc__.split("\n\n")[0],
                                 epilog="Example: python -m model.train --data SHARDS_DIR "
                                        "$(python -m model.recipes streetclip-geocells) --out runs/sc")
    ap.add_argument("name", nargs="?", default="default", help=f"one of: {', '.join(RECIPES)} (default: default)")
    ap.add_argument("--list", action="store_true", help="list the recipes")
    ap.add_argument("--show", action="store_true", help="describe the recipe: hardware, time estimate, commands")
    a = ap.parse_args(argv)
    if a.list:
        for r in RECIPES.values():
            print(f"{r.name:22s} {r.summary}")
        return 0
    if a.name not in RECIPES:
        print(f"error: unknown recipe {a.name!r}; recipes: {', '.join(RECIPES)}", file=sys.stderr)
        return 2
    print(describe(RECIPES[a.name]) if a.show else " ".join(RECIPES[a.name].args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
