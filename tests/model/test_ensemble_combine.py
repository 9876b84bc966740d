"""The ensemble benchmark's combination rule: mean country probabilities, mixture best guess."""
import numpy as np
import pandas as pd

from benchmarks import ensemble

LYON, PARIS, TOKYO, SYDNEY = (45.76, 4.84), (48.86, 2.35), (35.68, 139.69), (-33.87, 151.21)


def _answer(country: dict, points: list[tuple[float, float]], w: list[float]):
    return ensemble.Answer(pd.Series(country, dtype=float), np.array([p[0] for p in points]),
                           np.array([p[1] for p in points]), np.array(w, float))


def test_country_probabilities_are_averaged_over_members():
    a = _answer({"FR": 0.6, "DE": 0.4}, [LYON], [1.0])
    b = _answer({"DE": 0.9, "IT": 0.1}, [LYON], [1.0])
    cp, _, _ = ensemble.combine([a, b])
    assert list(cp.index) == ["DE", "FR", "IT"]
    np.testing.assert_allclose(cp.to_numpy(), [0.65, 0.30, 0.05])


def test_guess_follows_the_place_the_members_share():
    # Alone, each member bets on its own far-away favourite; together the shared second choice wins.
    a = _answer({"JP": 0.55, "FR": 0.45}, [TOKYO, LYON], [0.55, 0.45])
    b = _answer({"AU": 0.55, "FR": 0.45}, [SYDNEY, LYON], [0.55, 0.45])
    assert ensemble.combine([a])[1:] == TOKYO
    assert ensemble.combine([b])[1:] == SYDNEY
    cp, lat, lon = ensemble.combine([a, b])
    assert (lat, lon) == LYON and cp.index[0] == "FR"


def test_members_count_equally_whatever_their_weight_scale():
    # Normalised, Tokyo holds half the mixture (2,500 expected points) against Lyon/Paris' quarters
    # (about 2,200): Tokyo. Unnormalised weights of 0.1 would hand the guess to the other member.
    a = _answer({"JP": 1.0}, [TOKYO], [1.0])
    a_small = _answer({"JP": 1.0}, [TOKYO], [0.1])
    b = _answer({"FR": 1.0}, [LYON, PARIS], [0.5, 0.5])
    assert ensemble.combine([a_small, b])[1:] == ensemble.combine([a, b])[1:] == TOKYO
