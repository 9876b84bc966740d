"""Compare the architectures on the same data, splits and budget:
``python benchmarks/compare.py [--data M] [--max-locations K] [--only resnet50,alexnet]``.

The defaults (400 locations, 10 frozen / 2 from-scratch epochs, 4-min cap per row) finish in about
40 minutes on 2 shared CPU cores; on a bigger machine raise them (``--max-locations 0`` = all).

Every recipe trains with ``python -m model.train`` on the manifest's own train/val/test splits
(optionally a random subset of ``--max-locations`` locations, the same for every row) and is
evaluated on the test split. Architectures whose pretrained weights are available offline
(EfficientNet-Lite always; ResNet/AlexNet/ViT when their caches are filled) train a head on
frozen features for ``--epochs`` epochs; the others train end to end from random weights at
``--scratch-size`` px for ``--scratch-epochs`` epochs; every run also stops at ``--time-limit``
minutes. A from-scratch row whose first epoch would already overrun that limit (estimated from a
timed training step) is skipped, as are recipes that only make sense with pretrained weights
(ResNet-50 final layer only) when those are missing. Writes ``<out>/compare.json`` and
``<out>/compare.md`` (the README table).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from model.paths import ROOT  # noqa: E402  (pip install -e .)

import model.net.backbones  # noqa: E402,F401  (registers every backbone family)
from model.net.backbones import PretrainedWeightsMissing, create_model  # noqa: E402
from model.net.checkpoint import load_checkpoint  # noqa: E402
from model.net.heads import build_head  # noqa: E402
from model.data.manifest import read_manifest  # noqa: E402
from model.net.network import GeoNet  # noqa: E402
from model.data.splits import ensure_split  # noqa: E402

TRAIN = "import sys; from model.train import main; main(sys.argv[1:])"


@dataclass(frozen=True)
class Recipe:
    """One row: an architecture (backbone + head) and how it may be trained."""

    key: str
    label: str
    backbone: str
    head: str = "mlp"
    needs_pretrained: bool = False  # meaningless from random weights (final-layer-only probes)
    always_scratch: bool = False  # a from-scratch design (the geoCNN baseline)


RECIPES = [
    Recipe("efficientnet_lite0", "EfficientNet-Lite0", "efficientnet_lite0"),
    Recipe("efficientnet_lite1", "EfficientNet-Lite1", "efficientnet_lite1"),
    Recipe("efficientnet_lite2", "EfficientNet-Lite2", "efficientnet_lite2"),
    Recipe("resnet34", "ResNet-34", "resnet34"),
    Recipe("resnet50", "ResNet-50", "resnet50"),
    Recipe("resnet101", "ResNet-101", "resnet101"),
    Recipe("resnet152", "ResNet-152", "resnet152"),
    Recipe("resnet50_fc", "ResNet-50, final layer only", "resnet50", head="linear", needs_pretrained=True),
    Recipe("alexnet", "AlexNet + FC-244 head", "alexnet", head="alexnet"),
    Recipe("vit_b16_in21k", "ViT-B/16 in21k + MLP head", "vit_b16_in21k", head="vit_mlp"),
    Recipe("geocnn", "geoCNN baseline", "geocnn", always_scratch=True),
]


def pretrained_available(backbone: str) -> tuple[bool, str]:
    """Whether ``backbone``'s pretrained weights load offline here; the reason if not."""
    try:
        create_model(backbone, pretrained=True)
        return True, ""
    except PretrainedWeightsMissing as e:
        return False, str(e).split(". ")[0]


def train_args(r: Recipe, pretrained: bool, a: argparse.Namespace, out: Path) -> list[str]:
    """``model.train`` arguments for recipe ``r`` under the shared budget ``a``."""
    common = ["--out", str(out), "--backbone", r.backbone, "--head", r.head, "--seed", str(a.seed),
              "--cells", "geocells", "--batch-size", "64", "--patience", "3", "--time-limit", str(a.time_limit),
              "--cache", str(a.cache), "--no-gallery"]  # architectures only: retrieval is the same for all
    if a.data:
        common += ["--data", a.data]
    if a.max_locations:
        common += ["--max-locations", str(a.max_locations)]
    if pretrained:
        return common + ["--mode", "frozen", "--aug-rounds", "0", "--epochs", str(a.epochs)]
    return common + ["--no-pretrained", "--mode", "full", "--input-size", str(a.scratch_size),
                     "--epochs", str(a.scratch_epochs)]


def split_sizes(a: argparse.Namespace) -> dict[str, int]:
    """Images per split of the data every row uses (the same subset as ``model.train --max-locations``)."""
    import pandas as pd

    df = ensure_split(read_manifest(a.data), seed=a.seed)
    if a.max_locations:
        keep = pd.Series(df["location_id"].unique()).sample(min(a.max_locations, df["location_id"].nunique()),
                                                            random_state=a.seed)
        df = df[df["location_id"].isin(set(keep))]
    return {k: int(v) for k, v in df["split"].value_counts().items()}


