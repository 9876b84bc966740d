"""Out-of-distribution signal: does a photo look like the street-level photos the model knows?

The model always answers, even for a chart or a grey square. This module says when a photo is unlike
its training photos, from the pooled backbone features ``f`` (D,) that the head receives:

    score(view) = || r - P^T P r ||,  r = f / ||f|| - mu

the residual of the view's unit-length features off the principal subspace of the training photos'
(``mu`` their mean, ``P`` (d, D) their top-``d`` principal directions; ``d`` the fewest that explain
half their variance). It is the residual of ViM (Wang et al., CVPR 2022). Street photos sit close to
that subspace; pictures without the statistics of a street scene (flat colours, noise, text,
charts, rooms) have most of their features outside it. Higher = less like the training photos.

The threshold is set on held-out data: the ``1 - quantile`` (default 99%) point of the validation
split's image scores, so that 99% of held-out street photos pass. An input of several views scores
the mean of its views. Measured on the shipped model: ``benchmarks/ood.py``.

Fitting needs the training photos' features, so the reference (``mu``, ``P`` in float16) and the
threshold live in a JSON sidecar next to the checkpoint (``default.pt`` -> ``default.ood.json``,
~120 kB), tied to the network by a fingerprint of its weights so that another checkpoint is never
judged with a stale one. ``python -m model.ood [--checkpoint C] [--data M]`` writes it.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from model.net.retrieval import unit

SIDECAR_SUFFIX = ".ood.json"
DEFAULT_QUANTILE = 0.01
DEFAULT_VARIANCE = 0.5
METHOD = "pooled-feature residual off the training photos' principal subspace (ViM residual)"


def _pack(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, np.float16).tobytes()).decode("ascii")


def _unpack(s: str, shape: Sequence[int]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), np.float16).astype(np.float32).reshape(shape)


@dataclass
class Reference:
    """The training photos' unit features: ``mean`` (D,) and principal directions ``components`` (d, D)."""

    mean: np.ndarray
    components: np.ndarray

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Residual norms (N,) of features (N, D) off the subspace (see the module docstring)."""
        r = unit(np.asarray(features, np.float32).reshape(-1, self.mean.shape[0])) - self.mean
        return np.linalg.norm(r - (r @ self.components.T) @ self.components, axis=1)

    def rounded(self) -> "Reference":
        """As stored in the sidecar (float16), so thresholds are set on exactly what is served."""
        return Reference(self.mean.astype(np.float16).astype(np.float32),
                         self.components.astype(np.float16).astype(np.float32))


def fit_reference(features: np.ndarray, variance: float = DEFAULT_VARIANCE, dims: int | None = None) -> Reference:
    """Mean and top principal directions of training features (N, D): the fewest that explain
    ``variance`` of their (unit-length) variance, or ``dims`` of them."""
    x = unit(features)
    mu = x.mean(0)
    _, s, vt = np.linalg.svd(x - mu, full_matrices=False)
    if dims is None:
        ev = np.cumsum(s ** 2) / np.sum(s ** 2)
        dims = int(np.searchsorted(ev, variance) + 1)
    return Reference(mu.astype(np.float32), vt[:dims].astype(np.float32))


@dataclass
class Calibration:
    """Reference, threshold and their provenance (plain values: the sidecar's JSON)."""

    reference: Reference
    threshold: float
    quantile: float
    fingerprint: str
    n_fit: int
    n_images: int
    n_locations: int
    split: str = "val"
    method: str = METHOD
    checkpoint: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "reference"}
        m, c = self.reference.mean, self.reference.components
        d["reference"] = {"dims": int(c.shape[0]), "features": int(m.shape[0]), "dtype": "float16",
                          "mean": _pack(m), "components": _pack(c)}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Calibration":
        r = d["reference"]
        ref = Reference(_unpack(r["mean"], (r["features"],)), _unpack(r["components"], (r["dims"], r["features"])))
        keep = {k: d[k] for k in cls.__dataclass_fields__ if k in d and k != "reference"}
        return cls(reference=ref, **keep)


