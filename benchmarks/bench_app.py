"""App latency benchmark: ``python benchmarks/bench_app.py [--n 12] [--model CKPT] [--browser] [--skip-parts]``.

Prints, for real shared test images (read from ``../shared/geodata``, never copied):
- upload -> result: one Predict-page script run after a new upload (AppTest; decoding, the locked
  prediction, the result map with all layers, the table), p50/p95 over ``--n`` different photos;
- the parts: decode, model forward pass (one view), ``Predictor.predict``, map building;
- Grad-CAM (``model.explain.explain``) p50 and its ratio to the forward pass;
- with ``--browser``: upload -> markers drawn in Chromium (Playwright, offline), p50/p95, printed beside the
  server-side time of the same step (the AppTest run above) and the size of the map's HTML;
- ``--skip-parts`` leaves out the parts and Grad-CAM (the model is still loaded once, by the app).
Aims: result p50 <= 1.5 s; Grad-CAM <= 3x the forward pass; markers drawn p50 <= 1.0 s.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from model.paths import ROOT as REPO  # noqa: E402  (pip install -e .)


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def images(n: int) -> list[Path]:
    from model.data.manifest import read_manifest

    df = read_manifest()
    t = df[(df["split"] == "test") & df["source"].str.startswith("gsv")]
    t = t.drop_duplicates("location_id")
    paths = [Path(p) for p in t["path"] if Path(p).is_file()]
    if len(paths) < n:
        raise SystemExit(f"need {n} test images, found {len(paths)}")
    return paths[:: max(1, len(paths) // n)][:n]


def bench_parts(paths: list[Path]) -> dict:
    import torch

    from app.common.result_map import prediction_map
    from app.common.resources import model_path
    from app.common.results import Truth
    from model import explain as ex
    from model.data.images import open_image
    from model.predict import Predictor

    t0 = time.perf_counter()
    p = Predictor.load(model_path())
    ex.warm_up(p)
    load_s = time.perf_counter() - t0
    dec, fwd, pred_t, mp, cam = [], [], [], [], []
    for path in paths:
        data = path.read_bytes()
        t = time.perf_counter()
        img = open_image(data, path.name)
        dec.append(time.perf_counter() - t)
        x = p.preprocess(img).unsqueeze(0)
        t = time.perf_counter()
        with torch.inference_mode():
            p.net(x)
        fwd.append(time.perf_counter() - t)
        t = time.perf_counter()
        pred = p.predict(img, top_k=10)
        pred_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        m = prediction_map(pred, Truth(10.0, 10.0, "bench"), 5, cells=p.cells.table)
        m.get_root().render()
        mp.append(time.perf_counter() - t)
        t = time.perf_counter()
        ex.explain(p, img, ("cell", pred.top[0].cell_id))
        cam.append(time.perf_counter() - t)
    return {"load_s": load_s, "decode": dec, "forward": fwd, "predict": pred_t, "map": mp, "gradcam": cam}


def bench_apptest(paths: list[Path]) -> list[float]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app" / "main.py"), default_timeout=300)
    at.run()
    up = at.file_uploader(key="upload_files")
    up.set_value([(paths[-1].name, paths[-1].read_bytes(), "image/jpeg")])
    at.run()  # warm: model loaded, first result
    out = []
    for path in paths:
        at.file_uploader(key="upload_files").set_value([(path.name, path.read_bytes(), "image/jpeg")])
        t = time.perf_counter()
        at.run()
        out.append(time.perf_counter() - t)
        if at.exception:
            raise SystemExit(f"app error: {at.exception}")
    return out


def map_html_kb(paths: list[Path]) -> float:
    """Size (KB) of the Predict result map's HTML for one photo, as the page builds it (cells layer included)."""
    from app.common.resources import model_path
    from app.common.result_map import prediction_map
    from app.common.results import Truth
    from model.data.images import open_image
    from model.predict import Predictor

    p = Predictor.load(model_path())
    pred = p.predict(open_image(paths[0].read_bytes(), paths[0].name), top_k=10)
    return len(prediction_map(pred, Truth(10.0, 10.0, "bench"), 5, cells=p.cells.table).get_root().render()) / 1024


