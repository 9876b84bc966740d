"""The command line's batch mode: ``python -m model.predict --batch SRC --out FILE [--workers N]``.

Every photo of folder or zip ``SRC`` is predicted on its own (:func:`.collection.predict_collection`, with a
progress bar) and the collection written to ``FILE`` as GeoJSON, KML or CSV by its extension
(:mod:`.formats`). Photos that cannot be read are named on stderr and the rest predicted. Exit status: 0 all
photos predicted; 3 some failed (``FILE`` holds the rest); 2 nothing predicted or a bad argument.
"""
from __future__ import annotations

import argparse
import sys

from model.cli import USER_ERRORS, at_least

EXIT_FATAL, EXIT_SOME_FAILED = 2, 3


def add_batch_args(ap: argparse.ArgumentParser) -> None:
    """``--batch``, ``--out`` and ``--workers`` on ``python -m model.predict``'s parser."""
    g = ap.add_argument_group("a whole collection (--batch)")
    g.add_argument("--batch", metavar="SRC", default=None,
                   help="a folder (recursive) or .zip of photos: each photo predicted on its own, all written to --out")
    g.add_argument("--out", metavar="FILE", default=None,
                   help="with --batch: FILE.geojson, FILE.kml (Google Earth) or FILE.csv")
    g.add_argument("--workers", type=at_least(0, int), default=None, metavar="N",
                   help="with --batch: threads reading and decoding photos ahead of the model (default: 2 on a "
                        "GPU, 0 on the CPU, where the model already uses every core)")


def check_batch_args(ap: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse (``ap.error``: exit 2) inconsistent options before the model is loaded."""
    from .formats import format_of

    if args.batch is None:
        if args.out is not None:
            ap.error("--out needs --batch SRC")
        if not args.images:
            ap.error("give image files, or --batch SRC --out FILE")
        return
    if args.images:
        ap.error("give image files or --batch SRC, not both")
    if args.out is None:
        ap.error("--batch needs --out FILE (.geojson, .kml or .csv)")
    try:
        format_of(args.out)
    except ValueError as e:
        ap.error(str(e))


def run_batch(predictor, args: argparse.Namespace) -> int:
    """Predict ``args.batch`` with ``predictor`` and write ``args.out``; returns the exit status."""
    from tqdm import tqdm

    from .collection import predict_collection
    from .formats import write_collection

    bars: list = []

    def progress(done: int, total: int, name: str) -> None:
        if not bars:
            bars.append(tqdm(total=total, unit="photo", desc="predict", file=sys.stderr))
        bars[0].update(done - bars[0].n)

    try:
        workers = args.workers if args.workers is not None else (2 if getattr(getattr(predictor, "device", None), "type", "cpu") == "cuda" else 0)
        res = predict_collection(args.batch, predictor, workers=workers, progress=progress)
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FATAL
    finally:
        for b in bars:
            b.close()
    for note in res.notes:
        print(f"note: {note}", file=sys.stderr)
    for a in res.failed:
        print(f"error: {a.photo}: {a.error}: skipped", file=sys.stderr)
    if not res.predicted:
        print(f"error: none of the {len(res.answers):,} photos could be predicted; nothing written", file=sys.stderr)
        return EXIT_FATAL
    try:
        out = write_collection(res, args.out)
    except USER_ERRORS as e:
        print(f"error: cannot write {args.out}: {e}", file=sys.stderr)
        return EXIT_FATAL
    print(f"{res.summary()} -> {out}")
    if res.failed:
        print(f"{len(res.failed):,} photo(s) failed (named above); the rest are in {out}.", file=sys.stderr)
        return EXIT_SOME_FAILED
    return 0
