"""Settings of a Street View collection: what they are, their checks, and how two of them compare.

The *fixed* settings (``FIXED``) decide what a collection holds; they are recorded in
``collection.json`` and a resumed run must use the same ones. They are compared after normalising
(``640X640`` is ``640x640``, ``SI,HR`` is ``HR,SI``, ``90`` is ``90.0``), and a fixed setting that a
re-run leaves out (``--split``) keeps its recorded value. Every check here runs before anything is
written, so a refused run leaves nothing that would make the corrected command fail.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .streetview import parse_size

from model.collect import cost as cost_mod
from .postprocess import bottom_pixels

# settings that decide what is collected: a resumed run must use the same ones
FIXED = ("plan", "headings", "size", "fov", "pitch", "radius", "api_source", "crop_bottom", "split")


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
    split: tuple[float, float, float] | None = None    # grouped stratified split fractions (None: as recorded)
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
        return normalise({k: d[k] for k in FIXED})

    def validate(self) -> None:
        """Raise ValueError naming the option for any setting the API or the collector cannot use."""
        w, h = parse_size(self.size)
        self.size = f"{w}x{h}"
        checks = [
            (bool(self.headings) and all(0 <= float(x) < 360 for x in self.headings),
             f"--headings {self.headings}: one or more degrees in 0..360"),
            (len({float(x) for x in self.headings}) == len(self.headings),
             f"--headings {self.headings}: each heading once (a repeated one bills the same image twice)"),
            (_finite(self.fov) and 10 <= self.fov <= 120, f"--fov {self.fov}: the field of view must be 10..120 degrees"),
            (_finite(self.pitch) and -90 <= self.pitch <= 90, f"--pitch {self.pitch}: the pitch must be -90..90 degrees"),
            (float(self.radius).is_integer() and 1 <= self.radius <= 1_000_000,
             f"--radius {self.radius}: a whole number of metres from 1 to 1,000,000"),
            (self.api_source in ("outdoor", "default"), f"--api-source {self.api_source!r}: outdoor or default"),
            (self.split is None or (len(self.split) == 3 and min(self.split) >= 0 and sum(self.split) > 0),
             f"--split {self.split}: three non-negative fractions like 0.8,0.1,0.1"),
            (int(self.workers) >= 1, f"--workers {self.workers}: at least 1"),
            (_finite(self.rate) and self.rate >= 0, f"--rate {self.rate}: 0 (unlimited) or more"),
            (int(self.retries) >= 0, f"--retries {self.retries}: 0 or more"),
            (_finite(self.backoff) and self.backoff >= 0, f"--backoff {self.backoff}: 0 or more seconds"),
            (_finite(self.timeout) and self.timeout > 0, f"--timeout {self.timeout}: more than 0 seconds"),
            (_finite(self.price_per_1000) and self.price_per_1000 >= 0, f"--price-per-1000 {self.price_per_1000}: 0 or more"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if self.crop_bottom is not None:  # a crop that leaves no image would bill every image and keep none
            try:
                bottom_pixels(h, self.crop_bottom)
            except ValueError:
                raise ValueError(f"--crop-bottom {self.crop_bottom}: leaves nothing of a {self.size} image ({h} px "
                                 "tall); crop fewer pixels (e.g. 24px) or a fraction (e.g. 0.06)") from None
        self.radius = int(self.radius)


def _finite(v) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _num(v):
    f = float(v)
    return int(f) if f.is_integer() else f


def normalise(fixed: dict) -> dict:
    """Fixed settings in one canonical form (JSON types), so that equal settings compare equal."""
    d = json.loads(json.dumps(fixed))
    if d.get("size"):
        try:
            d["size"] = "%dx%d" % parse_size(d["size"])
        except ValueError:
            pass
    plan = d.get("plan")
    if isinstance(plan, dict) and isinstance(plan.get("countries"), list):
        plan["countries"] = sorted({str(c).strip().upper() for c in plan["countries"]})
    if isinstance(d.get("headings"), list):
        d["headings"] = [_num(x) for x in d["headings"]]
    for k in ("fov", "pitch", "radius", "crop_bottom"):
        if d.get(k) is not None:
            d[k] = _num(d[k])
    if d.get("split") is not None:
        s = [float(x) for x in d["split"]]
        d["split"] = [round(x / sum(s), 6) for x in s]
    return d


def differences(saved: dict, mine: dict) -> list[str]:
    """Fixed settings where two collections differ (after :func:`normalise`). A key that ``saved``
    lacks (written by an older version) is not compared."""
    a, b = normalise({k: saved[k] for k in FIXED if k in saved}), normalise(mine)
    return [k for k in FIXED if k in a and a[k] != b.get(k)]


def read_signing_secret(path: str | Path) -> str:
    """The URL-signing secret from the first line of ``path``, checked before anything is written: the
    file must be readable and the secret URL-safe base64 (as Google issues it). Messages never quote it."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        why = getattr(e, "strerror", None) or type(e).__name__
        raise ValueError(f"--signing-secret-file {p}: cannot be read ({why})") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if not lines:
        raise ValueError(f"--signing-secret-file {p}: the file is empty")
    secret = lines[0]
    if not re.fullmatch(r"[A-Za-z0-9_\-]{8,}={0,2}", secret):
        raise ValueError(f"--signing-secret-file {p}: its first line is not a URL-signing secret (URL-safe "
                         "base64, as shown in the Google Cloud console)")
    try:
        base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"--signing-secret-file {p}: its first line does not decode as base64") from None
    return secret
