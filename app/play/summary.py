"""The end-of-game map (no Streamlit): every round's actual place, the player's pin and the model's
pin, numbered by round, with great-circle lines from each pin to its place. Built with the shared
offline map builders (``app.maps.builders``); marker colours mean what they mean on every map
(green: actual place, blue: you, purple: the model's expected-score guess)."""
from __future__ import annotations

from typing import Callable, Sequence

import folium

from app.common.formatting import fmt_km
from app.maps import builders as maps
from app.play.game import RoundResult

MODEL_KIND = "best"  # the model plays its expected-score guess (same kind as the reveal map)


def summary_map(results: Sequence[RoundResult], place: Callable[[RoundResult], str] | None = None) -> folium.Map:
    """All finished rounds on one map, zoomed to fit every pin. Pins carry the round number; tooltips
    say whose pin it is, the distance and the points; ``place(result)`` names the actual place
    (default: the country)."""
    m = maps.base_map(online_tiles=True)
    pts: list[tuple[float, float]] = []
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
    maps.fit_to(m, pts, pad_deg=1.0, max_zoom=9)
    return maps.finish(m)
