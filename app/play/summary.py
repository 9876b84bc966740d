"""The end-of-game map (no Streamlit): every round's actual place, the player's pin and the model's
pin, numbered by round, with great-circle lines from each pin to its place. Built with the shared
offline map builders (``app.maps.builders``); marker colours mean what they mean on every map
(green: actual place, blue: you, purple: the model's expected-score guess)."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import folium

from app.common.formatting import fmt_km
from app.maps import builders as maps
from app.play.game import RoundResult
from app.play.logic import clear_of_controls

MODEL_KIND = "best"  # the model plays its expected-score guess (same kind as the reveal map)


def summary_map(results: Sequence[RoundResult], place: Callable[[RoundResult], str] | None = None,
                focus: int | None = None) -> folium.Map:
    """All finished rounds on one map, zoomed to fit every pin, or with ``focus`` (a round's index) zoomed
    to that round's place and pins (rounds close together pile up at the zoom that fits them all). Pins
    carry the round number; tooltips say whose pin it is, the distance and the points; ``place(result)``
    names the actual place (default: the country)."""
    m = maps.base_map(online_tiles=True)
    pts: list[tuple[float, float]] = []
    framed: list[tuple[float, float]] = []
    for r in results:
        n = str(r.index + 1)
        tl, tn = r.truth
        maps.add_great_circle(m, r.model.lat, r.model.lon, tl, tn, color=maps.KIND_STYLES[MODEL_KIND]["color"],
                              tooltip=f"Round {n}, model: {fmt_km(r.model_km)}")
        maps.add_marker(m, r.model.lat, r.model.lon, MODEL_KIND,
                        f"Round {n}, model: {fmt_km(r.model_km)}, {r.model_score:,} points", text=n)
        pts += [r.truth, (r.model.lat, r.model.lon)]
        if r.guess is not None:
            maps.add_great_circle(m, r.guess[0], r.guess[1], tl, tn, color=maps.KIND_STYLES["guess"]["color"],
                                  tooltip=f"Round {n}, you: {fmt_km(r.player_km)}")
            maps.add_marker(m, r.guess[0], r.guess[1], "guess",
                            f"Round {n}, you: {fmt_km(r.player_km)}, {r.player_score:,} points", text=n)
            pts.append(r.guess)
        maps.add_marker(m, tl, tn, "truth", f"Round {n}: {place(r) if place else r.country}", text=n, size=26)
        if focus == r.index:
            framed = round_points(r)
    if framed:
        maps.fit_to(m, framed, pad_deg=0.5, max_zoom=10, min_span_deg=2.0)
    else:
        maps.fit_to(m, pts, pad_deg=1.0, max_zoom=9)
    return maps.finish(clear_of_controls(m))


def round_points(r: RoundResult) -> list[tuple[float, float]]:
    """A round's place, the model's pin and the player's pin (when placed), as (lat, lon) degrees."""
    return [r.truth, (r.model.lat, r.model.lon)] + ([r.guess] if r.guess is not None else [])
