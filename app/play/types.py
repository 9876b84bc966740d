"""The records of a Play game (no Streamlit, no I/O): a playable place, a planned round, the model's move
and a finished round. Coordinates are WGS-84 degrees, distances km, scores GeoGuessr points."""
from __future__ import annotations

from dataclasses import dataclass


def winner_of(player: float, model: float) -> str:
    """'player', 'model' or 'tie' (whoever has more points)."""
    return "player" if player > model else "model" if model > player else "tie"


@dataclass(frozen=True)
class Location:
    """A playable place: one held-out test-set camera position and its views (image paths).

    ``credits``: per view, the line its licence asks to show under it (e.g. "Photo from Mapillary, CC BY-SA
    4.0, by @user"; "" when none), safe before the reveal; ``source_urls``: per view, the photo's page
    (e.g. on Mapillary), which shows where it was taken: shown only after the reveal."""

    location_id: str
    group_id: str
    lat: float
    lon: float
    country_code: str
    country: str
    paths: tuple[str, ...]
    headings: tuple[float | None, ...] = ()
    credits: tuple[str, ...] = ()
    source_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoundPlan:
    """A round: the location and which of its views (indices into ``Location.paths``) are shown."""

    location: Location
    views: tuple[int, ...]


@dataclass(frozen=True)
class ModelMove:
    """The model's answer for a round: its pin (degrees), the cell it stands for, and its top
    guesses as (place, country, probability)."""

    lat: float
    lon: float
    top: tuple[tuple[str, str, float], ...] = ()
    cell_id: int | None = None


@dataclass(frozen=True)
class RoundResult:
    """Outcome of a finished round. ``player_km`` is None when no pin was placed in time (0 points);
    ``country`` and ``country_code`` (ISO alpha-2) are the place's."""

    index: int
    location_id: str
    truth: tuple[float, float]
    country: str
    guess: tuple[float, float] | None
    model: ModelMove
    player_km: float | None
    model_km: float
    player_score: int
    model_score: int
    timed_out: bool
    seconds: float
    country_code: str = ""

    @property
    def winner(self) -> str:
        """'player', 'model' or 'tie' (by points)."""
        return winner_of(self.player_score, self.model_score)