@dataclass
class Assessment:
    """The signal for one input: per-view ``scores`` (V,), their mean ``score``, the ``threshold``,
    whether the input as a whole is ``unusual`` (score above it) and which views are."""

    scores: np.ndarray
    score: float
    threshold: float
    unusual: bool
    unusual_views: list[int]
    quantile: float = DEFAULT_QUANTILE  # share of held-out street photos above the threshold


def net_fingerprint(net: torch.nn.Module) -> str:
    """A short id of a network's weights (every parameter and buffer, in order)."""
    h = hashlib.sha1()
    for k, v in net.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def sidecar_path(checkpoint: str | Path) -> Path:
    """``assets/models/default.pt`` -> ``assets/models/default.ood.json``."""
    p = Path(checkpoint)
    return p.with_name(p.stem + SIDECAR_SUFFIX)


def load_calibration(checkpoint: str | Path, fingerprint: str | None = None) -> Calibration | None:
    """The sidecar's calibration if it exists, reads, and (given ``fingerprint``) matches; else None."""
    try:
        cal = Calibration.from_dict(json.loads(sidecar_path(checkpoint).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return cal if fingerprint is None or cal.fingerprint == fingerprint else None


def assess(features: np.ndarray | None, cal: Calibration | None) -> Assessment | None:
    """The signal for one input from its views' pooled features (V, D); None without features or a calibration."""
    if features is None or cal is None or len(features) == 0:
        return None
    s = cal.reference.scores(features)
    score = float(s.mean())
    return Assessment(s, score, cal.threshold, score > cal.threshold,
                      [int(i) for i in np.flatnonzero(s > cal.threshold)], cal.quantile)


@contextlib.contextmanager
def capture_features(predictor: Any) -> Iterator[list[np.ndarray]]:
    """Collect the pooled features (B, D) that the predictor's head receives during the block
    (a forward pre-hook on ``predictor.net.head``; nothing is collected for a network without one).
    The hook is on the shared model: hold ``model.locks.model_lock(predictor)`` around the block."""
    got: list[np.ndarray] = []
    head = getattr(getattr(predictor, "net", None), "head", None)
    if not isinstance(head, torch.nn.Module):
        yield got
        return

    def hook(_m, args):
        got.append(args[0].detach().float().cpu().numpy())

    handle = head.register_forward_pre_hook(hook)
    try:
        yield got
    finally:
        handle.remove()


def predictor_calibration(predictor: Any) -> Calibration | None:
    """The calibration next to the predictor's checkpoint if it matches its weights (read once)."""
    cached = getattr(predictor, "_ood_calibration", "unset")
    if cached != "unset":
        return cached
    net, path = getattr(predictor, "net", None), getattr(predictor, "path", None)
    cal = load_calibration(path, net_fingerprint(net)) if net is not None and path else None
    try:
        predictor._ood_calibration = cal
    except AttributeError:
        pass
    return cal


def predictor_check(predictor: Any, captured: Sequence[np.ndarray]) -> Assessment | None:
    """:func:`assess` of features captured with :func:`capture_features` during one prediction."""
    feats = np.concatenate(list(captured)) if captured else None
    return assess(feats, predictor_calibration(predictor))


# ------------------------------------------------------------------ calibration
def image_features(predictor: Any, paths: Sequence[str], batch: int = 32, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features (N, D) of image files with the predictor's own preprocessing, and a mask (N,)
    of the files that loaded (unreadable ones are skipped, their name printed)."""
    from .data.images import ImageLoadError, open_image

    out: list[np.ndarray] = []
    ok = np.zeros(len(paths), bool)
    it: Any = range(0, len(paths), batch)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="features", unit="batch")
    for i in it:
        xs = []
        for j in range(i, min(i + batch, len(paths))):
            try:
                xs.append(predictor.preprocess(open_image(paths[j])))
                ok[j] = True
            except ImageLoadError as e:
                print(f"skipped: {e}", file=sys.stderr)
        if xs:
            with capture_features(predictor) as got:
                predictor.outputs(torch.stack(xs))
            out.append(np.concatenate(got))
    return (np.concatenate(out) if out else np.zeros((0, 0), np.float32)), ok


def calibrate(fit_features: np.ndarray, held_out: np.ndarray, location_ids: Sequence[str], fingerprint: str,
              quantile: float = DEFAULT_QUANTILE, variance: float = DEFAULT_VARIANCE, split: str = "val",
              checkpoint: str = "") -> Calibration:
    """Reference fitted on training features (N, D); threshold = the ``1 - quantile`` point of the
    held-out images' scores (``held_out`` (M, D), ``location_ids`` (M,))."""
    if not 0 < quantile < 0.5:
        raise ValueError(f"quantile must be between 0 and 0.5, got {quantile}")
    if len(fit_features) < 10 or len(held_out) == 0:
        raise ValueError("need training features (at least 10) and held-out images to calibrate")
    ref = fit_reference(fit_features, variance).rounded()
    s = ref.scores(held_out)
    thr = float(np.quantile(s, 1 - quantile))
    by_loc: dict[str, list[float]] = {}
    for lid, v in zip(location_ids, s):
        by_loc.setdefault(str(lid), []).append(float(v))
    fit_s = ref.scores(fit_features)
    return Calibration(ref, thr, float(quantile), fingerprint, int(len(fit_features)), int(len(s)), len(by_loc), split,
                       checkpoint=Path(checkpoint).name if checkpoint else "",
                       extra={"variance_explained": float(variance), "dims": int(ref.components.shape[0]),
                              "held_out_image_pass_rate": float(np.mean(s <= thr)),
                              "held_out_location_pass_rate": float(np.mean([np.mean(v) <= thr for v in by_loc.values()])),
                              "held_out_score_median": float(np.median(s)),
                              "fit_image_pass_rate": float(np.mean(fit_s <= thr))})


def fit_sample(df, split: str = "train", max_images: int = 2500, seed: int = 0):
    """Training rows to fit on: one view per location (shuffled with ``seed``), at most ``max_images``."""
    d = df[df["split"] == split].sample(frac=1, random_state=seed).drop_duplicates("location_id")
    return d.head(max_images).reset_index(drop=True)


def main(argv=None) -> int:
    from .net.checkpoint import DEFAULT_CHECKPOINT
    from .cli import USER_ERRORS, positive_int
    from .data.manifest import read_manifest
    from .predict import Predictor

    ap = argparse.ArgumentParser(prog="python -m model.ood", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=None, help=f"default: {DEFAULT_CHECKPOINT}")
    ap.add_argument("--data", default=None, help="manifest (default: the project's data)")
    ap.add_argument("--fit-split", default="train", help="split whose photos define 'street photo' (default: train)")
    ap.add_argument("--max-fit", type=positive_int, default=2500, help="at most this many (one view per location)")
    ap.add_argument("--split", default="val", help="held-out split that sets the threshold (default: val)")
    ap.add_argument("--quantile", type=float, default=DEFAULT_QUANTILE,
                    help="share of held-out images allowed above the threshold (default: %(default)s)")
    ap.add_argument("--variance", type=float, default=DEFAULT_VARIANCE,
                    help="share of the training features' variance the subspace explains (default: %(default)s)")
    ap.add_argument("--out", default=None, help="sidecar to write (default: next to the checkpoint)")
    args = ap.parse_args(argv)
    try:
        p = Predictor.load(args.checkpoint)
        df = read_manifest(args.data)
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    fit, held = fit_sample(df, args.fit_split, args.max_fit), df[df["split"] == args.split].reset_index(drop=True)
    if fit.empty or held.empty:
        print(f"error: the manifest needs {args.fit_split!r} and {args.split!r} rows", file=sys.stderr)
        return 2
    ff, _ = image_features(p, fit["path"].tolist())
    hf, ok = image_features(p, held["path"].tolist())
    try:
        cal = calibrate(ff, hf, held["location_id"][ok].astype(str).tolist(), net_fingerprint(p.net), args.quantile,
                        args.variance, args.split, str(p.path))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else sidecar_path(p.path)
    out.write_text(json.dumps(cal.to_dict(), indent=1) + "\n")
    summary = {k: v for k, v in cal.to_dict().items() if k != "reference"}
    print(json.dumps(summary, indent=2))
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
