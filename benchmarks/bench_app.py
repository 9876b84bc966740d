"""App latency benchmark: ``python benchmarks/bench_app.py [--n 12] [--model CKPT] [--browser]``.

Prints, for real shared test images (read from ``../shared/geodata``, never copied):
- upload -> result: one Predict-page script run after a new upload (AppTest; decoding, the locked
  prediction, the result map with all layers, the table), p50/p95 over ``--n`` different photos;
- the parts: decode, model forward pass (one view), ``Predictor.predict``, map building;
- Grad-CAM (``model.explain.explain``) p50 and its ratio to the forward pass;
- with ``--browser``: upload -> markers drawn in Chromium (Playwright, offline), p50.
Aims: result p50 <= 1.5 s; Grad-CAM <= 3x the forward pass.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def images(n: int) -> list[Path]:
    from model.manifest import read_manifest

    df = read_manifest()
    t = df[(df["split"] == "test") & df["source"].str.startswith("gsv")]
    t = t.drop_duplicates("location_id")
    paths = [Path(p) for p in t["path"] if Path(p).is_file()]
    if len(paths) < n:
        raise SystemExit(f"need {n} test images, found {len(paths)}")
    return paths[:: max(1, len(paths) // n)][:n]


def bench_parts(paths: list[Path]) -> dict:
    import torch

    from app.predict import logic as pl
    from app.common.resources import model_path
    from model import explain as ex
    from model.images import open_image
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
        m = pl.prediction_map(pred, pl.Truth(10.0, 10.0, "bench"), 5, cells=p.cells.table)
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


def bench_browser(paths: list[Path], n: int) -> list[float]:
    import socket
    import subprocess
    import urllib.request

    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    out: list[float] = []
    try:
        for _ in range(180):
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync"])
            page = b.new_page(viewport={"width": 1400, "height": 1400})
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("http://127.0.0.1", "data:", "blob:"))
                       else r.abort())
            page.set_default_timeout(120_000)
            page.goto(url)
            page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
            for i, path in enumerate([paths[-1]] + paths[:n]):
                t = time.perf_counter()
                page.locator("input[type=file]").first.set_input_files(str(path))
                frame = page.frame_locator("iframe[title='streamlit_folium.st_folium']")
                frame.locator(".geo-marker-model").first.wait_for()
                page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
                if i:  # the first one is warm-up (model load)
                    out.append(time.perf_counter() - t)
            b.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=12, help="photos to time (default 12)")
    ap.add_argument("--model", default=None, help="checkpoint (default: $GEOLOC_MODEL or assets/models/default.pt)")
    ap.add_argument("--browser", action="store_true", help="also time upload -> markers in Chromium")
    args = ap.parse_args(argv)
    if args.model:
        os.environ["GEOLOC_MODEL"] = args.model
    import torch

    paths = images(args.n)
    print(f"{len(paths)} test photos; torch threads {torch.get_num_threads()}; cores {os.cpu_count()}")
    parts = bench_parts(paths)
    ms = lambda xs: f"p50 {statistics.median(xs) * 1000:7.1f} ms  p95 {pct(xs, 0.95) * 1000:7.1f} ms"  # noqa: E731
    print(f"model load + warm-up      {parts['load_s']:.2f} s (once per process)")
    for k in ("decode", "forward", "predict", "map", "gradcam"):
        print(f"{k:<24} {ms(parts[k])}")
    ratio = statistics.median(parts["gradcam"]) / statistics.median(parts["forward"])
    print(f"Grad-CAM / forward pass   {ratio:.2f}x   (aim <= 3x)")
    res = bench_apptest(paths)
    print(f"upload -> result (app)    {ms(res)}   (aim p50 <= 1500 ms)")
    if args.browser:
        br = bench_browser(paths, min(args.n, 6))
        print(f"upload -> markers drawn   {ms(br)}   (Chromium, offline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
