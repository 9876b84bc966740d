"""The Street View collector: plan -> metadata -> images -> manifest, concurrent and resumable.

A collection folder holds ``collection.json`` (settings, never the key), ``plan.csv`` (the points),
``journal.jsonl`` (append-only progress, see :mod:`.journal`), ``images/<location_id>_<view>.jpg``
and ``manifest.csv`` (rebuilt from the journal at the end of every run, also after Ctrl-C).
Running the same command again resumes; settings that change what is collected must match
(:mod:`.settings`). One run at a time writes a folder (:mod:`.lock`), and a folder holding another
data set is refused (:mod:`.outdir`). Nothing is written before every setting has been checked.

Error handling per request: ZERO_RESULTS / NOT_FOUND -> the point is skipped (recorded);
OVER_QUERY_LIMIT / HTTP 429 -> the rate is halved and the request retried with exponential backoff,
and the run stops if quota errors persist; UNKNOWN_ERROR, HTTP 5xx, timeouts and dropped connections
-> retried with backoff, then left for the next run; REQUEST_DENIED / INVALID_REQUEST -> the run
stops at once with the API's reason (nothing more can succeed).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable

from .streetview import (InvalidRequest, NoCoverage, NotFound, QuotaExceeded, RequestDenied,
                              StreetViewClient, StreetViewError, retry_call)

from model.collect import cost as cost_mod
from .collection_manifest import build_manifest
from .groups import location_id
from .journal import (Journal, atomic_write_bytes, atomic_write_text, clean_temp_files, is_complete_jpeg,
                      looks_like_jpeg)
from .lock import hold
from .outdir import check_out
from .plans import PlanPoint, read_plan, write_plan
from .postprocess import crop_bottom
from .ratelimit import RateLimiter
from .settings import FIXED, CollectConfig, differences, normalise
from .summary import NOT_AN_IMAGE, RunSummary, failure_kind

__all__ = ["CollectConfig", "CollectionError", "Collector", "FIXED", "RunSummary"]

log = logging.getLogger("model.collect")


class _Halted(StreetViewError):
    """Raised inside a worker when the run is stopping (not a failure of the request)."""


class CollectionError(RuntimeError):
    """The collection cannot go on (bad key, invalid request, persistent quota, settings mismatch)."""


class Collector:
    """Runs one collection folder. ``client`` may be None for a dry run (cost estimate only)."""

    def __init__(self, cfg: CollectConfig, client: StreetViewClient | None = None, log: Callable = print):
        self.cfg, self.client, self.log = cfg, client, log
        self.out = Path(cfg.out)
        self.points: list[PlanPoint] = []
        self.journal: Journal | None = None
        self.limiter = RateLimiter(cfg.rate)
        self.summary = RunSummary()
        self._fatal: str | None = None
        self._stop = False
        self._halt = threading.Event()  # set on Ctrl-C or a fatal error: ends backoff waits at once
        self._lock = threading.Lock()
        self._new = True      # no collection.json yet: run() writes it
        self._record = False  # collection.json to be rewritten (a split added, or written by an older version)
        cfg.validate()

    # ---------------------------------------------------------------- preparation
    def prepare(self, build_plan: Callable[[], list[PlanPoint]], dry_run: bool = False) -> cost_mod.CostEstimate:
        """Load (resume) or build the plan and return the cost of what remains. Writes nothing (``run``
        records the settings and the plan), so a refused run (cost limit, bad option) leaves no trace;
        ``dry_run`` is accepted for compatibility."""
        self._check_saved()
        plan_csv = self.out / "plan.csv"
        # a kill between collection.json and plan.csv: the plan is rebuilt (a pure function of the settings)
        self.points = read_plan(plan_csv) if not self._new and plan_csv.exists() else build_plan()
        if not self.points:
            raise CollectionError("the plan has no points (regions too small or nothing matched)")
        state = Journal.read_state(self.out / "journal.jsonl")
        nh = len(self.cfg.headings)
        pending = sum(1 for p in state.panos for v in range(nh)
                      if (p, v) not in state.images and (p, v) not in state.missing)
        return cost_mod.estimate(len(self.points), nh, points_done=sum(p.point_id in state.points for p in self.points),
                                 panos_pending_images=pending, images_done=len(state.images),
                                 price_per_1000=self.cfg.price_per_1000)

    def _check_saved(self) -> None:
        """Compare with the recorded settings (a folder of another data set is refused). ``--split`` left
        out takes the recorded split; a split given where none was recorded is added, never changed."""
        saved = check_out(self.out, "streetview")
        self._new = saved is None
        if saved is None:
            return
        if self.cfg.split is None and saved.get("split"):
            self.cfg.split = tuple(saved["split"])
        old, mine = normalise(saved), self.cfg.fixed()
        diff = [k for k in differences(saved, mine) if not (k == "split" and old.get("split") is None)]
        if diff:
            raise CollectionError(
                f"{self.out} holds a collection made with other settings ({', '.join(diff)}: "
                + "; ".join(f"{k} was {json.dumps(old.get(k))}, now {json.dumps(mine.get(k))}" for k in diff)
                + "). Use the same options to resume, or another --out folder"
                + (" (a recorded split never changes: places would move between train and test; leave --split "
                   "out to keep it)." if "split" in diff else "."))
        self._record = old != mine

    def _save(self) -> None:
        """Record the settings (first) and the plan, before any request; called under the folder lock."""
        if self._new:  # check again under the lock: another run may have written the folder since prepare()
            self._check_saved()
        if self._new or self._record:
            atomic_write_text(self.out / "collection.json", json.dumps(self.cfg.fixed(), indent=1))
        if not (self.out / "plan.csv").exists():
            write_plan(self.points, self.out / "plan.csv")
        self._new = False

    # ---------------------------------------------------------------- requests
    def _request(self, what: str, fn: Callable):
        """One API call with rate limit and retries. Returns None if it finally failed (transient,
        counted), if the run is stopping, or after a fatal answer (which stops the run)."""
        if self._fatal:
            return None

        def attempt():
            if self._halt.is_set() or not self.limiter.acquire(self._halt):  # Ctrl-C also ends the wait
                raise _Halted("stopping")
            with self._lock:
                if what == "metadata":
                    self.summary.metadata_requests += 1
                else:
                    self.summary.image_requests += 1
            return fn()

        def on_retry(err: StreetViewError, n: int, delay: float) -> None:
            with self._lock:
                self.summary.retries += 1
            if isinstance(err, QuotaExceeded):
                self.limiter.slow_down()

        try:
            result = retry_call(attempt, retries=self.cfg.retries, base_delay=self.cfg.backoff,
                                on_retry=on_retry, sleep=self._halt.wait)
        except _Halted:
            return None
        except (RequestDenied, InvalidRequest) as e:
            self._set_fatal(f"Stopped: {e}", failure_kind(e))
            return None
        except QuotaExceeded as e:
            self._set_fatal(f"Stopped: still over the quota after {self.cfg.retries} retries ({e}). "
                            "Wait or raise the quota, then run the same command again to resume.", failure_kind(e))
            return None
        except (NoCoverage, NotFound):
            raise
        except StreetViewError as e:
            self._failed(failure_kind(e))
            return None
        self.limiter.ok()
        return result

    def _set_fatal(self, message: str, kind: str) -> None:
        with self._lock:
            self._fatal = self._fatal or message
            self.summary.stopped_by[kind] += 1
        self._halt.set()

    def _failed(self, kind: str) -> None:
        """A request failed for now (a re-run retries it)."""
        with self._lock:
            self.summary.failed += 1
            self.summary.failures[kind] += 1

    # ---------------------------------------------------------------- work units
    def _point(self, pt: PlanPoint) -> None:
        cfg, j = self.cfg, self.journal
        try:
            meta = self._request("metadata", lambda: self.client.metadata(
                pt.lat, pt.lon, radius=cfg.radius, source=cfg.api_source))
        except (NoCoverage, NotFound) as e:
            j.append({"e": "point", "point": pt.point_id, "status": e.status})
            return
        if meta is None:
            return
        if j.claim(pt.point_id, meta.pano_id, meta.lat, meta.lon, meta.date, meta.copyright):
            self._images(meta.pano_id)

    def _images(self, pano: str) -> None:
        cfg, j = self.cfg, self.journal
        loc = location_id(pano)
        for view, heading in enumerate(cfg.headings):
            if self._fatal or self._stop:
                return
            if (pano, view) in j.state.images or (pano, view) in j.state.missing:
                continue
            rel = f"images/{loc}_{view}.jpg"
            # a complete file renamed into place before a kill is adopted, not requested again
            if not is_complete_jpeg(self.out / rel):
                try:
                    data = self._request("image", lambda: self.client.image(
                        pano, heading=heading, pitch=cfg.pitch, fov=cfg.fov, size=cfg.size, source=cfg.api_source))
                except (NoCoverage, NotFound):
                    j.append({"e": "image_missing", "pano": pano, "view": view})
                    continue
                if data is None:
                    continue
                if cfg.crop_bottom and looks_like_jpeg(data):
                    try:
                        data = crop_bottom(data, cfg.crop_bottom)
                    except (OSError, ValueError, SyntaxError):  # an undecodable body: a failed request
                        data = b""
                if not looks_like_jpeg(data):
                    log.warning("image %s view %d is not a readable JPEG; a re-run retries it", pano, view)
                    self._failed(NOT_AN_IMAGE)
                    continue
                atomic_write_bytes(self.out / rel, data)
            j.append({"e": "image", "pano": pano, "view": view, "heading": heading, "file": rel})

    # ---------------------------------------------------------------- run
    def run(self) -> RunSummary:
        """Collect everything still missing; Ctrl-C stops cleanly. Always rebuilds the manifest."""
        if self.client is None:
            raise CollectionError("no API client: cannot collect (dry run?)")
        with hold(self.out):
            self._save()
            return self._run()

    def _run(self) -> RunSummary:
        from tqdm import tqdm

        t0 = time.monotonic()
        clean_temp_files(self.out)
        self.journal = j = Journal(self.out / "journal.jsonl")
        nh = len(self.cfg.headings)
        tasks: list[tuple[Callable, object]] = [
            (self._images, p) for p in j.state.panos
            if any((p, v) not in j.state.images and (p, v) not in j.state.missing for v in range(nh))]
        tasks += [(self._point, pt) for pt in self.points if pt.point_id not in j.state.points]
        bar = tqdm(total=len(tasks), unit="pt", desc="collect", disable=not self.cfg.progress,
                   dynamic_ncols=True, smoothing=0.1)
        try:
            with ThreadPoolExecutor(max_workers=max(1, self.cfg.workers), thread_name_prefix="gsv") as ex:
                it = iter(tasks)
                inflight: set[Future] = set()
                try:
                    while True:
                        while len(inflight) < 2 * self.cfg.workers and not (self._fatal or self._stop):
                            nxt = next(it, None)
                            if nxt is None:
                                break
                            inflight.add(ex.submit(*nxt))
                        if not inflight:
                            break
                        done, inflight = wait(inflight, timeout=0.25, return_when=FIRST_COMPLETED)
                        for f in done:
                            f.result()
                            bar.update(1)
                        n_req = self.summary.metadata_requests + self.summary.image_requests
                        bar.set_postfix(images=len(j.state.images),
                                        req_s=f"{n_req / max(1e-9, time.monotonic() - t0):.1f}", refresh=False)
                except KeyboardInterrupt:
                    self._stop = True
                    self._halt.set()
                    self.summary.interrupted = True
                    self.log("\nInterrupted: finishing requests in flight; progress is saved.")
                    ex.shutdown(wait=True, cancel_futures=True)
        finally:
            bar.close()
            j.close()
            self.summary.fatal = self._fatal
            self.summary.slowdowns = self.limiter.slowdowns
            self.summary.seconds = time.monotonic() - t0
            self.summary.manifest = self.finalize()
        return self.summary

    # ---------------------------------------------------------------- manifest
    def finalize(self) -> Path:
        """Write ``manifest.csv`` from the journal (:mod:`.collection_manifest`) and count what is done."""
        st = Journal.read_state(self.out / "journal.jsonl")
        s = self.summary
        s.points = len(self.points)
        s.points_done = sum(p.point_id in st.points for p in self.points)
        s.no_coverage = sum(v in ("ZERO_RESULTS", "NOT_FOUND") for v in st.points.values())
        s.duplicates = sum(v == "DUPLICATE" for v in st.points.values())
        s.panoramas, s.images, s.images_missing = len(st.panos), len(st.images), len(st.missing)
        return build_manifest(st, self.cfg, self.out)
