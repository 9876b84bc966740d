"""Inference on photos: ``Predictor`` and ``python -m model.predict IMAGE [IMAGE...]`` (JSON).

Several images given together are views of one place and are fused into one answer.
"""
from __future__ import annotations

import argparse
import json
import sys


from .net.checkpoint import DEFAULT_CHECKPOINT
from .cli import USER_ERRORS, positive_int
from .device import add_runtime_args
from .data.images import open_image
from .net.answer import Guess, PlaceAnswer, Prediction, answer_place, to_prediction  # noqa: F401  (re-exported)
from .predictors.predictor import Predictor  # noqa: F401  (re-exported: from model.predict import Predictor)
from .data.transforms import crop_arg


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.predict", description=__doc__)
    ap.add_argument("images", nargs="*", help="image files; several = views of one place, fused")
    ap.add_argument("--checkpoint", default=None, help=f"default: {DEFAULT_CHECKPOINT}")
    ap.add_argument("--model", default=None,
                    help="a predictor (geoclip, streetclip-zeroshot, clip-zeroshot[:<clip backbone>]) or a checkpoint "
                         "path, instead of --checkpoint (model/predictors; docs/predictors.md)")
    ap.add_argument("--top-k", type=positive_int, default=5)
    ap.add_argument("--crop", type=crop_arg, default=None,
                    help="bottom fraction to hide, 0..0.5 (default: the model's)")
    ap.add_argument("--separate", action="store_true",
                    help="predict each image on its own (an unreadable one gets an 'error' entry, the rest go on)")
    add_runtime_args(ap, workers=False, compile_=False, device_default=None)
    from .export.batch import add_batch_args, check_batch_args, run_batch

    add_batch_args(ap)  # --batch SRC --out FILE [--workers N]: a whole collection (model/export)
    args = ap.parse_args(argv)
    check_batch_args(ap, args)
    if args.model and args.checkpoint:
        ap.error("give --model or --checkpoint, not both")
    from .net.backbones.registry import PretrainedWeightsMissing

    try:
        if args.model:
            from .predictors import load_predictor

            p = load_predictor(args.model, args.device, args.precision)
        else:
            p = Predictor.load(args.checkpoint, args.device, args.precision)
    except (*USER_ERRORS, PretrainedWeightsMissing) as e:  # missing weights: the message names the download
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.batch is not None:
        return run_batch(p, args)
    groups = [[i] for i in args.images] if args.separate else [args.images]
    res, failed = [], False
    for g in groups:
        try:
            r = p.predict([open_image(i) for i in g], top_k=args.top_k, crop=args.crop).to_dict()
        except USER_ERRORS as e:
            print(f"error: {e}", file=sys.stderr)
            if not args.separate:
                return 2
            failed, r = True, {"error": str(e)}
        r["images"] = g
        if args.model:  # which predictor answered, under which terms
            r["model"], r["licence"] = p.name, p.licence
        res.append(r)
    print(json.dumps(res if args.separate else res[0], indent=2))
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
