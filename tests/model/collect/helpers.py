"""Helpers shared by the collector tests (imported as ``tests.model.collect.helpers``)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.shared import REPO
KEY = "sk-TEST-6a1f0c9e42b7d35e"  # distinctive, so a leak is easy to find
KEY_VARS = ("GOOGLE_MAPS_API_KEY", "GSV_API_KEY", "GOOGLE_API_KEY", "GSV_BASE_URL")


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in KEY_VARS}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def cli(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -m model.collect ARGS`` in a subprocess from the repository root."""
    return subprocess.run([sys.executable, "-m", "model.collect", *args], cwd=REPO, env=env or cli_env(),
                          capture_output=True, text=True, timeout=timeout)


def popen_cli(args: list[str], *, env: dict[str, str]) -> subprocess.Popen:
    # SIGINT back to its default in the child: a shell that starts the tests in the background (`make
    # test &`, nohup) makes children ignore it, and then Ctrl-C could not be tested.
    return subprocess.Popen([sys.executable, "-m", "model.collect", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run the CLI in this process (argparse exits included): (exit code, stdout, stderr)."""
    from model.collect.__main__ import main

    try:
        code = main(argv)
    except SystemExit as e:  # argparse: --help, bad arguments
        code = e.code if isinstance(e.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- Street View CLI runs
PLAN = ["--countries", "SI", "--per-region", "40", "--seed", "3", "--radius", "1000"]


def sv_args(fake, out: Path, *extra: str, plan: list[str] = PLAN) -> list[str]:
    """``streetview`` arguments for a run against the fake server (fast retries, no rate limit)."""
    return ["streetview", *plan, "--out", str(out), "--base-url", fake.base_url, "--name", "t",
            "--workers", "4", "--rate", "0", "--retries", "8", "--backoff", "0.02", "--no-progress", *extra]


def image_events(journal: Path) -> int:
    return journal.read_text(errors="replace").count('"e":"image"') if journal.exists() else 0


def wait_for_images(journal: Path, n: int, proc, limit_s: float = 60) -> None:
    """Wait until a collector subprocess has saved ``n`` images (it must still be running)."""
    t = time.monotonic()
    while image_events(journal) < n:
        assert proc.poll() is None, "collector ended before it could be interrupted"
        assert time.monotonic() - t < limit_s, "collector too slow"
        time.sleep(0.005)


HOLDER = ("import sys, time\nfrom model.collect.lock import hold\n"
          "with hold(sys.argv[1], 'holder-command --out ' + sys.argv[1]):\n    print('held', flush=True)\n"
          "    time.sleep(120)\n")


def hold_in_subprocess(folder: Path) -> subprocess.Popen:
    """Another process holding ``folder``'s writer lock (returns once it holds it); kill it to end it."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], cwd=REPO, env=cli_env(),
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


# --------------------------------------------------------------------------- small local datasets
def hf_dataset(root: Path, images: list[bytes], *, ids: bool = True, lats: list[float] | None = None,
               countries: list[str] | None = None) -> Path:
    """A local Parquet dataset with OpenStreetView-5M's columns (``id`` optional), one shard."""
    import datasets

    n = len(images)
    cols = {"image": datasets.Image(), "latitude": datasets.Value("float64"),
            "longitude": datasets.Value("float64"), "country": datasets.Value("string")}
    data = {"image": [{"bytes": b, "path": None} for b in images],
            "latitude": lats or [45.0 + 0.01 * k for k in range(n)], "longitude": [16.0 + 0.01 * k for k in range(n)],
            "country": countries or ["HR"] * n}
    if ids:
        cols["id"], data["id"] = datasets.Value("string"), [f"x{k}" for k in range(n)]
    (root / "data").mkdir(parents=True)
    datasets.Dataset.from_dict(data, features=datasets.Features(cols)).to_parquet(
        str(root / "data" / "train-00000-of-00001.parquet"))
    return root


def image_folder(root: Path, labels: dict[str, int], jpegs: list[Path]) -> Path:
    """``root/<label>/img<i>.jpg`` copies of shared JPEGs."""
    k = 0
    for label, n in labels.items():
        (root / label).mkdir(parents=True)
        for i in range(n):
            shutil.copy(jpegs[k % len(jpegs)], root / label / f"img{i}.jpg")
            k += 1
    return root
