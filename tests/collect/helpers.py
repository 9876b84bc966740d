"""Helpers shared by the collector tests (imported as ``tests.collect.helpers``)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
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
