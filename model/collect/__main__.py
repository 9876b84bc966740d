"""Command line of the collector: ``python -m model.collect {streetview,imagefolder,hf,photos,demo,crop,im2gps3k,yfcc4k}``."""
from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading

from .parser import build_parser

EXIT_FATAL, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 2, 3, 130


def _split(spec: str | None):
    if not spec:
        return None
    from .groups import parse_fractions

    return parse_fractions(spec)


def _plan(a: argparse.Namespace):
    """The sampling plan's recorded spec and a function that builds it (countries sorted: "SI,HR" is
    "HR,SI")."""
    from model.collect import plans, regions

    for opt in ("countries", "regions", "grid"):
        if getattr(a, opt) is not None and not getattr(a, opt).strip(" ,"):
            raise ValueError(f"--{opt} is empty: give countries as ISO codes or names, comma-separated")
    if a.countries or a.regions:
        spec = {"kind": "countries" if a.countries else "admin1",
                "countries": sorted(regions.parse_countries(a.countries or a.regions)), "per_region": a.per_region}
        fn = plans.countries_plan if a.countries else plans.admin1_plan
        build = lambda: fn(spec["countries"], a.per_region, a.seed)  # noqa: E731
    elif a.grid:
        cell = {"grid_deg": a.grid_deg} if a.grid_deg else {"h3_res": a.h3_res if a.h3_res is not None
                                                            else plans.h3_res_for(a.cell_km)}
        spec = {"kind": "grid", "countries": sorted(regions.parse_countries(a.grid)), "per_cell": a.per_cell, **cell}
        build = lambda: plans.grid_plan(spec["countries"], a.per_cell, a.seed, **cell)  # noqa: E731
    else:
        if a.world <= 0:
            raise ValueError("--world needs a positive number of points")
        spec = {"kind": "world", "n": a.world}
        build = lambda: plans.world_plan(a.world, a.seed)  # noqa: E731
    spec["seed"] = a.seed
    return spec, build


def cmd_streetview(a: argparse.Namespace) -> int:
    from .streetview import StreetViewClient, StreetViewError, get_api_key

    from .lock import hold
    from .postprocess import parse_bottom
    from .runner import CollectConfig, CollectionError, Collector
    from .settings import read_signing_secret

    # Every check first: a refused run writes nothing, so the corrected command is not a "settings mismatch".
    spec, build = _plan(a)
    cfg = CollectConfig(out=a.out, plan=spec, headings=a.headings, size=a.size, fov=a.fov, pitch=a.pitch,
                        radius=a.radius, api_source=a.api_source, crop_bottom=parse_bottom(a.crop_bottom),
                        dataset_name=a.name, split=_split(a.split), seed=a.seed, workers=a.workers,
                        rate=a.rate, retries=a.retries, backoff=a.backoff, timeout=a.timeout, price_per_1000=a.price_per_1000,
                        progress=not a.no_progress)
    cfg.validate()
    if a.dry_run:
        est = Collector(cfg).prepare(build)
        print(est.summary() + "\nDry run: nothing requested.", flush=True)
        return 0
    secret = read_signing_secret(a.signing_secret_file) if a.signing_secret_file else None
    client = StreetViewClient(get_api_key(key_file=a.key_file), base_url=a.base_url, timeout=a.timeout,
                              signing_secret=secret)
    with hold(a.out):  # one writer per folder: a second run stops here, naming the first
        col = Collector(cfg, client)
        est = col.prepare(build)
        print(est.summary(), flush=True)
        if a.max_cost is not None and est.cost_usd > a.max_cost:
            print(f"error: the remaining cost may reach {est.cost_usd:.2f} USD > --max-cost {a.max_cost:.2f}; "
                  "nothing was requested or written", file=sys.stderr)
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

    from .huggingface import import_hf, parse_split

    cols = {r: getattr(a, f"{r}_column") for r in ("image", "lat", "lon", "country", "admin1", "id")}
    only = [o for o in ("shard_size", "max_side", "quality", "workers") if getattr(a, o) is not None]
    if only and not a.shards:
        raise ValueError(f"{', '.join('--' + o.replace('_', '-') for o in only)} only apply with --shards")
    if a.quality is not None and a.quality > 100:
        raise ValueError("--quality must be 1..100")
    bars: list = []  # the bar appears with the first sample, after the folder and the dataset were checked

    def progress(k: int) -> None:
        if not bars:
            bars.append(tqdm(total=a.n or (None if a.shards else 1000), unit="sample", desc="import"))
        bars[0].update(k - bars[0].n)

    common = dict(split=a.hf_split, config=a.config, revision=a.revision, columns=cols, source=a.source,
                  unknown="keep" if a.keep_unknown else "skip", shuffle_buffer=a.shuffle_buffer, seed=a.seed,
                  manifest_split=parse_split(a.split), progress=progress, log=lambda m: tqdm.write(m, file=sys.stderr))
    if a.shards:
        return _hf_shards(a, common, bars)
    try:
        df = import_hf(a.name, a.out, a.n or 1000, **common)
    finally:
        for bar in bars:
            bar.close()
    _skipped(df)
    print(f"{len(df)} images, {df['country_code'].replace('', None).nunique()} countries -> {a.out / 'manifest.csv'}")
    return 0


