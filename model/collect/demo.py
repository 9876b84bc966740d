"""An open demo set: ``python -m model.collect demo --out data/demo [--n 300]`` (``make demo-data``).

Downloads ``n`` test images of OpenStreetView-5M (``osv5m/osv5m`` on the Hugging Face Hub; photos from
Mapillary, CC BY-SA 4.0) with partial reads only (:mod:`.hub_zip`): the head of ``test.csv`` (~1-4 MB),
the central directories of the test zips (~3.5 MB each, usually one) and the chosen members (~45 KB
each): about 20-30 MB for 300 images instead of the split's 9.4 GB. The Hub revision is pinned on the first
run (``import.json``) and the choice recorded in ``plan.csv`` (:mod:`.demo_plan`).

Written: ``images/<hash>.jpg`` (EXIF/XMP removed losslessly where present, so no served image carries its
position; an image with an EXIF orientation is re-encoded upright), ``manifest.csv`` (``split=test``,
labels by offline reverse geocoding, extra columns ``sample_id`` (the OSV-5M id), ``date``, ``author``,
``license``, ``source_url``, ``attribution``), ``ATTRIBUTION.md`` and ``attribution.csv``
(:mod:`.attribution`). Resumable: an image on disk (a whole JPEG) is never fetched again, and a complete
folder needs no network at all. Offline it fails at once with what it tried and what to do; ``--from DIR``
reads a local copy in the Hub's layout instead. The folder is locked and stamped like every collector's.
Fallback without ``HfFileSystem`` range reads (a proxy that refuses them): download ``test.csv`` and the
smallest zip, ``images/test/04.zip`` (453 MB), with ``hf download osv5m/osv5m test.csv images/test/04.zip
--repo-type dataset --local-dir DIR`` and run with ``--from DIR``.
"""
from __future__ import annotations

import contextlib
import io
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pandas as pd

from model.data.manifest import COLUMNS, write_manifest
from model.data.metadata import metadata_found, strip_jpeg_metadata
from model.parallel import ordered_map

from .attribution import LICENSE, attribution_table, credit_line, mapillary_url, write_attribution
from .demo_plan import make_plan, member_info, read_plan, write_plan
from .groups import group_ids
from .hf_samples import fill_labels
from .hub_zip import DemoDataError, LocalSource, hub_source, read_member
from .journal import atomic_write_bytes, atomic_write_text, is_complete_jpeg, looks_like_jpeg
from .lock import hold
from .outdir import OutFolderError, check_out, prepare_import, write_import_stamp
from .skips import stderr_line

REPO = "osv5m/osv5m"
MAX_N = 2000
WORKERS = 4            # concurrent range requests
STOP_AFTER = 5         # failures in a row that stop the run (the network is gone): run again to resume
Progress = Callable[[int, int, str], None]


@dataclass
class DemoResult:
    """What a demo download did: images in the folder (``have``) of ``planned``, fetched now (``fetched``),
    failures by id (``failed``), the pinned ``revision`` and where they came from."""

    out: Path
    planned: int
    have: int
    fetched: int
    revision: str | None
    where: str
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.have == self.planned

    def text(self) -> str:
        got = f"{self.fetched:,} fetched now from {self.where}" if self.fetched else "nothing fetched now"
        s = (f"{self.have:,} of {self.planned:,} demo images in {self.out} ({got}) -> {self.out / 'manifest.csv'}; "
             f"attribution: {self.out / 'ATTRIBUTION.md'}.")
        if self.failed:
            s += (f"\n{len(self.failed):,} image(s) failed (first: {self.failed[0][0]}: {self.failed[0][1]}): "
                  "run the same command again to fetch them.")
        return s


def download_demo(out: str | Path = "data/demo", *, n: int = 300, from_dir: str | Path | None = None,
                  revision: str | None = None, seed: int = 0, source=None, progress: Progress | None = None,
                  log: Callable[[str], None] | None = stderr_line) -> DemoResult:
    """Download (or complete) the demo set in ``out``; see the module doc. ``source``: an object with
    ``open``/``open_stream``/``zips``/``where``/``revision`` (:class:`~.hub_zip.LocalSource`) instead of
    ``from_dir`` or the Hub. Raises :class:`~.hub_zip.DemoDataError` (offline, unreachable, bad layout),
    :class:`~.outdir.OutFolderError`, :class:`~.lock.FolderBusy`."""
    if not 1 <= n <= MAX_N:
        raise DemoDataError(f"--n must be 1..{MAX_N:,} (a demo set; import more with `python -m model.collect hf`)")
    out = Path(out).expanduser()
    check_out(out, "demo")  # a folder holding something else is refused before any request
    with hold(out):
        saved = check_out(out, "demo")
        plan = read_plan(out) if saved is not None else None
        todo = [] if plan is None else [r for r in plan.itertuples(index=False) if not is_complete_jpeg(out / r.image)]
        rev = revision or (saved or {}).get("revision")
        if plan is None or todo:
            if source is None:
                source = LocalSource(from_dir) if from_dir else hub_source(REPO, rev)
            rev = source.revision or rev
        where = source.where if source is not None else str(out)
        fixed = prepare_import(out, "demo", {"dataset": REPO, "revision": rev, "n": n, "seed": seed},
                               adopt=("revision",))
        write_import_stamp(out, "demo", fixed)
        if plan is None:
            try:
                plan = make_plan(source, n, seed, log)
            except (DemoDataError, OutFolderError):
                raise
            except Exception as e:  # noqa: BLE001 - the connection went away (HTTP errors are not OSErrors)
                raise DemoDataError(f"reading the plan from {where} failed ({type(e).__name__}: "
                                    f"{(str(e).strip().splitlines() or [''])[0][:200]}): run the same command again") from None
            write_plan(plan, out)
            todo = list(plan.itertuples(index=False))
        changes = _read_changes(out)
        failed, fetched = _fetch(source, todo, out, len(plan), progress, changes) if todo else ([], 0)
        if changes:
            _write_changes(out, changes)
        have = plan[[is_complete_jpeg(out / p) for p in plan["image"]]]
        if len(have):
            _finish(have, out, fixed.get("revision"), where, changes)
    return DemoResult(out, len(plan), len(have), fetched, fixed.get("revision"), where, failed)


