"""What a collection run did: counts of points, panoramas, images, requests and failures."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class RunSummary:
    """What a run did. ``complete``: every point answered and every image fetched or missing."""

    points: int = 0
    points_done: int = 0
    no_coverage: int = 0
    duplicates: int = 0
    panoramas: int = 0
    images: int = 0
    images_missing: int = 0
    failed: int = 0
    metadata_requests: int = 0
    image_requests: int = 0
    retries: int = 0
    slowdowns: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    fatal: str | None = None
    manifest: Path | None = None

    @property
    def complete(self) -> bool:
        return not (self.interrupted or self.fatal or self.failed) and self.points_done == self.points

    def text(self) -> str:
        s = (f"{self.points_done}/{self.points} points answered: {self.panoramas} panoramas, "
             f"{self.no_coverage} without coverage, {self.duplicates} duplicates; {self.images} images"
             f"{f', {self.images_missing} views unavailable' if self.images_missing else ''}. "
             f"This run: {self.metadata_requests} metadata + {self.image_requests} image requests, "
             f"{self.retries} retries in {self.seconds:.1f} s.")
        if self.failed:
            s += f"\n{self.failed} request(s) failed after retries: run the same command again to retry them."
        return s
