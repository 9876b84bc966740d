"""The shipped model as the opponent on the shared held-out places: in a regional game its pin stays
in the region (issue 14: in a Croatia game it landed in Slovenia at 45.8734, 15.5467).

Checked with the point-in-polygon test of the bundled Natural Earth 1:50m countries, read here
independently of ``app.play.areas``. One view per place (the "single" view mode) keeps it to ~30
forward passes; with the old pin rule 3 of the 20 Croatian and 3 of the 12 Oceanian guesses fell
outside (Slovenia, Hungary; the sea off Australia).
"""
from __future__ import annotations

import json

import pytest
import shapely
from PIL import Image
from shapely.geometry import shape

from app.play import game as g
from app.play import logic as pl
from app.play import opponent
from app.play.regions import CONTINENT_OF, in_region, parse_region
from tests.app.apphelpers import DEFAULT_MODEL, REPO, SHARED

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def predictor():
    if not DEFAULT_MODEL.is_file() or not (SHARED / "manifest.csv").is_file():
        pytest.skip("needs the shipped model and the shared data")
    from model.predict import Predictor

    return Predictor.load()


@pytest.fixture(scope="module")
def places(predictor):
    from model.data.manifest import read_manifest

    return pl.playable_locations(read_manifest(SHARED / "manifest.csv"), predictor.train_groups)


def land(region: str):
    kind, code = parse_region(region)
    codes = {code} if kind == "country" else {c for c, k in CONTINENT_OF.items() if k == code}
    feats = json.loads((REPO / "assets" / "geo" / "countries-50m.geojson").read_text())["features"]
    return shapely.union_all([shapely.make_valid(shape(f["geometry"])) for f in feats
                              if f["properties"]["iso_a2"] in codes])


@pytest.mark.parametrize("region, at_least", [("country:HR", 15), ("continent:OC", 10)])
def test_every_model_guess_stays_in_the_region(predictor, places, region, at_least):
    pool = g.region_pool(places, region)
    assert len(pool) >= at_least  # the shared set's playable places in the region
    size, shp = g.game_map_size(pool, region), land(region)
    outside = []
    for x in pool:
        move = opponent.play(predictor, [Image.open(x.paths[0]).convert("RGB")], region, size)
        if not shp.contains(shapely.Point(move.lon, move.lat)):
            outside.append((x.location_id, round(move.lat, 4), round(move.lon, 4)))
        assert in_region(predictor.cells.table["country_code"].iloc[move.cell_id], region)  # Grad-CAM's cell
    assert not outside, f"{len(outside)} of {len(pool)} model guesses outside {region}: {outside}"
