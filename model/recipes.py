"""The default training recipe: the exact arguments that produced ``assets/models/default.pt``.

``python -m model.train $(python -m model.recipes) --out runs/default`` reproduces it (the README
shows the expanded command; ``make train-default`` runs it).
"""
from __future__ import annotations

DEFAULT_RECIPE: list[str] = [
    "--backbone", "efficientnet_lite2", "--mode", "finetune", "--finetune-blocks", "5", "--aug-rounds", "0",
    "--no-country-head",
    "--cells", "geocells", "--min-cell", "8", "--max-cell", "40", "--tau", "300", "--regression", "offset",
    "--hidden", "512", "--dropout", "0.3", "--lr", "1e-3", "--backbone-lr", "2e-4", "--weight-decay", "1e-2",
    "--epochs", "8", "--patience", "2", "--batch-size", "64", "--seed", "0",
]

if __name__ == "__main__":
    print(" ".join(DEFAULT_RECIPE))
