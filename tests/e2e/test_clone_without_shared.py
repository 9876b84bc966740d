"""A newcomer's checkout: the repository's files (tracked and not-ignored ones, as `git ls-files -co
--exclude-standard` lists them: what a clone of this working tree would hold) copied into a folder with no
``../shared`` beside it and no ``GEOLOC_*`` variables, then every page run with AppTest from that copy
(its own ``model`` and ``app`` packages, offline): no page raises, Explore opens the shipped evaluation's
headline, Play names the three routes to data (your photos, the demo set, a manifest)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shared import REPO

PAGES = ["app_pages/predict.py", "app_pages/photos.py", "app_pages/play.py", "app_pages/explore.py",
         "app_pages/about.py"]
SCRIPT = r"""
import json, sys
from pathlib import Path
from streamlit.testing.v1 import AppTest
import model, app
root = Path.cwd()
out = {"model": model.__file__, "app": app.__file__, "pages": {}}
def texts(at):
    t = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success", "code"):
        t += [str(e.value) for e in getattr(at, kind)]
    t += [f"{m.label}={m.value}" for m in at.metric]
    return t
at = AppTest.from_file(str(root / "app" / "main.py"), default_timeout=300).run()
out["pages"]["/"] = {"exceptions": [str(e.value) for e in at.exception], "texts": texts(at)}
for page in sys.argv[1:]:
    at = AppTest.from_file(str(root / "app" / "main.py"), default_timeout=300)
    at.switch_page(page).run()
    out["pages"][page] = {"exceptions": [str(e.value) for e in at.exception], "texts": texts(at)}
print("RESULT" + json.dumps(out))
"""


def tree_files() -> list[str]:
    """The working tree's files that a clone would carry (tracked, or untracked and not ignored)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                         capture_output=True).stdout.decode()
    return [f for f in out.split("\0") if f and (REPO / f).is_file()]


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("newcomer")
    repo = base / "repo"
    for f in tree_files():
        (repo / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, repo / f)
    assert not (repo.parent / "shared").exists() and not (repo / "data" / "manifest.csv").exists()
    assert not list((repo / "data").glob("*/")) if (repo / "data").is_dir() else True
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEOLOC_")}
    env.update(PYTHONPATH=str(repo), HF_HUB_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, *PAGES], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=900)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT")), None)
    assert line, f"the pages did not run:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    res = json.loads(line[len("RESULT"):])
    res["repo"] = repo
    return res


def test_the_copy_runs_its_own_code(newcomer):
    assert Path(newcomer["model"]).is_relative_to(newcomer["repo"])
    assert Path(newcomer["app"]).is_relative_to(newcomer["repo"])


@pytest.mark.parametrize("page", ["/", *PAGES])
def test_every_page_renders_without_exception(newcomer, page):
    got = newcomer["pages"][page]
    assert got["exceptions"] == [], got["exceptions"]
    assert got["texts"], f"{page} rendered nothing"


def _routes(text: str) -> None:
    assert "python -m model.collect photos" in text and "Your own photos" in text  # 1. your photos
    assert "make demo-data" in text                                             # 2. the demo set
    assert "GEOLOC_DATA" in text                                                # 3. a manifest or shard folder


def test_play_explains_the_three_routes(newcomer):
    _routes(" ".join(newcomer["pages"]["app_pages/play.py"]["texts"]))


def test_explore_shows_the_shipped_evaluations_headline(newcomer):
    texts = newcomer["pages"]["app_pages/explore.py"]["texts"]
    body = " ".join(texts)
    metrics = json.loads((REPO / "assets" / "models" / "default.eval" / "metrics.json").read_text())["per_location"]
    n = metrics["n"]
    assert f"of {n:,} locations" in body, body[:2000]
    acc = next(t for t in texts if t.startswith("Country accuracy="))
    assert f"{100 * metrics['country_top1']:.0f}" in acc.replace(",", ""), acc
    assert "shipped" in body.lower() and "not on this machine" in body


def test_photos_page_is_ready_for_an_upload(newcomer):
    body = " ".join(newcomer["pages"]["app_pages/photos.py"]["texts"])
    assert "Your photos" in body and "Nothing uploaded in this session yet" in body