def scratch_epoch_minutes(r: Recipe, size: int, sizes: dict[str, int], batch: int = 8) -> float:
    """Estimated minutes of one end-to-end epoch (train + val) from one timed training step at ``size`` px."""
    torch.manual_seed(0)
    bb = create_model(r.backbone, pretrained=False)
    net = GeoNet(bb, build_head(r.head, bb.feature_dim, 100, regression="offset")).train()
    opt = torch.optim.SGD(net.parameters(), lr=1e-3)
    x = torch.randn(batch, 3, size, size)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        out = net(x)
        (out["logits"].logsumexp(1).mean() + out["offset"].square().mean()).backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t0)
    per_img = min(times[1:]) / batch
    return per_img * (sizes.get("train", 0) + sizes.get("val", 0) / 3) / 60


def inference_ms(ck_path: Path, batch: int = 16, reps: int = 5) -> float:
    """Milliseconds per image of the whole network (backbone + head) at its input size, batch ``batch``;
    the best of ``reps`` timed passes after one warm-up (the least disturbed by other processes)."""
    net, _, ck = load_checkpoint(ck_path)
    s = ck["preprocess"]["input_size"]
    x = torch.randn(batch, 3, s, s)
    times = []
    with torch.inference_mode():
        net(x)
        for _ in range(reps):
            t0 = time.perf_counter()
            net(x)
            times.append(time.perf_counter() - t0)
    return min(times) / batch * 1000


