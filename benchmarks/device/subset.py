"""A small subset of a manifest that travels to a device machine: ``python benchmarks/device/subset.py
--data MANIFEST --out SUBSET.csv [--budget-mib 20]``.

Whole places (all their views, groups kept in their split) with coordinates, a country and a region
label (so nothing on the device needs reverse geocoding), drawn at random (seed 0) per split in the
proportions 80/10/10 until the images' bytes reach ``--budget-mib``. Image paths are written absolute:
the shards built from the subset (``python -m model.shards write``) hold the pictures, the subset file
only names them. Prints the counts and bytes.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd

SHARES = {"train": 0.8, "val": 0.1, "test": 0.1}


def choose(df: pd.DataFrame, budget_bytes: int, seed: int = 0) -> pd.DataFrame:
    """Rows of ``df`` (a read manifest: ``path``, ``location_id``, ``split``, labels) within ``budget_bytes``
    of image files, whole places, each split filled to its share of the budget."""
    full = df[df["lat"].notna() & (df["country_code"] != "") & (df["admin1"] != "") & df["split"].isin(list(SHARES))]
    size = full["path"].map(lambda p: os.path.getsize(p) if os.path.isfile(p) else 0)
    full = full.assign(_bytes=size)[size > 0]
    rng = np.random.default_rng(seed)
    keep: list[str] = []
    for split, share in SHARES.items():
        per_loc = full[full["split"] == split].groupby("location_id")["_bytes"].sum()
        order = per_loc.index.to_numpy()[rng.permutation(len(per_loc))]
        total = np.cumsum(per_loc.loc[order].to_numpy())
        keep += list(order[total <= share * budget_bytes])
    return full[full["location_id"].isin(set(keep))].drop(columns="_bytes").reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    from model.data.manifest import read_manifest

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="manifest (default as model.train: ../shared/geodata)")
    ap.add_argument("--out", required=True, help="the subset manifest to write (CSV)")
    ap.add_argument("--budget-mib", type=float, default=20.0, help="image bytes at most (MiB)")
    args = ap.parse_args(argv)
    sub = choose(read_manifest(args.data), int(args.budget_mib * 2**20))
    if sub.empty:
        raise SystemExit("error: no complete rows (coordinates, country, region, split) in the manifest")
    cols = [c for c in ("image", "location_id", "group_id", "source", "view", "heading", "lat", "lon",
                        "country_code", "country", "admin1", "split") if c in sub.columns]
    out = sub[cols].assign(image=sub["path"])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out, index=False)
    mib = sum(os.path.getsize(p) for p in sub["path"]) / 2**20
    counts = sub.groupby("split")["location_id"].agg(["nunique", "size"]).to_dict("index")
    print(f"subset: {len(sub)} images, {sub['location_id'].nunique()} places, {mib:.1f} MiB; "
          + ", ".join(f"{k} {v['nunique']} places / {v['size']} images" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
