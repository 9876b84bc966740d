"""Samples an importer leaves out: each named with its reason as it happens, counted by reason at the end.

The first ``show`` of each reason are printed one line each (``sample 17 (id abc): not JPEG, PNG or WebP
(GIF): skipped``: name, reason, detail), every one is listed in ``skipped.csv`` beside the manifest, and
:meth:`Skips.summary` counts them by reason; the import itself goes on.
"""
from __future__ import annotations

import csv
import io
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Callable

from .journal import atomic_write_text


def stderr_line(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Skips:
    """Skipped samples of one import, by reason."""

    def __init__(self, log: Callable[[str], None] | None = stderr_line, show: int = 20):
        self.log, self.show = log, show
        self.counts: Counter = Counter()
        self.rows: list[tuple[str, str, str]] = []

    def add(self, name: str, reason: str, detail: str = "") -> None:
        """Skip sample ``name`` for ``reason`` (a short category, counted) with an optional ``detail``."""
        self.counts[reason] += 1
        self.rows.append((name, reason, detail))
        if self.log and self.counts[reason] <= self.show:
            more = " (further ones of this kind are counted, not shown)" if self.counts[reason] == self.show else ""
            self.log(f"{name}: {reason}{f' ({detail})' if detail else ''}: skipped{more}")

    def __len__(self) -> int:
        return len(self.rows)

    def summary(self, total: int | None = None) -> str:
        """``Skipped 3 of 10 samples: 2 x not JPEG, PNG or WebP, 1 x duplicate image.`` ('' if none)."""
        if not self.rows:
            return ""
        of = f" of {total:,}" if total is not None else ""
        return (f"Skipped {len(self.rows):,}{of} samples: "
                + ", ".join(f"{n:,} x {reason}" for reason, n in self.counts.most_common()) + ".")

    def write(self, folder: str | os.PathLike) -> Path | None:
        """List every skipped sample in ``folder/skipped.csv`` (removed when nothing was skipped)."""
        path = Path(folder) / "skipped.csv"
        if not self.rows:
            path.unlink(missing_ok=True)
            return None
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["sample", "reason", "detail"])
        w.writerows(self.rows)
        atomic_write_text(path, buf.getvalue())
        return path
