"""Command line of the collector: ``python -m model.collect {streetview,imagefolder,hf,crop} ...``."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from model.cli import at_least, positive, positive_int

from . import cost as cost_mod

EXIT_FATAL, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 2, 3, 130


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
        "folder or a Hugging Face dataset. Everything writes the project's manifest.csv."))
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
    sv.add_argument("--per-region", type=int, default=50, metavar="N", help="points per country/region")
    sv.add_argument("--per-cell", type=int, default=1, metavar="N", help="points per grid cell")
    sv.add_argument("--cell-km", type=positive, default=25.0, metavar="KM", help="grid: H3 hexagon edge, km (nearest resolution)")
    sv.add_argument("--h3-res", type=int, choices=range(0, 16), metavar="RES", help="grid: H3 resolution (overrides --cell-km)")
    sv.add_argument("--grid-deg", type=float, metavar="DEG", help="grid: square lat/lon cells of this many degrees instead of H3")
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
                    help="write a grouped, country-stratified train/val/test split, e.g. 0.8,0.1,0.1")
    sv.add_argument("--key-file", type=Path, metavar="PATH", help="file whose first line is the API key (else the "
                    "GOOGLE_MAPS_API_KEY / GSV_API_KEY / GOOGLE_API_KEY environment variable)")
    sv.add_argument("--signing-secret-file", type=Path, metavar="PATH", help="URL-signing secret (needed past 25,000 requests/day)")
    sv.add_argument("--price-per-1000", type=float, default=cost_mod.DEFAULT_PRICE_PER_1000, metavar="USD",
                    help="USD per 1,000 image requests (Google's list price when written; prices change: "
                         "check the Street View Static API pricing page). Metadata requests are free")
    sv.add_argument("--max-cost", type=float, metavar="USD", help="refuse to start if the remaining cost may exceed this (USD)")
    sv.add_argument("--dry-run", action="store_true", help="print the plan's requests and cost, then stop")
    sv.add_argument("--workers", type=positive_int, default=8, metavar="N", help="concurrent requests")
    sv.add_argument("--rate", type=at_least(0), default=20.0, metavar="PER_S", help="max requests per second (0 = unlimited); "
                    "halved automatically on quota errors")
    sv.add_argument("--retries", type=int, default=5, metavar="N", help="retries per request (exponential backoff)")
    sv.add_argument("--backoff", type=float, default=0.5, metavar="S",
                    help="first retry delay, seconds; doubles each retry (with jitter, at most 30 s)")
    sv.add_argument("--timeout", type=float, default=20.0, metavar="S", help="per request, seconds")
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

    hf = sub.add_parser("hf", help="stream N samples of a Hugging Face dataset -> images + manifest",
                        formatter_class=_Help, description=(
                            "Streams the first N samples (load_dataset(..., streaming=True)): only those are\n"
                            "downloaded. Works with Parquet and ImageFolder datasets on the Hub or on disk.\n"
                            "Columns are detected by name (image, latitude/longitude, country or label,\n"
                            "region/admin1, id); missing country/admin1 come from reverse geocoding."),
                        epilog=("examples:\n"
                                "  %(prog)s user/geoguessr-countries --n 5000 --out data/geoguessr\n"
                                "  %(prog)s ~/datasets/osv5m_parquet --n 20000 --shuffle-buffer 10000 --out data/osv"))
    hf.add_argument("name", help="Hub dataset id or a local dataset folder (Parquet or ImageFolder)")
    hf.add_argument("--n", type=int, default=1000, metavar="N", help="samples to import")
    hf.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for images/ and manifest.csv")
    hf.add_argument("--hf-split", default="train", help="dataset split to stream")
    hf.add_argument("--config", default=None, help="dataset configuration name")
    hf.add_argument("--revision", default=None, help="e.g. refs/convert/parquet for script-based datasets")
    hf.add_argument("--shuffle-buffer", type=int, default=0, metavar="N", help="shuffle the stream with this buffer (0 = off)")
    for role in ("image", "lat", "lon", "country", "admin1", "id"):
        hf.add_argument(f"--{role}-column", default=None, metavar="COL",
                        help=f"column holding the {role} (auto-detected)")
    hf.add_argument("--name", dest="source", default=None, help="manifest 'source' value")
    hf.add_argument("--split", default=None, metavar="F,F,F", help="grouped stratified split, e.g. 0.8,0.1,0.1")
    hf.add_argument("--seed", type=int, default=0)
    hf.add_argument("--keep-unknown", action="store_true", help="keep samples whose label is not a country")

    cr = sub.add_parser("crop", help="copy a manifest's images with the bottom watermark band cropped")
    cr.add_argument("manifest", type=Path)
    cr.add_argument("--bottom", required=True, help="fraction (0.06) or pixels (24px)")
    cr.add_argument("--out", type=Path, required=True, help="folder for the cropped copy")
    return ap


def _split(spec: str | None):
    if not spec:
        return None
    from .groups import parse_fractions

    return parse_fractions(spec)


def cmd_streetview(a: argparse.Namespace) -> int:
    from model.streetview import StreetViewClient, StreetViewError, get_api_key

    from . import plans, regions
    from .postprocess import parse_bottom
    from .runner import CollectConfig, CollectionError, Collector

    for opt in ("countries", "regions", "grid"):
        if getattr(a, opt) is not None and not getattr(a, opt).strip(" ,"):
            raise ValueError(f"--{opt} is empty: give countries as ISO codes or names, comma-separated")
    if a.countries:
        spec = {"kind": "countries", "countries": regions.parse_countries(a.countries), "per_region": a.per_region}
        build = lambda: plans.countries_plan(spec["countries"], a.per_region, a.seed)  # noqa: E731
    elif a.regions:
        spec = {"kind": "admin1", "countries": regions.parse_countries(a.regions), "per_region": a.per_region}
        build = lambda: plans.admin1_plan(spec["countries"], a.per_region, a.seed)  # noqa: E731
    elif a.grid:
        cell = {"grid_deg": a.grid_deg} if a.grid_deg else {"h3_res": a.h3_res if a.h3_res is not None
                                                            else plans.h3_res_for(a.cell_km)}
        spec = {"kind": "grid", "countries": regions.parse_countries(a.grid), "per_cell": a.per_cell, **cell}
        build = lambda: plans.grid_plan(spec["countries"], a.per_cell, a.seed, **cell)  # noqa: E731
    else:
        if a.world <= 0:
            raise ValueError("--world needs a positive number of points")
        spec = {"kind": "world", "n": a.world}
        build = lambda: plans.world_plan(a.world, a.seed)  # noqa: E731
    spec["seed"] = a.seed
    cfg = CollectConfig(out=a.out, plan=spec, headings=a.headings, size=a.size, fov=a.fov, pitch=a.pitch,
                        radius=a.radius, api_source=a.api_source, crop_bottom=parse_bottom(a.crop_bottom),
                        dataset_name=a.name, split=_split(a.split), seed=a.seed, workers=a.workers,
                        rate=a.rate, retries=a.retries, backoff=a.backoff, timeout=a.timeout, price_per_1000=a.price_per_1000,
                        progress=not a.no_progress)
    client = None
    if not a.dry_run:  # fail on a missing key before any work
        secret = get_api_key(key_file=a.signing_secret_file, env_vars=()) if a.signing_secret_file else None
        client = StreetViewClient(get_api_key(key_file=a.key_file), base_url=a.base_url, timeout=a.timeout,
                                  signing_secret=secret)
    col = Collector(cfg, client)
    est = col.prepare(build, dry_run=a.dry_run)
    print(est.summary(), flush=True)
    if a.dry_run:
        print("Dry run: nothing requested.")
        return 0
    if a.max_cost is not None and est.cost_usd > a.max_cost:
        print(f"error: the remaining cost may reach {est.cost_usd:.2f} USD > --max-cost {a.max_cost:.2f}",
              file=sys.stderr)
        return EXIT_FATAL
    try:
        s = col.run()
    except (CollectionError, StreetViewError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FATAL
    print(s.text())
    print(f"Manifest: {s.manifest}")
    if s.fatal:
        print(f"error: {s.fatal}", file=sys.stderr)
        return EXIT_FATAL
    if s.interrupted:
        print("Interrupted: run the same command again to resume.", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0 if s.complete else EXIT_INCOMPLETE


def cmd_imagefolder(a: argparse.Namespace) -> int:
    from .imagefolder import import_imagefolder

    df = import_imagefolder(a.dir, a.out, source=a.name, split=_split(a.split), seed=a.seed,
                            unknown="skip" if a.skip_unknown else "error")
    out = a.out if a.out.suffix.lower() == ".csv" else a.out / "manifest.csv"
    print(f"{len(df)} images, {df['country_code'].nunique()} countries -> {out}")
    return 0


def cmd_hf(a: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .huggingface import import_hf

    cols = {r: getattr(a, f"{r}_column") for r in ("image", "lat", "lon", "country", "admin1", "id")}
    with tqdm(total=a.n, unit="img", desc="import") as bar:
        df = import_hf(a.name, a.out, a.n, split=a.hf_split, config=a.config, revision=a.revision, columns=cols,
                       source=a.source, unknown="keep" if a.keep_unknown else "skip",
                       shuffle_buffer=a.shuffle_buffer, seed=a.seed, manifest_split=_split(a.split),
                       progress=lambda k: bar.update(k - bar.n))
    print(f"{len(df)} images, {df['country_code'].replace('', None).nunique()} countries -> {a.out / 'manifest.csv'}")
    return 0


def cmd_crop(a: argparse.Namespace) -> int:
    from .postprocess import crop_manifest, parse_bottom

    bottom = parse_bottom(a.bottom)
    if bottom is None:
        raise ValueError("--bottom must be more than 0")
    print(f"Cropped copy -> {crop_manifest(a.manifest, a.out, bottom)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    # SIGTERM behaves like Ctrl-C: stop cleanly, keep progress (restored when done).
    old = None
    if hasattr(signal, "SIGTERM") and threading.current_thread() is threading.main_thread():
        old = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return _dispatch(a)
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def _dispatch(a: argparse.Namespace) -> int:
    from model.manifest import ManifestError
    from model.streetview import StreetViewError

    from .runner import CollectionError

    try:
        return {"streetview": cmd_streetview, "imagefolder": cmd_imagefolder, "hf": cmd_hf,
                "crop": cmd_crop}[a.cmd](a)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, StreetViewError, ManifestError, CollectionError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FATAL


if __name__ == "__main__":
    sys.exit(main())
