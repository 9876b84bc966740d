"""Does averaging several trained models help? ``python benchmarks/ensemble.py CK1 CK2 [CK3 ...] [--data M]``.

Each checkpoint answers every location of a split (default: test) as ``model.evaluate`` does (views
fused, the retrieval gallery's country vote); the members are then combined per location:

- **country**: the mean of the members' country probabilities;
- **best guess**: each member's answer is a distribution over points (its gallery's candidate training
  places with their weights, or, without a gallery, its cell positions with their probabilities); the
  ensemble's distribution is their equal-weight mixture and the guess is the candidate point with the
  highest expected GeoGuessr score under it (world map), like a single model's best guess.

Prints, for every single member and every combination of two or more, country top-1 / top-3 per location
and the best guess's median km, mean GeoScore and share within 750 km. Cells may differ between members
(other seeds build other geocells): only countries and coordinates are combined. Reads the trunk
feature cache, so a member costs about a minute on the test split once its cache exists.
"""
from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


from model.net.checkpoint import load_checkpoint, load_gallery  # noqa: E402
from model.evaluation.outputs import network_outputs  # noqa: E402
from model.geo import geoscore, haversine_km, pairwise_km  # noqa: E402
from model.net.answer import answer_place  # noqa: E402
from model.net.inference import cell_country_index  # noqa: E402
from model.data.manifest import read_manifest  # noqa: E402
from model.net.retrieval import candidates  # noqa: E402


@dataclass
class Answer:
    """One member's answer for one location: ``country`` probabilities (Series by ISO code, sums to 1)
    and a point distribution ``lat``/``lon`` (K,) degrees with weights ``w`` (K,) summing to 1."""

    country: pd.Series
    lat: np.ndarray
    lon: np.ndarray
    w: np.ndarray


def combine(answers: list[Answer]) -> tuple[pd.Series, float, float]:
    """Equal-weight mixture of member answers -> (country probabilities descending, guess lat, guess lon).

    The guess is the mixture's candidate point with the highest expected GeoGuessr score (world map)."""
    cp = pd.concat([a.country for a in answers], axis=1).fillna(0.0).mean(axis=1)
    lat = np.concatenate([a.lat for a in answers])
    lon = np.concatenate([a.lon for a in answers])
    w = np.concatenate([a.w / a.w.sum() / len(answers) for a in answers])
    b = int((geoscore(pairwise_km(lat, lon, lat, lon)) @ w).argmax())
    return cp.sort_values(ascending=False), float(lat[b]), float(lon[b])


def member_answers(ck_path: str, df: pd.DataFrame) -> dict[str, Answer]:
    """Per-location answers of one checkpoint on manifest rows ``df`` (index 0..N-1)."""
    net, cells, ck = load_checkpoint(ck_path)
    gal = load_gallery(ck)
    out = network_outputs(net, ck, df["path"].tolist())
    t = cells.table
    _, cidx = cell_country_index(t)
    keys = [k for k in out if k != "ok"]
    res = {}
    for loc, g in df[out["ok"]].groupby("location_id", sort=False):
        a = answer_place({k: out[k][g.index.to_numpy()] for k in keys}, t, cidx, gal)
        country = a.country_probs
        c = candidates(a.probs, a.embed, gal) if gal is not None and a.embed is not None else None
        if c is not None:  # the gallery's look-alike candidates, weighted as model.net.retrieval.refine does
            m, w = c
            res[loc] = Answer(country, gal.lat[m], gal.lon[m], w)
        else:
            keep = np.argsort(-a.probs)[:256]
            res[loc] = Answer(country, a.pos_lat[keep], a.pos_lon[keep], a.probs[keep] / a.probs[keep].sum())
    return res


def score(answers: list[dict[str, Answer]], truth: pd.DataFrame) -> dict[str, float]:
    """Per-location figures of the combination of members ``answers`` against ``truth`` (by location)."""
    ok, top3, km = [], [], []
    for loc, tr in truth.iterrows():
        if not all(loc in a for a in answers):
            continue
        cp, lat, lon = combine([a[loc] for a in answers])
        ok.append(cp.index[0] == tr["country_code"])
        top3.append(tr["country_code"] in cp.index[:3])
        if np.isfinite(tr["lat"]):
            km.append(float(haversine_km(tr["lat"], tr["lon"], lat, lon)))
    km_a = np.asarray(km)
    return {"country": float(np.mean(ok)), "top3": float(np.mean(top3)), "median_km": float(np.median(km_a)),
            "geoscore": float(np.mean(geoscore(km_a))), "acc_750km": float(np.mean(km_a <= 750))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--data", default=None, help="manifest (default: $GEOLOC_DATA, data/, ../shared/geodata)")
    ap.add_argument("--split", default="test")
    args = ap.parse_args(argv)
    df = read_manifest(args.data)
    if args.split and (df["split"] != "").any():
        df = df[df["split"] == args.split]
    df = df.reset_index(drop=True)
    truth = df.groupby("location_id", sort=True)[["lat", "lon", "country_code"]].first()
    members = {Path(c).parent.name + "/" + Path(c).name: member_answers(c, df) for c in args.checkpoints}
    print(f"{args.split}: {len(truth)} locations, {int(truth['lat'].notna().sum())} with coordinates")
    print("| members | country top-1 | top-3 | guess median km | mean GeoScore | within 750 km |")
    print("|---|---|---|---|---|---|")
    for k in range(1, len(members) + 1):
        for combo in itertools.combinations(members, k):
            s = score([members[c] for c in combo], truth)
            print(f"| {' + '.join(combo)} | {s['country']:.1%} | {s['top3']:.1%} | {s['median_km']:,.0f} | "
                  f"{s['geoscore']:,.0f} | {s['acc_750km']:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
