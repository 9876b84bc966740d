"""Settings of a Street View collection.

The *fixed* settings (``FIXED``) decide what a collection holds; they are recorded in
``collection.json`` and a resumed run must use the same ones.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import cost as cost_mod

# settings that decide what is collected: a resumed run must use the same ones
FIXED = ("plan", "headings", "size", "fov", "pitch", "radius", "api_source", "crop_bottom")


@dataclass
class CollectConfig:
    """Settings of one collection. Angles in degrees, radius in metres, size in pixels."""

    out: Path
    plan: dict = field(default_factory=dict)          # how the plan was made (kind, countries, seed...)
    headings: list[float] = field(default_factory=lambda: [0, 90, 180, 270])
    size: str = "640x640"
    fov: float = 90
    pitch: float = 0
    radius: int = 1000                                 # metres to search for the nearest panorama
    api_source: str = "outdoor"                        # API "source": outdoor | default
    crop_bottom: float | int | None = None             # see postprocess.parse_bottom
    dataset_name: str = ""                             # manifest "source" column (default gsv_<folder>)
    split: tuple[float, float, float] | None = None    # grouped stratified split fractions
    seed: int = 0
    # run-time only (may change between runs)
    workers: int = 8
    rate: float = 20.0                                 # requests per second (0 = unlimited)
    retries: int = 5
    backoff: float = 0.5                               # first retry delay, seconds
    timeout: float = 20.0                              # per request, seconds
    price_per_1000: float = cost_mod.DEFAULT_PRICE_PER_1000
    progress: bool = True

    def fixed(self) -> dict:
        d = asdict(self)
        return json.loads(json.dumps({k: d[k] for k in FIXED}))