def run(r: Recipe, a: argparse.Namespace) -> dict:
    """Train and evaluate one recipe; returns its table row (``skipped`` says why when it could not run)."""
    row = {"key": r.key, "label": r.label, "backbone": r.backbone, "head": r.head}
    ok, why = (False, "from-scratch design") if r.always_scratch else pretrained_available(r.backbone)
    if not ok and r.needs_pretrained:
        return {**row, "skipped": f"needs pretrained weights: {why}"}
    est = None
    if not ok:
        est = scratch_epoch_minutes(r, a.scratch_size, a.sizes)
        if est > 2 * a.time_limit:  # the estimate is noisy on a shared machine; the run itself is capped too
            return {**row, "skipped": f"from scratch, one epoch at {a.scratch_size} px would take ~{est:.0f} min "
                                      f"here, over the {a.time_limit:g}-min cap", "estimated_epoch_min": est}
    out = Path(a.runs) / r.key
    args = train_args(r, ok, a, out)
    log = out.parent / f"{r.key}.log"
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with open(log, "w") as f:
        p = subprocess.run([sys.executable, "-c", TRAIN, *args], cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if p.returncode != 0:
        return {**row, "skipped": f"training failed (exit {p.returncode}), see {log}"}
    res = json.loads((out / "metrics.json").read_text())
    pl = res["test"]["per_location"]
    cfg = json.loads((out / "config.json").read_text())
    return {**row, "pretrained": ok, "why_not_pretrained": why, "mode": "frozen" if ok else "full",
            "input_size": int(create_model(r.backbone, pretrained=False).input_size) if ok else a.scratch_size,
            "epochs": len(res["epochs"]), "train_seconds": res["train_seconds"], "wall_seconds": time.time() - t0,
            "country_top1": pl["country_top1"], "country_top3": pl["country_top3"], "median_km": pl["median_km"],
            "geoscore": pl["geoscore_mean"], "n_test_locations": pl["n"],
            "inference_ms": inference_ms(out / "model.pt"), "estimated_epoch_min": est, "args": args,
            "config": {k: cfg.get(k) for k in ("lr", "dropout", "weight_decay", "tau", "hidden")}}


def markdown(rows: list[dict], a: argparse.Namespace, meta: dict) -> str:
    """The comparison table with its budget caption."""
    sub = f"a random subset of {a.max_locations} locations" if a.max_locations else "all locations"
    lines = [
        f"**Architecture comparison** on the shared data set ({sub}; the manifest's train/val/test "
        f"splits by location group; {meta['n_test']} test locations, views fused per location). Budget per row: "
        f"pretrained weights available offline -> head on frozen features, {a.epochs} epochs; otherwise from "
        f"random weights, end to end at {a.scratch_size} px, {a.scratch_epochs} epochs; every run capped at "
        f"{a.time_limit:g} min ({a.sizes.get('train', 0):,} training images); geocells, haversine smoothing, "
        f"early stopping after 3 epochs without val-loss gain, seed {a.seed}. Train time includes feature "
        f"extraction. Machine: {meta['machine']}, shared with other jobs. Inference: whole network, batch 16, "
        f"best of 5, all rows re-timed back to back.",
        "",
        "| Architecture | Head | Weights | Input px | Epochs | Country top-1 | Country top-3 | Median km "
        "| GeoScore | Train time | Inference ms/img |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "skipped" in r:
            continue
        w = "pretrained, frozen" if r["pretrained"] else "random, from scratch"
        lines.append(f"| {r['label']} | {r['head']} | {w} | {r['input_size']} | {r['epochs']} "
                     f"| {100 * r['country_top1']:.1f}% | {100 * r['country_top3']:.1f}% | {r['median_km']:,.0f} "
                     f"| {r['geoscore']:,.0f} | {r['train_seconds'] / 60:.1f} min | {r['inference_ms']:.1f} |")
    skipped = [r for r in rows if "skipped" in r]
    if skipped:
        lines += ["", "Not run here: " + "; ".join(f"{r['label']} ({r['skipped']})" for r in skipped) + "."]
    scratch = [r["label"] for r in rows if "skipped" not in r and not r["pretrained"] and r["key"] != "geocnn"]
    if scratch:
        lines += ["", f"From scratch because their pretrained weights are not cached on this machine: "
                      f"{', '.join(scratch)}. With the caches filled (see the error message of "
                      f"`python -m model.train --backbone resnet50`), the same command trains them on frozen "
                      f"ImageNet features like the EfficientNet-Lite rows."]
    return "\n".join(lines) + "\n"


def write(out: Path, rows: list[dict], a: argparse.Namespace) -> None:
    """``compare.json`` (budget, machine, rows, recipes) and ``compare.md`` (the table)."""
    meta = {"machine": f"{os.cpu_count()} CPU cores, torch {torch.__version__.split('+')[0]}, "
                       f"{platform.python_implementation()} {platform.python_version()}",
            "n_test": next((x["n_test_locations"] for x in rows if "n_test_locations" in x), 0)}
    (out / "compare.json").write_text(json.dumps({"budget": vars(a), "meta": meta, "rows": rows,
                                                  "recipes": [asdict(x) for x in RECIPES]}, indent=2))
    (out / "compare.md").write_text(markdown(rows, a, meta))


def remeasure(out: Path, a: argparse.Namespace) -> list[dict]:
    """Re-time inference of every trained row back to back (comparable under the same machine load)."""
    d = json.loads((out / "compare.json").read_text())
    for r in d["rows"]:
        if "skipped" not in r:
            r["inference_ms"] = inference_ms(Path(a.runs) / r["key"] / "model.pt")
    (out / "compare.json").write_text(json.dumps(d, indent=2))
    budget = argparse.Namespace(**{**d["budget"], "sizes": a.sizes})
    (out / "compare.md").write_text(markdown(d["rows"], budget, d["meta"]))
    print((out / "compare.md").read_text())
    return d["rows"]


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="manifest (default: the shared data set)")
    ap.add_argument("--max-locations", type=int, default=400,
                    help="the same random location subset for every row (0 = all)")
    ap.add_argument("--epochs", type=int, default=10, help="epochs of the frozen-feature recipe")
    ap.add_argument("--scratch-epochs", type=int, default=2, help="epochs of the from-scratch recipe")
    ap.add_argument("--scratch-size", type=int, default=64, help="input px of the from-scratch recipe")
    ap.add_argument("--time-limit", type=float, default=4.0, help="minutes of training per row at most")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="", help="comma-separated recipe keys")
    ap.add_argument("--runs", default=str(ROOT / "runs" / "compare"), help="run directories")
    ap.add_argument("--cache", default=str(ROOT / "data" / "cache"), help="feature cache")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--remeasure", action="store_true",
                    help="only re-time inference of the rows in <out>/compare.json back to back, rewrite the table")
    ap.add_argument("--resume", action="store_true",
                    help="keep the rows of <out>/compare.json (rerun those skipped, and those named by --only)")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    a.sizes = split_sizes(a)
    done = {}
    if a.resume and (out / "compare.json").is_file():
        done = {r["key"]: r for r in json.loads((out / "compare.json").read_text())["rows"]}
    if a.remeasure:
        return remeasure(out, a)
    keys = [k for k in a.only.split(",") if k]
    rows = []
    for r in RECIPES:
        if keys and r.key not in keys:
            if r.key in done:  # --resume --only X: rerun X, keep the other rows
                rows.append(done[r.key])
            continue
        prev = done.get(r.key)  # reused unless selected with --only, skipped or failed before
        row = prev if prev and "skipped" not in prev and not keys else run(r, a)
        rows.append(row)
        print(json.dumps({k: row.get(k) for k in ("label", "skipped", "epochs", "country_top1", "median_km",
                                                  "geoscore", "train_seconds", "inference_ms")}), flush=True)
        write(out, rows, a)  # after every row: an interrupted comparison keeps what it measured
    write(out, rows, a)
    print((out / "compare.md").read_text())
    return rows


if __name__ == "__main__":
    main()
