"""Where the project's files are: the one place that knows the checkout's layout.

``ROOT`` is the checkout (``pip install -e .`` keeps it: the package is imported from here).
Every module that needs a bundled asset or the user's data folder asks this module.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
GEO_ASSETS = ASSETS / "geo"  # Natural Earth countries (world-atlas), see assets/geo/README.md
MODELS = ASSETS / "models"
DEFAULT_CHECKPOINT = MODELS / "default.pt"
DATA = ROOT / "data"  # the user's data (git-ignored but for its README)
SHARED_DATA = ROOT.parent / "shared" / "geodata"  # the development set beside a developer's checkout
APP_STATIC = ROOT / "app" / "static"