def _hf_shards(a: argparse.Namespace, common: dict, bars: list) -> int:
    from model.shards import info
    from model.shards.encode import DEFAULT_QUALITY

    from .hf_shards import import_hf_shards

    try:
        r = import_hf_shards(a.name, a.out, a.n, shard_size=a.shard_size or 1000, max_side=a.max_side,
                             quality=a.quality or DEFAULT_QUALITY, workers=a.workers or 0, **common)
    finally:
        for bar in bars:
            bar.close()
    if r.how == "complete":
        print(f"{a.out} already holds this import, complete: nothing to do.", file=sys.stderr)
    if len(r.skipped):
        print(f"{r.skipped.summary(r.streamed)} Listed in skipped.csv beside the shards.", file=sys.stderr)
    print(info(a.out))
    return 0


def _skipped(df) -> None:
    skips = df.attrs.get("skipped")
    if skips is not None and len(skips):
        print(f"{skips.summary(df.attrs.get('streamed') or df.attrs.get('rows'))} Listed in "
              "skipped.csv beside the manifest.", file=sys.stderr)


def cmd_benchmark(a: argparse.Namespace) -> int:
    from .benchmarks import import_benchmark

    df = import_benchmark(a.cmd, a.csv, a.images, a.out, id_column=a.id_column, lat_column=a.lat_column,
                          lon_column=a.lon_column)
    _skipped(df)
    print(f"{len(df)} of {df.attrs['rows']} images, {df['country_code'].replace('', None).nunique()} countries, "
          f"split=test -> {a.out / 'manifest.csv'}")
    return 0


def _bar(a: argparse.Namespace, unit: str, desc: str):
    """A tqdm bar made on the first progress call (after every check passed) and its closer."""
    from tqdm import tqdm

    bars: list = []

    def progress(done: int, total: int, what: str = "") -> None:
        if not bars:
            bars.append(tqdm(total=total, unit=unit, desc=desc, disable=a.no_progress, file=sys.stderr))
        bars[0].update(done - bars[0].n)

    def close() -> None:
        for bar in bars:
            bar.close()
    return progress, close, (lambda m: tqdm.write(m, file=sys.stderr))


def cmd_photos(a: argparse.Namespace) -> int:
    from .huggingface import parse_split
    from .photos import import_photos

    progress, close, log = _bar(a, "photo", "photos")
    try:
        r = import_photos(a.src, a.out, split=parse_split(a.split), seed=a.seed, source=a.source,
                          max_side=a.max_side, workers=a.workers, progress=progress, log=log)
    finally:
        close()
    print(r.text())
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from .demo import download_demo

    progress, close, log = _bar(a, "image", "demo")
    try:
        r = download_demo(a.out, n=a.n, from_dir=a.from_dir, revision=a.revision, seed=a.seed,
                          progress=progress, log=log)
    finally:
        close()
    print(r.text())
    return 0 if r.complete else EXIT_INCOMPLETE


def cmd_crop(a: argparse.Namespace) -> int:
    from .postprocess import crop_manifest, parse_bottom

    bottom = parse_bottom(a.bottom)
    if bottom is None:
        raise ValueError("--bottom must be more than 0")
    print(f"Cropped copy -> {crop_manifest(a.manifest, a.out, bottom)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from model.collect import lock

    a = build_parser().parse_args(argv)
    lock.COMMAND = "python -m model.collect " + shlex.join(sys.argv[1:] if argv is None else argv)
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
    from model.data.manifest import ManifestError
    from .streetview import StreetViewError

    from .lock import FolderBusy
    from .runner import CollectionError

    try:
        return {"streetview": cmd_streetview, "imagefolder": cmd_imagefolder, "hf": cmd_hf, "crop": cmd_crop,
                "im2gps3k": cmd_benchmark, "yfcc4k": cmd_benchmark, "photos": cmd_photos, "demo": cmd_demo}[a.cmd](a)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, StreetViewError, ManifestError, CollectionError, FolderBusy, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FATAL


if __name__ == "__main__":
    sys.exit(main())
