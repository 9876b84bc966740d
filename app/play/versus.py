"""Humans vs the model (no Streamlit): from the rounds of the saved games, where players beat the
model and where it beats them, by country or by continent.

A round is won by whoever scored more points in it (ties are counted apart and left out of the
win rate). The players' win rate of a group is ``wins / (wins + losses)`` with a 95% Wilson score
interval (``app.common.uncertainty.wilson``), which stays inside 0..1 and is honest for small n. A group
is called for the players (or the model) only when its whole interval lies above (below) 50%;
a group with fewer than :data:`SMALL_N` decided rounds is labelled indicative whatever it says.
The rounds come from the saved games against one opponent (the page keeps opponents apart), world and
regional games alike (a round's winner is decided on the same map for both, so rounds of different
maps can be pooled), never from a replayed game (its answers were known).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.common.uncertainty import wilson
from app.play.regions import CONTINENT_NAMES, continent_of

SMALL_N = 30       # fewer decided rounds than this: "indicative"
RATE = "Players' win rate (95% interval)"
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Tally:
    """Rounds of one group (a country or continent code): players' and model's wins, ties, the
    players' win rate among decided rounds with its interval (0..1; None without a decided round),
    and the mean of (players' points - model's points) per round."""

    code: str
    label: str
    rounds: int
    player_wins: int
    model_wins: int
    ties: int
    win_rate: float | None
    low: float | None
    high: float | None
    mean_margin: float

    @property
    def decided(self) -> int:
        return self.player_wins + self.model_wins

    @property
    def verdict(self) -> str:
        """'Players ahead', 'Model ahead' or 'Too close to call' (from the interval, not the rate)."""
        if self.low is not None and self.low > 0.5:
            return "Players ahead"
        if self.high is not None and self.high < 0.5:
            return "Model ahead"
        return "Too close to call"

    @property
    def indicative(self) -> bool:
        """Whether the sample is small (fewer than :data:`SMALL_N` decided rounds)."""
        return self.decided < SMALL_N


def group_code(country_code: str, by: str) -> str:
    """The group of a round's country: the code itself (``by="country"``), its continent code, or
    ``"all"`` (``by="all"``: every round in one group)."""
    cc = (country_code or "").upper()
    if by == "all":
        return "all"
    if by == "country":
        return cc
    if by == "continent":
        return continent_of(cc) or "?"
    raise ValueError(f"by must be 'country', 'continent' or 'all', not {by!r}")


def tally(records: Iterable, by: str = "country", names: dict[str, str] | None = None) -> list[Tally]:
    """One :class:`Tally` per group of ``records`` (objects with ``country_code``, ``player_score``
    and ``model_score``, e.g. ``app.play.leaderboard.RoundRecord``), most rounds first. ``names``:
    {country code: name} for the labels (continents are named from ``app.play.regions``)."""
    if by not in ("country", "continent", "all"):
        raise ValueError(f"by must be 'country', 'continent' or 'all', not {by!r}")
    groups: dict[str, list] = defaultdict(list)
    for r in records:
        groups[group_code(r.country_code, by)].append(r)
    out = []
    for code, rs in groups.items():
        p = sum(r.player_score > r.model_score for r in rs)
        m = sum(r.model_score > r.player_score for r in rs)
        ci = wilson(p, p + m, CONFIDENCE) if p + m else None
        lo, hi = (ci.lo, ci.hi) if ci else (None, None)
        label = ("All rounds" if by == "all" else CONTINENT_NAMES.get(code, "Unknown") if by == "continent"
                 else (names or {}).get(code, code))
        out.append(Tally(code, label, len(rs), p, m, len(rs) - p - m, p / (p + m) if p + m else None, lo, hi,
                         sum(r.player_score - r.model_score for r in rs) / len(rs)))
    return sorted(out, key=lambda t: (-t.rounds, t.label))


def pct(x: float | None) -> str:
    """A rate (0..1) in whole percents: '62%' ('–' for None)."""
    return "–" if x is None else f"{100 * x:.0f}%"


def interval(t: Tally) -> str:
    """A tally's 95% interval in whole percents: '45–78%' ('–' without a decided round)."""
    return "–" if t.low is None else f"{100 * t.low:.0f}–{pct(t.high)}"


def rate_words(t: Tally) -> str:
    """'62% (45–78%)': the players' win rate and its 95% interval; '–' without a decided round."""
    return "–" if t.win_rate is None else f"{pct(t.win_rate)} ({interval(t)})"


def extra_names(records: Iterable) -> dict[str, str]:
    """{country code: English name} of the records' countries (offline, ``model.data.revgeo``)."""
    from model.data.revgeo import country_name

    return {c: country_name(c) for c in {(r.country_code or "").upper() for r in records} if c}


def tally_rows(tallies: Sequence[Tally], by: str) -> list[dict]:
    """Display rows, key columns first (a phone shows the first three): group, the players' win rate with
    its 95% interval in one column (whole percents), the verdict, rounds, wins each way (ties are in the rounds but not the
    rate), mean margin (points, players minus model), and "indicative" for a small sample."""
    head = "Country" if by == "country" else "Continent"
    return [{head: t.label, RATE: rate_words(t), "Verdict": t.verdict, "Rounds": t.rounds,
             "Players won": t.player_wins, "Model won": t.model_wins, "Mean margin": round(t.mean_margin),
             "Sample": "indicative" if t.indicative else ""} for t in tallies]
