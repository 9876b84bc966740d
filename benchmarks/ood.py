"""How often does the out-of-distribution signal (model/ood.py) fire? ``python benchmarks/ood.py``.

On the held-out test split (per image, and per location: the mean score of its views, as the app
judges several uploaded views) and on non-street inputs generated here: plain colours, noise,
gradients, a rendered text page, matplotlib charts, an indoor-like drawn room, the grey-masked frame
of the Predict page's shortcut test ("Both": bottom band and edges hidden) applied to test photos, the
1x1 grey pixel of issue 14 (as the model sees it, enlarged), and test photos squeezed into 4000x120
strips and cut into tiles as the app now does. Each rate comes with its count and a 95% Wilson interval.

Options: ``--checkpoint`` (default: the shipped model; its sidecar ``*.ood.json`` must exist, see
``python -m model.ood``), ``--data``, ``--split`` (default test), ``--n-synthetic`` per kind (default
24), ``--n-masked`` test photos masked / made into strips (default 120), ``--feature-cache`` (an .npz
to reuse the split's features), ``--json`` (write the figures). About 4 minutes on 2 idle cores.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import sys
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont


from model.explain import HIDE_BOTTOM, hide_edges  # noqa: E402
from model.ood import capture_features, image_features, net_fingerprint, load_calibration  # noqa: E402
from model.data.views import split_photo  # noqa: E402

SIZE = 512


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k/n."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


# ------------------------------------------------------------------ generated non-street inputs
def plain(rng: np.random.Generator) -> Image.Image:
    return Image.new("RGB", (SIZE, SIZE), tuple(int(v) for v in rng.integers(0, 256, 3)))


def noise(rng: np.random.Generator) -> Image.Image:
    a = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    img = Image.fromarray(a)
    return img.filter(ImageFilter.GaussianBlur(float(rng.choice([0, 0, 2, 6]))))


def gradient(rng: np.random.Generator) -> Image.Image:
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    y, x = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1)
    if rng.random() < 0.5:
        th = rng.uniform(0, 2 * np.pi)
        t = (np.cos(th) * (x - 0.5) + np.sin(th) * (y - 0.5)) / math.sqrt(0.5) + 0.5
    else:
        t = np.hypot(x - rng.uniform(0.2, 0.8), y - rng.uniform(0.2, 0.8)) / 0.9
    t = np.clip(t, 0, 1)[..., None]
    return Image.fromarray(((1 - t) * c0 + t * c1).astype(np.uint8))


def _font(size: int) -> ImageFont.ImageFont:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        return ImageFont.load_default()


WORDS = ("the model looks at a street level photo and says where on earth it was taken country region coordinates "
         "offline map grad cam shortcut test capture car watermark held out validation threshold").split()


def text_page(rng: np.random.Generator) -> Image.Image:
    img = Image.new("RGB", (SIZE, SIZE), (250, 250, 245))
    d = ImageDraw.Draw(img)
    size = int(rng.integers(12, 22))
    f, y = _font(size), 20
    d.text((20, y), " ".join(rng.choice(WORDS, 4)).title(), fill=(0, 0, 0), font=_font(size + 10))
    y += size + 24
    while y < SIZE - size:
        d.text((20, y), " ".join(rng.choice(WORDS, 9)), fill=(20, 20, 20), font=f)
        y += int(size * 1.5)
    return img


def chart(rng: np.random.Generator) -> Image.Image:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.12, 5.12), dpi=100)
    kind = rng.integers(0, 4)
    x = np.arange(12)
    if kind == 0:
        for _ in range(3):
            ax.plot(x, np.cumsum(rng.normal(size=12)), marker="o")
    elif kind == 1:
        ax.bar(x, rng.uniform(1, 10, 12), color="C%d" % rng.integers(0, 9))
    elif kind == 2:
        ax.scatter(rng.normal(size=200), rng.normal(size=200), s=8, alpha=0.6)
    else:
        ax.pie(rng.uniform(1, 5, 5), labels=list("ABCDE"))
    ax.set_title("Figure %d" % rng.integers(1, 99))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def room(rng: np.random.Generator) -> Image.Image:
    """A drawn room in one-point perspective: floor, ceiling, side and back walls, a window, a door,
    a table and a picture, in random plausible colours."""
    img = Image.new("RGB", (SIZE, SIZE))
    d = ImageDraw.Draw(img)
    s = SIZE
    bx0, by0 = rng.uniform(0.28, 0.38) * s, rng.uniform(0.25, 0.35) * s
    bx1, by1 = s - rng.uniform(0.28, 0.38) * s, rng.uniform(0.6, 0.7) * s

    def c(base, spread=30):
        return tuple(int(np.clip(b + rng.integers(-spread, spread), 0, 255)) for b in base)

    wall = c((215, 205, 185), 40)
    d.polygon([(0, 0), (s, 0), (bx1, by0), (bx0, by0)], fill=c((240, 240, 235), 10))  # ceiling
    d.polygon([(0, s), (s, s), (bx1, by1), (bx0, by1)], fill=c((150, 105, 65), 40))  # wooden floor
    d.polygon([(0, 0), (bx0, by0), (bx0, by1), (0, s)], fill=tuple(int(v * 0.85) for v in wall))
    d.polygon([(s, 0), (bx1, by0), (bx1, by1), (s, s)], fill=tuple(int(v * 0.9) for v in wall))
    d.rectangle([bx0, by0, bx1, by1], fill=wall)
    for i in range(1, 8):  # floor boards converge on the vanishing point
        x = i * s / 8
        d.line([(x, s), (bx0 + (bx1 - bx0) * i / 8, by1)], fill=c((120, 80, 50), 10), width=2)
    wx0 = bx0 + (bx1 - bx0) * rng.uniform(0.1, 0.4)
    d.rectangle([wx0, by0 + 20, wx0 + (bx1 - bx0) * 0.35, by0 + (by1 - by0) * 0.55], fill=c((170, 200, 235), 20),
                outline=(250, 250, 250), width=4)
    d.polygon([(s * 0.05, s * 0.2), (s * 0.2, s * 0.27), (s * 0.2, s * 0.8), (s * 0.05, s * 0.95)],
              fill=c((120, 80, 50), 30))  # a door in the left wall
    tx = rng.uniform(0.3, 0.5) * s
    d.rectangle([tx, s * 0.72, tx + s * 0.3, s * 0.76], fill=c((90, 60, 40), 20))  # table
    d.rectangle([tx + 8, s * 0.76, tx + 16, s * 0.9], fill=(70, 50, 30))
    d.rectangle([tx + s * 0.3 - 16, s * 0.76, tx + s * 0.3 - 8, s * 0.9], fill=(70, 50, 30))
    px = bx1 - (bx1 - bx0) * 0.3
    d.rectangle([px, by0 + 30, px + 50, by0 + 80], fill=c((60, 90, 60), 60), outline=(40, 30, 20), width=3)
    return img.filter(ImageFilter.GaussianBlur(0.8))


def grey_pixel(_rng: np.random.Generator) -> Image.Image:
    return Image.new("RGB", (1, 1), (128, 128, 128))


GENERATED: dict[str, Callable[[np.random.Generator], Image.Image]] = {
    "plain colour": plain, "noise": noise, "gradient": gradient, "text page": text_page, "matplotlib chart": chart,
    "drawn indoor room": room, "1x1 grey pixel": grey_pixel}


# ------------------------------------------------------------------ scoring
def features_of(p, images: list[Image.Image], crop: float | None = None) -> np.ndarray:
    """Pooled features (N, D) of PIL images as the app's predictions compute them."""
    import torch

    x = torch.stack([p.preprocess(im, crop) for im in images])
    with capture_features(p) as got:
        p.outputs(x)
    return np.concatenate(got)