def new_map_drawn(page, timeout_s: float) -> None:
    """Wait until a map iframe that was not on screen before the upload shows the model's marker
    (Streamlit keeps the previous map on screen until the rerun replaces it)."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        for f in page.frames:
            if "streamlit_folium" not in f.url:
                continue
            try:
                if f.evaluate("() => !window.__bench_old && !!document.querySelector('.geo-marker-model')"):
                    return
            except Exception:  # noqa: BLE001 - a frame detached while we looked
                pass
        page.wait_for_timeout(20)  # not time.sleep: Playwright must keep serving the page's routed requests
    raise TimeoutError("no new map with the model's marker")


IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def start_app(tree: Path):
    """``streamlit run app/main.py`` of checkout ``tree`` on a free port; returns (process, url) once healthy."""
    import socket
    import subprocess
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"], cwd=tree,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(360):
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    return proc, url


def upload_to_markers(page, path: Path) -> float:
    """Seconds from choosing ``path`` in the uploader to the new map's model marker drawn and the script done."""
    for f in page.frames:  # the map on screen now: the new one must not be mistaken for it
        if "streamlit_folium" in f.url:
            f.evaluate("() => { window.__bench_old = true; }")
    t = time.perf_counter()
    page.locator("input[type=file]").first.set_input_files(str(path))
    new_map_drawn(page, timeout_s=180)
    page.wait_for_selector(IDLE)
    dt = time.perf_counter() - t
    for f in page.frames:  # untimed: let the map fetch and draw its context layers before the next upload
        if "streamlit_folium" in f.url:
            try:
                f.evaluate("() => window.GeoLayers && GeoLayers.idle ? GeoLayers.idle() : true")
            except Exception:  # noqa: BLE001 - an old frame went away
                pass
    return dt


def bench_browser(paths: list[Path], n: int, trees: list[Path] | None = None) -> dict[Path, list[float]]:
    """Upload -> markers drawn in Chromium (offline) for ``paths[:n]`` (after one warm-up upload that loads the
    model), in each checkout of ``trees`` (default: this one). With two trees both apps run at once and the
    uploads alternate A B B A ..., so that both see the same machine load (an A/B of a change)."""
    from playwright.sync_api import sync_playwright

    trees = trees or [REPO]
    apps = [start_app(t) for t in trees]
    out: dict[Path, list[float]] = {t: [] for t in trees}
    try:
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync"])
            pages = {}
            for t, (_, url) in zip(trees, apps):
                page = b.new_page(viewport={"width": 1400, "height": 1400})
                page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(
                    ("http://127.0.0.1", "data:", "blob:")) else r.abort())
                page.set_default_timeout(180_000)
                page.goto(url)
                page.wait_for_selector(IDLE)
                upload_to_markers(page, paths[-1])  # warm-up: the model loads
                pages[t] = page
            for i, path in enumerate(paths[:n]):
                for t in (trees if i % 2 == 0 else trees[::-1]):
                    out[t].append(upload_to_markers(pages[t], path))
            b.close()
    finally:
        for proc, _ in apps:
            proc.terminate()
            proc.wait(10)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=12, help="photos to time (default 12)")
    ap.add_argument("--model", default=None, help="checkpoint (default: $GEOLOC_MODEL or assets/models/default.pt)")
    ap.add_argument("--browser", action="store_true", help="also time upload -> markers in Chromium")
    ap.add_argument("--skip-parts", action="store_true", help="skip the per-part timings and Grad-CAM")
    ap.add_argument("--ab", type=Path, metavar="OTHER_CHECKOUT",
                    help="with --browser: also time another checkout of the app (e.g. a git worktree of the previous "
                         "commit), uploads alternating between the two so both see the same machine load")
    args = ap.parse_args(argv)
    if args.model:
        os.environ["GEOLOC_MODEL"] = args.model
    import torch

    paths = images(args.n)
    print(f"{len(paths)} test photos; torch threads {torch.get_num_threads()}; cores {os.cpu_count()}")
    ms = lambda xs: f"p50 {statistics.median(xs) * 1000:7.1f} ms  p95 {pct(xs, 0.95) * 1000:7.1f} ms"  # noqa: E731
    if not args.skip_parts:
        parts = bench_parts(paths)
        print(f"model load + warm-up      {parts['load_s']:.2f} s (once per process)")
        for k in ("decode", "forward", "predict", "map", "gradcam"):
            print(f"{k:<24} {ms(parts[k])}")
        ratio = statistics.median(parts["gradcam"]) / statistics.median(parts["forward"])
        print(f"Grad-CAM / forward pass   {ratio:.2f}x   (aim <= 3x)")
    res = bench_apptest(paths)
    print(f"upload -> result (app)    {ms(res)}   (server side, AppTest; aim p50 <= 1500 ms)")
    if args.browser:
        trees = [REPO] + ([args.ab.resolve()] if args.ab else [])
        runs = bench_browser(paths, args.n if args.ab else min(args.n, 6), trees)
        br = runs[REPO]
        print(f"upload -> markers drawn   {ms(br)}   (Chromium, offline; aim p50 <= 1000 ms)")
        print(f"  server side of it       p50 {statistics.median(res) * 1000:7.1f} ms; browser share p50 "
              f"{(statistics.median(br) - statistics.median(res)) * 1000:7.1f} ms; map HTML {map_html_kb(paths):,.0f} KB")
        if args.ab:
            other = runs[trees[1]]
            ratio = statistics.median(a / b for a, b in zip(br, other))
            print(f"  {trees[1]} (same uploads, alternating): {ms(other)}; this / other per photo: median {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
