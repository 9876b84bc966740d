"""Request counts and cost of a collection plan, printed before anything is requested.

Prices change: the defaults are Google's published Street View Static API list prices when this was
written (7.00 USD per 1,000 image requests for the first 100,000 a month; metadata requests free;
monthly free allowances and volume discounts are ignored). Check
https://developers.google.com/maps/documentation/streetview/usage-and-billing and pass
``--price-per-1000`` when they differ.
"""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PRICE_PER_1000 = 7.00           # USD per 1,000 Static Street View image requests
DEFAULT_METADATA_PRICE_PER_1000 = 0.0   # metadata requests are not charged


@dataclass(frozen=True)
class CostEstimate:
    """Upper bounds: every point is assumed to find a new panorama (no gaps, no duplicates)."""

    points: int               # plan points in total
    headings: int             # images per panorama
    metadata_requests: int    # still to make (one per point not yet done)
    image_requests: int       # still to make, at most
    images_done: int          # already on disk
    price_per_1000: float     # USD per 1,000 images
    metadata_price_per_1000: float = DEFAULT_METADATA_PRICE_PER_1000

    @property
    def cost_usd(self) -> float:
        """Maximum cost of the remaining requests, USD."""
        return (self.image_requests * self.price_per_1000
                + self.metadata_requests * self.metadata_price_per_1000) / 1000.0

    @property
    def full_cost_usd(self) -> float:
        """Maximum cost of the whole plan from scratch, USD."""
        return (self.points * self.headings * self.price_per_1000
                + self.points * self.metadata_price_per_1000) / 1000.0

    def summary(self) -> str:
        """Human-readable lines for the terminal."""
        lines = [
            f"Plan: {self.points:,} points x {self.headings} heading(s) = at most "
            f"{self.points * self.headings:,} images (max {self.full_cost_usd:,.2f} USD from scratch).",
            f"To do: {self.metadata_requests:,} metadata requests "
            f"({'free' if self.metadata_price_per_1000 == 0 else f'{self.metadata_price_per_1000:.2f} USD/1000'}) "
            f"and at most {self.image_requests:,} image requests at {self.price_per_1000:.2f} USD/1000 "
            f"= at most {self.cost_usd:,.2f} USD.",
        ]
        if self.images_done:
            lines.append(f"Already done: {self.images_done:,} images (not requested again).")
        lines.append("Fewer images are billed where a point has no coverage or finds a panorama already "
                     "taken. Prices change: check Google's current Street View Static API pricing.")
        return "\n".join(lines)


def estimate(points: int, headings: int, *, points_done: int = 0, panos_pending_images: int = 0,
             images_done: int = 0, price_per_1000: float = DEFAULT_PRICE_PER_1000,
             metadata_price_per_1000: float = DEFAULT_METADATA_PRICE_PER_1000) -> CostEstimate:
    """Estimate the remaining requests of a plan.

    ``points_done``: points whose metadata answer is already recorded; ``panos_pending_images``:
    images still missing for panoramas already found; ``images_done``: images on disk.
    """
    if points < 0 or headings < 1 or price_per_1000 < 0:
        raise ValueError("points >= 0, headings >= 1 and price >= 0 required")
    todo_points = max(0, points - points_done)
    return CostEstimate(points=points, headings=headings, metadata_requests=todo_points,
                        image_requests=todo_points * headings + panos_pending_images,
                        images_done=images_done, price_per_1000=price_per_1000,
                        metadata_price_per_1000=metadata_price_per_1000)
