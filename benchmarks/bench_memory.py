"""Server memory under large uploads (issue 22 item 12): ``python benchmarks/bench_memory.py [--cycles 5]``.

Starts the real server (``streamlit run app/main.py``, headless, on a free port) and drives it with Playwright
in Debian's Chromium (``/usr/bin/chromium``, every request off 127.0.0.1 blocked). It prints the server
process's resident memory (RSS, MB, from ``/proc/<pid>/status``):

- ``warm``: after one session uploaded a small photo (the model loaded and answered) and closed;
- 2 s and 8 s after each *cycle* (the Predict page's janitor drops a closed tab's pictures within 1 s): one new
  browser session that uploads large photos (``--sizes``, default 6000x6000 and
  7200x7200, made at run time by enlarging real shared test images; never stored in the repository) as views
  of one place, waits for the answer, turns Grad-CAM on, runs the shortcut test, then closes;
- after ``--settle`` seconds with no session open.

Not a timed test: a benchmark whose figures go in the note (target: after 5 cycles within 300 MB of warm).
"""
from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from model.paths import ROOT as REPO

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def rss_mb(pid: int) -> float:
    """Resident set size of process ``pid`` in MB (VmRSS of ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def source_images(n: int) -> list[Path]:
    """``n`` different real shared test images (Street View strips), read at run time."""
    from model.data.manifest import read_manifest

    df = read_manifest()
    t = df[(df["split"] == "test") & df["source"].str.startswith("gsv")].drop_duplicates("location_id")
    paths = [Path(p) for p in t["path"] if Path(p).is_file()]
    if len(paths) < n:
        raise SystemExit(f"need {n} shared test images, found {len(paths)}")
    return paths[:n]


def large_jpeg(src: Path, side: int, out: Path, seed: int) -> Path:
    """``src`` enlarged to ``side`` x ``side`` px with per-pixel noise (grain, so that it weighs about what a
    camera JPEG of that size does), saved as JPEG quality 90."""
    import numpy as np
    from PIL import Image

    img = Image.open(src).convert("RGB").resize((side, side), Image.BICUBIC)
    rng = np.random.default_rng(seed)
    a = np.asarray(img, dtype=np.int16) + rng.integers(-12, 13, size=(side, side, 3), dtype=np.int16)
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=90)
    return out


def start_server(tree: Path, log: io.TextIOBase, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """``streamlit run app/main.py`` of checkout ``tree`` on a free port (``env``: extra variables); (process,
    url) once healthy."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false"], cwd=tree, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1",  # the tree's own packages first
                                 "PYTHONPATH": os.pathsep.join([str(tree)] + [v for v in [os.environ.get("PYTHONPATH")] if v])})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("streamlit did not start")
        time.sleep(0.5)


def new_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("http://127.0.0.1", "data:", "blob:"))
               else r.abort())
    page.set_default_timeout(300_000)
    page.goto(url + "/predict")
    page.wait_for_selector(IDLE)
    return page


def answer(page) -> None:
    """Wait until the page shows an answer and the script is done (a question about a second upload, on code
    that asks one, is answered 'new place')."""
    page.get_by_text("Country confidence").first.wait_for()
    page.wait_for_selector(IDLE)


def cycle(browser, url: str, photos: list[Path], gradcam: bool = True) -> None:
    """One session: upload ``photos`` (views of one place), the answer, Grad-CAM, the shortcut test, close."""
    page = new_page(browser, url)
    page.locator("input[type=file]").first.set_input_files([str(p) for p in photos])
    answer(page)
    if gradcam:
        page.get_by_text("Grad-CAM overlay").first.click()
        page.get_by_text("Heat in the bottom band").first.wait_for()
        page.wait_for_selector(IDLE)
        page.get_by_role("button", name="Hide and predict again").first.click()
        page.get_by_text("The guess moved").first.wait_for()
        page.wait_for_selector(IDLE)
    page.close()


def run(tree: Path, cycles: int, sizes: list[int], settle: float, gradcam: bool, env: dict | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    srcs = source_images(cycles * len(sizes) + 1)
    out: dict = {"tree": str(tree), "cycles": [], "later": []}
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "streamlit.log", "w+") as log:
        small = Path(tmp) / "small.jpg"
        small.write_bytes(srcs[-1].read_bytes())
        big = [[large_jpeg(srcs[c * len(sizes) + j], s, Path(tmp) / f"big_{c}_{s}.jpg", c * 10 + j)
                for j, s in enumerate(sizes)] for c in range(cycles)]
        out["mb"] = [round(p.stat().st_size / 2**20, 1) for p in big[0]]
        proc, url = start_server(tree, log, env)
        try:
            out["started"] = rss_mb(proc.pid)
            with sync_playwright() as pw:
                b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                cycle(b, url, [small], gradcam)  # warm: model loaded, one answer, Grad-CAM once
                time.sleep(3)
                out["warm"] = rss_mb(proc.pid)
                print(f"  warm {out['warm']:7.0f} MB", flush=True)
                for c in range(cycles):
                    t = time.perf_counter()
                    cycle(b, url, big[c], gradcam)
                    time.sleep(2)
                    out["cycles"].append(rss_mb(proc.pid))
                    time.sleep(6)
                    out["later"].append(rss_mb(proc.pid))
                    print(f"  cycle {c + 1} {out['cycles'][-1]:7.0f} MB 2 s after, {out['later'][-1]:7.0f} MB 8 s after "
                          f"({time.perf_counter() - t:.0f} s)", flush=True)
                b.close()
            time.sleep(settle)
            out["settled"] = rss_mb(proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", type=int, default=5)
    ap.add_argument("--sizes", default="6000,7200", help="sides (px) of the square photos uploaded per cycle")
    ap.add_argument("--settle", type=float, default=20.0, help="seconds to wait after the last session closed")
    ap.add_argument("--no-gradcam", action="store_true", help="upload and answer only")
    ap.add_argument("--tree", type=Path, default=REPO, help="checkout to serve (default: this one)")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="an environment variable for the server (e.g. MALLOC_ARENA_MAX=2); repeatable")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium not found at {CHROMIUM}")
    sizes = [int(s) for s in args.sizes.split(",")]
    env = dict(e.split("=", 1) for e in args.env)
    r = run(args.tree.resolve(), args.cycles, sizes, args.settle, not args.no_gradcam, env)
    warm = r["warm"]
    print(f"server RSS (MB), {args.cycles} cycles of {' + '.join(f'{s}x{s}' for s in sizes)} px uploads "
          f"({' + '.join(f'{m} MB' for m in r['mb'])} JPEG), one new session each, Grad-CAM and shortcut test:")
    print(f"  started {r['started']:.0f}; warm {warm:.0f}; 2 s after each cycle "
          + ", ".join(f"{v:.0f}" for v in r["cycles"]) + "; 8 s after " + ", ".join(f"{v:.0f}" for v in r["later"])
          + f"; {args.settle:.0f} s after the last session closed {r['settled']:.0f}")
    last = r["cycles"][-1] if r["cycles"] else warm
    later = r["later"][-1] if r["later"] else warm
    print(f"  after {len(r['cycles'])} cycles: +{last - warm:.0f} MB over warm 2 s after the tab closed, "
          f"+{later - warm:.0f} MB 8 s after (target <= 300); settled +{r['settled'] - warm:.0f} MB; peak "
          f"+{max(r['cycles'] + r['later'] + [warm]) - warm:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
