"""Does multi-crop test-time augmentation help? ``python benchmarks/tta.py [--checkpoint C] [--data M]``.

For every location of a split (default: test) the Predictor answers once from its views as they are and
once per TTA scheme, where each view also contributes crops that are fused like extra views (mean of
log-probabilities, mean embedding for the retrieval gallery). Schemes (crop side = ``--zoom`` x the short
side, resized back to the model's input by its own transform):

- ``centre``: the view + its centre crop (2 forwards per view);
- ``lcr``: the view + left, centre and right crops (4 forwards per view): the horizontal context of a
  street scene, as in multi-crop evaluation.

Horizontal flips are deliberately absent: they swap the driving side and mirror text, both of which are
country cues. Prints per scheme: country top-1 per location, median km and mean GeoGuessr score of the
best guess (the answer the app plays), and country top-1 per source. Costs 1 + 2 + 4 = 7 forwards per
image (about 12 minutes for the 673 test images on 2 cores).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
from PIL import Image


from model.geo import geoscore, haversine_km  # noqa: E402
from model.data.images import ImageLoadError, open_image  # noqa: E402
from model.data.manifest import read_manifest  # noqa: E402
from model.predict import Predictor  # noqa: E402


def crops(img: Image.Image, scheme: str, zoom: float) -> list[Image.Image]:
    """The view itself plus the scheme's square crops of side ``zoom`` x the short side."""
    if scheme == "none":
        return [img]
    w, h = img.size
    s = max(1, int(round(min(w, h) * zoom)))
    y = (h - s) // 2
    xs = [(w - s) // 2] if scheme == "centre" else [0, (w - s) // 2, w - s]
    return [img] + [img.crop((x, y, x + s, y + s)) for x in xs]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--data", default=None, help="manifest (default: $GEOLOC_DATA, data/, ../shared/geodata)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--zoom", type=float, default=0.85)
    ap.add_argument("--schemes", default="none,centre,lcr")
    args = ap.parse_args(argv)
    schemes = args.schemes.split(",")
    pred = Predictor.load(args.checkpoint)
    df = read_manifest(args.data)
    if args.split and (df["split"] != "").any():
        df = df[df["split"] == args.split]
    rows = []
    for loc, g in df.groupby("location_id", sort=True):
        try:
            views = [open_image(p) for p in g["path"]]
        except ImageLoadError as e:
            print(f"skipped {loc}: {e}", file=sys.stderr)
            continue
        lat, lon = float(g["lat"].iloc[0]), float(g["lon"].iloc[0])
        for sc in schemes:
            r = pred.predict([c for v in views for c in crops(v, sc, args.zoom)])
            d = float(haversine_km(lat, lon, r.best_lat, r.best_lon)) if np.isfinite(lat) else np.nan
            rows.append({"scheme": sc, "location_id": loc, "source": g["source"].iloc[0],
                         "correct": r.country_code == g["country_code"].iloc[0], "km": d})
    res = pd.DataFrame(rows)
    print(f"{args.split}: {res['location_id'].nunique()} locations, zoom {args.zoom}")
    print("| scheme | country top-1 | best-guess median km | mean GeoScore |")
    print("|---|---|---|---|")
    for sc in schemes:
        r = res[res["scheme"] == sc]
        km = r["km"].dropna().to_numpy()
        print(f"| {sc} | {r['correct'].mean():.1%} | {np.median(km):,.0f} | {np.mean(geoscore(km)):,.0f} |")
    print(res.pivot_table(index="source", columns="scheme", values="correct", aggfunc="mean").round(3).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
