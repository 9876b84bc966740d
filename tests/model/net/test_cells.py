import numpy as np
import pandas as pd
import pytest

from model.net.cells import CellSet, build_cells
from model.geo import haversine_km


@pytest.fixture(scope="module")
def train(shared_manifest):
    return shared_manifest[shared_manifest.split == "train"]


def test_country_cells_centroid_is_mean_training_point(train):
    cs = build_cells(train, "country")
    hr = cs.table.set_index("key").loc["HR"]
    pts = train[(train.country_code == "HR") & train.lat.notna()].drop_duplicates("location_id")
    assert hr["n_train"] == len(pts)
    assert haversine_km(hr["lat"], hr["lon"], pts.lat.mean(), pts.lon.mean()) < 5
    # label-only countries (screenshots) still get a cell
    lab_only = set(train[train.lat.isna()].country_code) - set(train[train.lat.notna()].country_code)
    assert lab_only <= set(cs.table.key)
    # Zagreb -> HR, a point given only a country code -> that country's cell
    ids = cs.assign([45.81, np.nan], [15.98, np.nan], ["", "JP"], ["", ""])
    assert cs.table.key.iloc[ids[0]] == "HR" and cs.table.key.iloc[ids[1]] == "JP"


def test_geocells_respect_size_bounds_and_borders(train):
    cs = build_cells(train, "geocells", min_size=8, max_size=30)
    t = cs.table
    assert t.n_train.max() <= 30
    # Cells never mix countries.
    for key in t.key:
        assert len({k.split("/")[0] for k in key.split("#")[0].split("+")}) == 1
    # Small cells exist only where a whole country has few locations.
    per_cc = train[train.lat.notna()].drop_duplicates("location_id").groupby("country_code").size()
    for _, r in t[t.n_train < 8].iterrows():
        assert per_cc[r.country_code] < 8 or (t.country_code == r.country_code).sum() > 1
    # Training points are assigned to a cell of their own country, nearest among their region's cells.
    pts = train[train.lat.notna()].drop_duplicates("location_id").head(300)
    ids = cs.assign(pts.lat, pts.lon, pts.country_code, pts.admin1)
    assert (t.country_code.to_numpy()[ids] == pts.country_code.to_numpy()).mean() > 0.99


def test_grid_cells_and_roundtrip(train):
    cs = build_cells(train, "grid", resolution=2)
    assert len(cs) > 50
    pts = train[train.lat.notna()].head(50)
    ids = cs.assign(pts.lat, pts.lon)
    assert (ids >= 0).all()
    back = CellSet.from_state(cs.to_state())
    assert (back.assign(pts.lat, pts.lon) == ids).all()
    assert back.table.equals(cs.table)


def test_admin1_cells(train):
    cs = build_cells(train, "admin1")
    assert cs.table.key.str.contains("/").all()
    i = cs.assign([45.81], [15.98], ["HR"], ["City of Zagreb"])[0]
    assert cs.table.country_code.iloc[i] == "HR"
    # An unknown region of a known country falls back to the nearest cell of that country.
    j = cs.assign([45.0], [14.0], ["HR"], ["Nowhere"])[0]
    assert cs.table.country_code.iloc[j] == "HR"


def test_every_cell_has_a_name_even_without_admin1(train):
    # Singapore has no admin1 label in GeoNames: its cells are named after the country, not "".
    cs = build_cells(train, "geocells", min_size=8, max_size=40)
    assert not cs.table["name"].str.strip().eq("").any()
    assert (cs.table.loc[cs.table.country_code == "SG", "name"].str.startswith("Singapore")).all()
    # Older checkpoints stored blank names: they are filled when loaded.
    old = cs.to_state()
    blank = pd.DataFrame(old["table"]).assign(name=lambda t: np.where(t.admin1 == "", "", t.name))
    old["table"] = blank.to_dict("list")
    names = CellSet.from_state(old).table.set_index("key")["name"]
    assert not names.str.strip().eq("").any()