def rate(flags: list[bool]) -> dict:
    k, n = int(sum(flags)), len(flags)
    lo, hi = wilson(k, n)
    return {"fired": k, "n": n, "rate": k / n if n else float("nan"), "ci95": [lo, hi]}


def main(argv=None) -> int:
    from model.data.manifest import read_manifest
    from model.predict import Predictor

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--data", default=None)
    ap.add_argument("--split", default="test")
    ap.add_argument("--n-synthetic", type=int, default=24)
    ap.add_argument("--n-masked", type=int, default=120, help="test photos given the grey mask / made into strips")
    ap.add_argument("--feature-cache", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    p = Predictor.load(args.checkpoint)
    cal = load_calibration(p.path, net_fingerprint(p.net))
    if cal is None:
        print(f"no matching OOD calibration next to {p.path} (run python -m model.ood)", file=sys.stderr)
        return 2
    thr, ref = cal.threshold, cal.reference
    print(f"checkpoint {p.path.name}: threshold {thr:.4f} ({ref.components.shape[0]} principal directions of "
          f"{cal.n_fit} training photos; {cal.quantile:.0%} of {cal.n_images} {cal.split} images above it)")
    df = read_manifest(args.data)
    d = df[df["split"] == args.split].reset_index(drop=True)
    cache = Path(args.feature_cache) if args.feature_cache else None
    if cache and cache.is_file():
        z = np.load(cache, allow_pickle=False)
        feats, ok = z["features"], z["ok"]
    else:
        feats, ok = image_features(p, d["path"].tolist())
        if cache:
            np.savez(cache, features=feats, ok=ok)
    d = d[ok].reset_index(drop=True)
    s = ref.scores(feats)
    d["score"] = s
    res: dict = {"threshold": thr, "quantile": cal.quantile, "split": args.split, "dims": int(ref.components.shape[0])}
    res["per_image"] = rate(list(s > thr))
    loc = d.groupby("location_id").agg(score=("score", "mean"), source=("source", "first"))
    res["per_location"] = rate(list(loc["score"] > thr))
    res["per_source_location"] = {src: rate(list(grp["score"] > thr)) for src, grp in loc.groupby("source")}
    res["score_quantiles"] = {str(q): float(np.quantile(s, q)) for q in (0.5, 0.95, 0.99)}

    rng = np.random.default_rng(args.seed)
    synth: dict[str, dict] = {}
    for name, fn in GENERATED.items():
        imgs = [fn(rng) for _ in range(args.n_synthetic if name != "1x1 grey pixel" else 1)]
        sc = ref.scores(features_of(p, imgs))
        synth[name] = {**rate(list(sc > thr)), "median_score": float(np.median(sc))}
    # real test photos with the shortcut test's "Both" mask, and squeezed into 4000x120 strips (tiled)
    locs = d.drop_duplicates("location_id").sample(min(args.n_masked, d["location_id"].nunique()), random_state=0)
    from model.data.images import open_image

    masked, strips = [], []
    for path in locs["path"]:
        img = open_image(path)
        crop = max(p.crop, HIDE_BOTTOM)
        masked.append(float(ref.scores(features_of(p, [hide_edges(img, crop)], crop))[0]))
        tiles = split_photo(img.resize((4000, 120), Image.BILINEAR), "strip").views
        strips.append(float(ref.scores(features_of(p, tiles)).mean()))
    synth["shortcut-test grey mask (Both) on test photos"] = {**rate([v > thr for v in masked]),
                                                             "median_score": float(np.median(masked))}
    synth["test photo as a 4000x120 strip, 8 tiles fused"] = {**rate([v > thr for v in strips]),
                                                              "median_score": float(np.median(strips))}
    res["generated"] = synth

    def line(label: str, r: dict) -> str:
        lo, hi = r["ci95"]
        extra = f"  median score {r['median_score']:.3f}" if "median_score" in r else ""
        return f"  {label:<48} {r['rate']:6.1%} ({r['fired']}/{r['n']}; 95% CI {lo:.1%}-{hi:.1%}){extra}"

    print(f"\n{args.split} split: 'does not look like a street-level photo' fires on")
    print(line("images", res["per_image"]))
    print(line("locations (mean of their views)", res["per_location"]))
    for src, r in res["per_source_location"].items():
        print(line(f"  locations from {src}", r))
    print("\ngenerated / altered inputs: fires on")
    for name, r in synth.items():
        print(line(name, r))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
