"""The collector's command-line parser: ``python -m model.collect {streetview,imagefolder,hf,photos,demo,crop,im2gps3k,yfcc4k}``."""
from __future__ import annotations

import argparse
from pathlib import Path

from model.cli import at_least, positive, positive_int

from model.collect import cost as cost_mod


def _floats(spec: str) -> list[float]:
    try:
        vals = [float(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {spec!r}") from None
    if not vals:
        raise argparse.ArgumentTypeError("expected at least one number")
    return vals


def _headings(spec: str) -> list[float]:
    vals = _floats(spec)
    bad = [v for v in vals if not 0 <= v < 360]
    if bad:
        raise argparse.ArgumentTypeError(f"headings are degrees in 0..360, got {bad}")
    return [int(v) if v.is_integer() else v for v in vals]


class _Help(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Shows a default only where there is one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, "", False) or action.default is argparse.SUPPRESS:
            return action.help or ""
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m model.collect", description=(
        "Grow a dataset: sample Google Street View images with your own API key, or import an image "
        "folder, your own photos (EXIF GPS), a Hugging Face dataset, the open demo set or a public benchmark "
        "(im2gps3k, yfcc4k). Everything writes the "
        "project's manifest.csv. One run at a time writes a folder; a folder holding another data set is "
        "refused."))
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    sv = sub.add_parser("streetview", help="collect Street View images (needs a Google API key)",
                        formatter_class=_Help, description=(
                            "Sample points, find the nearest outdoor panorama of each (metadata requests are\n"
                            "free), download views at the chosen headings (billed) and write OUT/manifest.csv.\n"
                            "Prints the number of requests and their cost first. Interrupted (Ctrl-C, kill),\n"
                            "run the same command again to resume."), epilog=(
                            "examples:\n"
                            "  %(prog)s --countries HR,SI --per-region 50 --out data/hr_si --key-file ~/.gsv_key --dry-run\n"
                            "  %(prog)s --regions US,CA --per-region 325 --headings 0 --size 600x600 --out data/us_ca\n"
                            "  %(prog)s --grid IN --cell-km 50 --per-cell 2 --out data/india --crop-bottom 0.06\n"
                            "  %(prog)s --world 2000 --headings 0 --split 0.8,0.1,0.1 --out data/world"))
    plan = sv.add_argument_group("sampling plan (choose one)").add_mutually_exclusive_group(required=True)
    plan.add_argument("--countries", metavar="LIST", help="countries (ISO codes or names, comma-separated): "
                      "--per-region points uniformly in each")
    plan.add_argument("--regions", metavar="LIST", help="countries whose first-level regions (states, "
                      "provinces) each get --per-region points")
    plan.add_argument("--grid", metavar="LIST", help="countries covered by a grid of cells, --per-cell "
                      "points in each cell")
    plan.add_argument("--world", type=int, metavar="N", help="N random land points worldwide")
    sv.add_argument("--per-region", type=positive_int, default=50, metavar="N", help="points per country/region")
    sv.add_argument("--per-cell", type=positive_int, default=1, metavar="N", help="points per grid cell")
    sv.add_argument("--cell-km", type=positive, default=25.0, metavar="KM", help="grid: H3 hexagon edge, km (nearest resolution)")
    sv.add_argument("--h3-res", type=int, choices=range(0, 16), metavar="RES", help="grid: H3 resolution (overrides --cell-km)")
    sv.add_argument("--grid-deg", type=positive, metavar="DEG", help="grid: square lat/lon cells of this many degrees instead of H3")
    sv.add_argument("--seed", type=int, default=0, metavar="N", help="random seed of the plan and the split")
    sv.add_argument("--out", type=Path, required=True, metavar="DIR", help="collection folder (e.g. data/my_set)")
    sv.add_argument("--headings", type=_headings, default="0,90,180,270", metavar="LIST", help="view headings, degrees")
    sv.add_argument("--size", default="640x640", metavar="WxH", help="image size WxH, pixels (max 640x640)")
    sv.add_argument("--fov", type=float, default=90.0, metavar="DEG", help="field of view, degrees (10..120)")
    sv.add_argument("--pitch", type=float, default=0.0, metavar="DEG", help="camera pitch, degrees (-90..90)")
    sv.add_argument("--radius", type=int, default=1000, metavar="M", help="search radius for the nearest panorama, metres")
    sv.add_argument("--api-source", choices=("outdoor", "default"), default="outdoor",
                    help="panorama source: outdoor excludes indoor/business imagery")
    sv.add_argument("--crop-bottom", default=None, metavar="SPEC",
                    help="crop the bottom watermark band: fraction (0.06) or pixels (24px)")
    sv.add_argument("--name", default="", metavar="NAME", help="manifest 'source' value (default gsv_<folder name>)")
    sv.add_argument("--split", default=None, metavar="F,F,F",
                    help="write a grouped, country-stratified train/val/test split, e.g. 0.8,0.1,0.1; recorded "
                         "with the collection (a re-run without --split keeps it)")
    sv.add_argument("--key-file", type=Path, metavar="PATH", help="file whose first line is the API key (else the "
                    "GOOGLE_MAPS_API_KEY / GSV_API_KEY / GOOGLE_API_KEY environment variable)")
    sv.add_argument("--signing-secret-file", type=Path, metavar="PATH", help="URL-signing secret (needed past 25,000 requests/day)")
    sv.add_argument("--price-per-1000", type=at_least(0), default=cost_mod.DEFAULT_PRICE_PER_1000, metavar="USD",
                    help="USD per 1,000 image requests (Google's list price when written; prices change: "
                         "check the Street View Static API pricing page). Metadata requests are free")
    sv.add_argument("--max-cost", type=at_least(0), metavar="USD", help="refuse to start if the remaining cost may exceed this (USD)")
    sv.add_argument("--dry-run", action="store_true", help="print the plan's requests and cost, then stop")
    sv.add_argument("--workers", type=positive_int, default=8, metavar="N", help="concurrent requests")
    sv.add_argument("--rate", type=at_least(0), default=20.0, metavar="PER_S", help="max requests per second (0 = unlimited); "
                    "halved automatically on quota errors")
    sv.add_argument("--retries", type=at_least(0, int), default=5, metavar="N", help="retries per request (exponential backoff)")
    sv.add_argument("--backoff", type=at_least(0), default=0.5, metavar="S",
                    help="first retry delay, seconds; doubles each retry (with jitter, at most 30 s)")
    sv.add_argument("--timeout", type=positive, default=20.0, metavar="S", help="per request, seconds")
    sv.add_argument("--no-progress", action="store_true", help="no progress bar")
    sv.add_argument("--base-url", help=argparse.SUPPRESS)  # tests: the fake server

    imf = sub.add_parser("imagefolder", help="DIR/<country>/<image> -> manifest (country labels only)",
                         formatter_class=_Help)
    imf.add_argument("dir", type=Path, help="folder with one sub-folder per country (ISO code or name)")
    imf.add_argument("--out", type=Path, required=True, help="manifest CSV to write (or a folder for manifest.csv)")
    imf.add_argument("--name", default=None, help="manifest 'source' value (default: the folder name)")
    imf.add_argument("--split", default=None, metavar="F,F,F", help="grouped stratified split, e.g. 0.8,0.1,0.1")
    imf.add_argument("--seed", type=int, default=0)
    imf.add_argument("--skip-unknown", action="store_true", help="skip folders that are not countries")

    hf = sub.add_parser("hf", help="stream N samples of a Hugging Face dataset -> images + manifest, or shards",
                        formatter_class=_Help, description=(
                            "Streams the first N samples (load_dataset(..., streaming=True)): only those are\n"
                            "downloaded. Works with Parquet, WebDataset and ImageFolder datasets on the Hub or\n"
                            "on disk. Columns are detected by name (image, latitude/longitude, country or label,\n"
                            "region/admin1, id; also inside a WebDataset's json); missing country/admin1 come\n"
                            "from reverse geocoding. With --shards the samples go straight into WebDataset\n"
                            "shards in DIR (no images/ or manifest.csv; see docs/shards.md); interrupted, the\n"
                            "same command resumes."),
                        epilog=("examples:\n"
                                "  %(prog)s user/geoguessr-countries --n 5000 --out data/geoguessr\n"
                                "  %(prog)s ~/datasets/osv5m_parquet --n 20000 --shuffle-buffer 10000 --out data/osv\n"
                                "  %(prog)s osv5m/osv5m-wds --hf-split train --shards --split 0.95,0.05,0 --out data/osv5m_train\n"
                                "  %(prog)s osv5m/osv5m-wds --hf-split test --shards --split test --out data/osv5m_test"))
    hf.add_argument("name", help="Hub dataset id or a local dataset folder (Parquet, WebDataset tars or ImageFolder)")
    hf.add_argument("--n", type=positive_int, default=None, metavar="N",
                    help="samples to import (default 1000; with --shards: the whole split)")
    hf.add_argument("--out", type=Path, required=True, metavar="DIR",
                    help="folder for images/ and manifest.csv (with --shards: for the shards)")
    hf.add_argument("--hf-split", default="train", help="dataset split to stream")
    hf.add_argument("--config", default=None, help="dataset configuration name")
    hf.add_argument("--revision", default=None, help="e.g. refs/convert/parquet for script-based datasets")
    hf.add_argument("--shuffle-buffer", type=at_least(0, int), default=0, metavar="N", help="shuffle the stream with this buffer (0 = off)")
    for role in ("image", "lat", "lon", "country", "admin1", "id"):
        hf.add_argument(f"--{role}-column", default=None, metavar="COL",
                        help=f"column holding the {role} (auto-detected)")
    hf.add_argument("--name", dest="source", default=None, help="manifest 'source' value")
    hf.add_argument("--split", default=None, metavar="F,F,F|NAME",
                    help="grouped split, e.g. 0.8,0.1,0.1 (with --shards: by a hash of each ~1 km H3 cell), "
                         "or one split for every sample: train, val or test")
    hf.add_argument("--seed", type=int, default=0)
    hf.add_argument("--keep-unknown", action="store_true", help="keep samples whose label is not a country")
    sh = hf.add_argument_group("shards (docs/shards.md)")
    sh.add_argument("--shards", action="store_true",
                    help="write WebDataset shards into DIR instead of images/ + manifest.csv")
    sh.add_argument("--shard-size", type=positive_int, default=None, metavar="N", help="samples per shard (default 1000)")
    sh.add_argument("--max-side", type=at_least(8, int), default=None, metavar="PX",
                    help="shrink images whose longer side exceeds PX pixels (re-encoded as JPEG); default: original bytes")
    sh.add_argument("--quality", type=at_least(1, int), default=None, metavar="Q",
                    help="JPEG quality of re-encoded images, 1..100 (default 95)")
    sh.add_argument("--workers", type=at_least(0, int), default=None, metavar="N",
                    help="processes that decode and check images (default 0: in this process)")

    ph = sub.add_parser("photos", help="your photos (a folder or .zip): EXIF GPS -> manifest, copies without metadata",
                        formatter_class=_Help, description=(
                            "One manifest row per photo (JPEG, PNG, WebP; HEIC/HEIF through pi-heif):\n"
                            "position from EXIF GPS, time taken from EXIF, country/admin1 by offline reverse\n"
                            "geocoding, split test (--split). Photos without GPS are kept unlabelled (predict and\n"
                            "map only). Copies are upright JPEGs with all metadata removed (nothing served gives\n"
                            "the place away); repeats, corrupt and unsupported files are named and skipped\n"
                            "(skipped.csv). Interrupted, the same command resumes."),
                        epilog=("examples:\n"
                                "  %(prog)s ~/Pictures/holiday --out data/holiday\n"
                                "  %(prog)s photos.zip --out data/my_photos --max-side 2048"))
    ph.add_argument("src", type=Path, help="a folder of photos (read recursively) or a .zip of them")
    ph.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for images/ and manifest.csv")
    ph.add_argument("--split", default=None, metavar="NAME|F,F,F",
                    help="split of every photo (train, val, test) or grouped fractions 0.8,0.1,0.1 (default: test, "
                         "or the folder's recorded split)")
    ph.add_argument("--seed", type=int, default=0, help="seed of a grouped split")
    ph.add_argument("--name", dest="source", default=None, help="manifest 'source' value (default photos)")
    ph.add_argument("--max-side", type=at_least(64, int), default=None, metavar="PX",
                    help="shrink photos whose longer side exceeds PX pixels (default: keep the size)")
    ph.add_argument("--workers", type=at_least(1, int), default=None, metavar="N",
                    help="threads decoding and encoding photos (default: up to 4 cores)")
    ph.add_argument("--no-progress", action="store_true", help="no progress bar")

    dm = sub.add_parser("demo", help="download a few hundred OpenStreetView-5M test images (CC BY-SA 4.0) with attribution",
                        formatter_class=_Help, description=(
                            "Downloads N images of OpenStreetView-5M's test split (osv5m/osv5m on the Hugging Face\n"
                            "Hub, photos from Mapillary, CC BY-SA 4.0) by partial reads: the head of test.csv, the\n"
                            "zips' directories and the chosen members only (about 20-30 MB for 300). Writes\n"
                            "images/, manifest.csv (split test), ATTRIBUTION.md and attribution.csv (the licence\n"
                            "asks for them). Resumable; the Hub revision is pinned on the first run. Needs the\n"
                            "internet, or --from DIR with a local copy (test.csv + images/test/NN.zip)."),
                        epilog=("examples:\n"
                                "  %(prog)s --out data/demo\n"
                                "  %(prog)s --n 500 --out data/demo500\n"
                                "  %(prog)s --from ~/datasets/osv5m --out data/demo"))
    dm.add_argument("--out", type=Path, default=Path("data/demo"), metavar="DIR", help="folder for the demo set")
    dm.add_argument("--n", type=positive_int, default=300, metavar="N", help="images to download (at most 2,000)")
    dm.add_argument("--from", dest="from_dir", type=Path, default=None, metavar="DIR",
                    help="a local copy in the Hub's layout (test.csv, images/test/NN.zip) instead of the Hub")
    dm.add_argument("--revision", default=None, metavar="SHA", help="Hub revision (default: the newest, pinned on the first run)")
    dm.add_argument("--seed", type=int, default=0, help="seed of the choice among the CSV's first rows")
    dm.add_argument("--no-progress", action="store_true", help="no progress bar")

    cr = sub.add_parser("crop", help="copy a manifest's images with the bottom watermark band cropped")
    cr.add_argument("manifest", type=Path)
    cr.add_argument("--bottom", required=True, help="fraction (0.06) or pixels (24px)")
    cr.add_argument("--out", type=Path, required=True, help="folder for the cropped copy")

    for bench, example in (("im2gps3k", "im2gps3k_places365.csv"), ("yfcc4k", "yfcc4k_places365.csv")):
        b = sub.add_parser(bench, help=f"{bench} benchmark (CSV of IMG_ID, LAT, LON + image folder) -> manifest",
                           formatter_class=_Help, description=(
                               f"Write a manifest for the {bench} test set from its own files: the CSV used by\n"
                               "GeoEstimation/GeoCLIP/Img2Loc (IMG_ID, LAT, LON, ...) and the folder of images\n"
                               "(not copied). split=test, labels from offline reverse geocoding; missing or\n"
                               "corrupt images are named and skipped (skipped.csv)."),
                           epilog=f"example:\n  %(prog)s --csv {example} --images {bench}/images --out data/{bench}")
        b.add_argument("--csv", type=Path, required=True, help="the benchmark's CSV")
        b.add_argument("--images", type=Path, required=True, help="folder holding its images")
        b.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for manifest.csv")
        for role in ("id", "lat", "lon"):
            b.add_argument(f"--{role}-column", default=None, metavar="COL", help=f"column holding the {role} (auto-detected)")
    return ap
