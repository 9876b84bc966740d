"""Collector throughput against the local fake Street View server (127.0.0.1 only).

    python -m benchmarks.bench_collect --workers 1,4,8,16 --points 60 --latency-ms 20

For each concurrency it collects ``--points`` points x ``--headings`` views into a temporary folder
(real HTTP, real JPEGs from ../shared/geodata/images, journal and atomic writes included, no rate
limit) and prints requests per second. ``--latency-ms`` is added by the server to every answer to
stand in for the network round trip to Google (tens of milliseconds), which is what concurrency
hides; with 0 the figure measures the collector's own overhead on this machine. Run it as a module from
the checkout (``python -m``), since the fake server lives with the tests (tests/model/collect/fakes).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from model.collect.plans import PlanPoint
from model.collect.runner import CollectConfig, Collector
from model.collect.streetview import StreetViewClient
from tests.model.collect.fakes.streetview_server import FakeStreetView

KEY = "bench-key"


def run_once(fake: FakeStreetView, workers: int, points: int, headings: int, out: Path) -> tuple[int, float]:
    """Collect ``points`` fresh points; returns (requests made, seconds of the collection phase)."""
    plan = [PlanPoint(f"b{i:05d}", 45.5, -170.0 + i * 0.03, "bench") for i in range(points)]  # distinct panos
    cfg = CollectConfig(out=out, plan={"kind": "bench"}, headings=[i * 360 / headings for i in range(headings)],
                        radius=1000, workers=workers, rate=0, retries=3, backoff=0.05, timeout=10,
                        progress=False, dataset_name="bench")
    col = Collector(cfg, StreetViewClient(KEY, base_url=fake.base_url, timeout=10), log=lambda *a: None)
    col.prepare(lambda: plan)
    fake.reset_log()
    t = time.perf_counter()
    col.run()
    # run() includes writing the manifest (reverse geocoding): time requests only, by the server log
    reqs = fake.requests
    span = max(r.t for r in reqs) - min(r.t for r in reqs) if len(reqs) > 1 else time.perf_counter() - t
    return len(reqs), span


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", default="1,4,8", help="concurrency levels to measure, comma-separated")
    ap.add_argument("--points", type=int, default=60, help="points per measurement")
    ap.add_argument("--headings", type=int, default=4, help="images per panorama")
    ap.add_argument("--latency-ms", type=float, default=20.0, help="server delay per answer, ms")
    a = ap.parse_args(argv)
    levels = [int(x) for x in a.workers.split(",") if x.strip()]
    with FakeStreetView(key=KEY, grid_deg=0.01, coverage=1.0, delay_s=a.latency_ms / 1000) as fake, \
            tempfile.TemporaryDirectory() as tmp:
        run_once(fake, 2, 4, a.headings, Path(tmp) / "warmup")  # loads the reverse geocoder etc.
        print(f"fake server latency {a.latency_ms:g} ms, {a.points} points x {a.headings} views "
              f"({a.points * (1 + a.headings)} requests per run)")
        print(f"{'workers':>8} {'requests':>9} {'seconds':>8} {'req/s':>8}")
        for w in levels:
            n, s = run_once(fake, w, a.points, a.headings, Path(tmp) / f"w{w}")
            print(f"{w:>8} {n:>9} {s:>8.2f} {n / s:>8.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