def _fetch(source, todo: list, out: Path, total: int, progress: Progress | None,
           changes: dict[str, str]) -> tuple[list[tuple[str, str]], int]:
    """Fetch the images of plan rows ``todo`` (sorted by zip and offset: reads go forward); returns the
    failures and the number fetched, and records what was changed in ``changes``. Stops after
    :data:`STOP_AFTER` failures in a row."""
    todo = sorted(todo, key=lambda r: (r.zip, r.header_offset))
    handles, opened, lock = threading.local(), [], threading.Lock()

    def fetch(r) -> tuple[str | None, str]:
        files = handles.__dict__.setdefault("files", {})
        try:
            if r.zip not in files:
                files[r.zip] = source.open(r.zip)
                with lock:
                    opened.append(files[r.zip])
            data = read_member(files[r.zip], member_info(r), f"{source.where}/{r.zip}")
            if not looks_like_jpeg(data):
                return "not a whole JPEG", ""
            data, change = served_bytes(data)
            atomic_write_bytes(out / r.image, data, durable=False)  # checked on reuse (a whole JPEG)
        except Exception as e:  # noqa: BLE001 - HTTP client errors are not OSErrors; named and retried next run
            return f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:200]}", ""
        return None, change

    failed: list[tuple[str, str]] = []
    done, fetched, in_a_row = total - len(todo), 0, 0
    try:
        with contextlib.closing(ordered_map(fetch, todo, WORKERS)) as results:
            for r, (err, change) in results:
                if change:
                    changes[r.id] = change
                if err:
                    failed.append((r.id, err))
                    in_a_row += 1
                    if in_a_row >= STOP_AFTER:
                        failed.append(("(stopped)", f"{STOP_AFTER} failures in a row; the rest is fetched next run"))
                        break
                else:
                    fetched, in_a_row = fetched + 1, 0
                done += 1
                if progress:
                    progress(done, total, r.id)
    finally:
        for f in opened:
            f.close()
    return failed, fetched


def served_bytes(data: bytes) -> tuple[bytes, str]:
    """A data-set JPEG as it may be served: metadata segments removed losslessly (the ICC colour profile
    kept), or re-encoded upright when EXIF rotates it. Returns the bytes and the change made ('' if none)."""
    found = [k for k in metadata_found(data) if k != "ICC profile"]
    if not found:
        return data, ""
    from PIL import Image

    try:
        orientation = Image.open(io.BytesIO(data)).getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - unreadable EXIF: removing it is all that is needed
        orientation = 1
    if orientation in (1, None):
        return strip_jpeg_metadata(data, keep_icc=True), f"{'/'.join(found)} metadata removed"
    from model.data.images import open_image

    from .photos import clean_jpeg

    return clean_jpeg(open_image(data)), "re-encoded upright without metadata"


def _finish(plan: pd.DataFrame, out: Path, revision: str | None, where: str, changes: dict[str, str]) -> None:
    """Manifest and attribution files for the images of ``plan`` that are on disk; ``changes``: what was
    changed in each stored file, by id (kept in ``changes.csv`` across runs)."""
    rows = plan.assign(changes=[changes.get(i, "") for i in plan["id"]])
    df = pd.DataFrame({
        "image": rows["image"], "location_id": [Path(p).stem for p in rows["image"]], "sample_id": rows["id"],
        "lat": rows["lat"], "lon": rows["lon"], "country_code": rows["country_code"], "admin1": "", "view": 0,
        "source": "osv5m", "split": "test", "date": [_iso(x) for x in rows["captured_at"]],
        "author": rows["creator_username"], "license": LICENSE, "source_url": [mapillary_url(i) for i in rows["id"]],
        "attribution": [credit_line(u) for u in rows["creator_username"]]})
    fill_labels(df)
    df["group_id"] = group_ids(list(df["location_id"]), df["lat"], df["lon"])
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = ""
    write_manifest(df, out / "manifest.csv")
    write_attribution(out, attribution_table(rows), revision, where)


def _read_changes(out: Path) -> dict[str, str]:
    try:
        t = pd.read_csv(out / "changes.csv", dtype=str, keep_default_na=False)
        return dict(zip(t["id"], t["change"]))
    except (OSError, KeyError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return {}


def _write_changes(out: Path, changes: dict[str, str]) -> None:
    t = pd.DataFrame({"id": list(changes), "change": list(changes.values())})
    atomic_write_text(out / "changes.csv", t.to_csv(index=False))


def _iso(captured_at: str) -> str:
    """Mapillary's ``captured_at`` (milliseconds since 1970, or a date string) as ISO 8601 UTC."""
    s = str(captured_at or "").strip()
    try:
        v = float(s)
    except ValueError:
        return s
    if v > 1e11:  # milliseconds
        v /= 1000.0
    try:
        return datetime.fromtimestamp(v, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return s
