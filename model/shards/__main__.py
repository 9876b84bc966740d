"""``python -m model.shards write|info|verify``: write, summarise and check WebDataset shard folders.

    python -m model.shards write --data MANIFEST --out DIR [--shard-size N] [--max-side PX] [--workers N]
    python -m model.shards info DIR [--shards]
    python -m model.shards verify DIR [--no-decode] [--workers N]
"""
from __future__ import annotations

import argparse
import logging
import sys

from model.cli import USER_ERRORS, at_least, positive_int
from .encode import DEFAULT_QUALITY
from .check import info, verify
from .write import write_manifest_shards


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.shards", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write", help="write a manifest's images and metadata into tar shards (resumable)")
    w.add_argument("--data", default=None, metavar="MANIFEST", help="manifest CSV or a folder holding manifest.csv "
                   "(default: $GEOLOC_DATA, data/manifest.csv, ../shared/geodata)")
    w.add_argument("--out", required=True, metavar="DIR",
                   help="shard folder (new or empty, or one this command was writing)")
    w.add_argument("--shard-size", type=positive_int, default=1000, metavar="N",
                   help="samples per shard (default 1000)")
    w.add_argument("--max-side", type=at_least(8, int), default=None, metavar="PX",
                   help="shrink images whose longer side exceeds PX pixels (re-encoded as JPEG); "
                        "default: original bytes")
    w.add_argument("--quality", type=at_least(1, int), default=DEFAULT_QUALITY, metavar="Q",
                   help=f"JPEG quality of re-encoded images (default {DEFAULT_QUALITY})")
    w.add_argument("--workers", type=at_least(0, int), default=0, metavar="N",
                   help="processes that read and check images (default 0: in this process)")
    i = sub.add_parser("info", help="samples per split, shards and size of a shard folder")
    i.add_argument("dir")
    i.add_argument("--shards", action="store_true", help="one line per shard")
    v = sub.add_parser("verify", help="check sizes, checksums and that every sample decodes")
    v.add_argument("dir")
    v.add_argument("--no-decode", action="store_true", help="checksums and tar structure only")
    v.add_argument("--workers", type=at_least(0, int), default=0, metavar="N",
                   help="check shards in parallel processes")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.cmd == "write":
            if args.quality > 100:
                ap.error("--quality must be 1..100")
            ix = write_manifest_shards(args.data, args.out, shard_size=args.shard_size, max_side=args.max_side,
                                       quality=args.quality, workers=args.workers,
                                       progress=sys.stderr.isatty())
            print(info(args.out))
            return 0 if ix["complete"] else 1
        if args.cmd == "info":
            print(info(args.dir, shards=args.shards))
            return 0
        problems = verify(args.dir, decode=not args.no_decode, workers=args.workers)
        for p in problems:
            print(p)
        print(f"{args.dir}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
        return 0 if not problems else 1
    except KeyboardInterrupt:
        print("interrupted; run the same write command again to resume", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
