"""Which OpenStreetView-5M test images the demo set takes, and where each one lies in the zips.

The plan reads only the head of ``test.csv`` (``head_rows`` rows, about 550 bytes each), orders its
places round-robin over countries (seeded shuffles; countries by offline reverse geocoding, never the
CSV's ``country``, which pandas would read as NaN for Namibia's ``NA``), then reads the central
directories of ``images/test/NN.zip`` in order until ``n`` of them are found (members are matched by
file-name stem == ``id``, wherever the zip puts them). The result, ``plan.csv``, records per image its
zip, member offset, sizes and CRC, so a resume needs neither the CSV nor a directory again.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from model.data.revgeo import reverse_geocode

from .groups import location_id
from .hub_zip import DemoDataError, zip_index
from .journal import atomic_write_text

PLAN_COLUMNS = ["id", "image", "zip", "member", "header_offset", "compress_size", "file_size", "compress_type",
                "crc", "lat", "lon", "country_code", "creator_username", "creator_id", "captured_at", "sequence"]
KEEP = ("id", "latitude", "longitude", "creator_username", "creator_id", "captured_at", "sequence")


def head_rows_for(n: int) -> int:
    """Rows of the CSV's head read for ``n`` images: enough to spread over countries (about 0.55 KB each)."""
    return max(2000, 4 * n)


def read_head(source, rows: int, split: str = "test") -> pd.DataFrame:
    """The first ``rows`` rows of ``<split>.csv`` (all as text; ``id`` exact), with numeric lat/lon."""
    try:
        with source.open_stream(f"{split}.csv") as f:
            df = pd.read_csv(f, nrows=rows, dtype=str, keep_default_na=False)
    except DemoDataError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DemoDataError(f"{source.where}: {split}.csv is not a readable CSV ({e})") from None
    missing = [c for c in ("id", "latitude", "longitude") if c not in df.columns]
    if missing:
        raise DemoDataError(f"{source.where}: {split}.csv has no {', '.join(missing)} column; columns: {list(df.columns)[:12]}")
    for c in KEEP:
        if c not in df.columns:
            df[c] = ""
    df = df[list(KEEP)].copy()
    df["lat"] = pd.to_numeric(df["latitude"], errors="coerce")
    df["lon"] = pd.to_numeric(df["longitude"], errors="coerce")
    ok = df["lat"].between(-90, 90) & df["lon"].between(-180, 180) & (df["id"].str.strip() != "")
    return df[ok].drop_duplicates("id").reset_index(drop=True)


def candidate_order(head: pd.DataFrame, seed: int) -> pd.DataFrame:
    """``head`` reordered round-robin over countries: one place of each country in turn (seeded)."""
    labels = reverse_geocode(head["lat"].to_numpy(), head["lon"].to_numpy())
    head = head.assign(country_code=[x["country_code"] for x in labels])
    rng = np.random.default_rng(seed)
    head = head.iloc[rng.permutation(len(head))]
    head = head.assign(_turn=head.groupby("country_code").cumcount(), _tie=rng.permutation(len(head)))
    return head.sort_values(["_turn", "_tie"], kind="stable").drop(columns=["_turn", "_tie"]).reset_index(drop=True)


def make_plan(source, n: int, seed: int, log: Callable[[str], None] | None = None, split: str = "test") -> pd.DataFrame:
    """The plan of ``n`` images (fewer if the head of the CSV does not hold ``n`` with an image), see the module doc."""
    cands = candidate_order(read_head(source, head_rows_for(n), split), seed)
    zips = source.zips(split)
    if not zips:
        raise DemoDataError(f"{source.where}: no images/{split}/*.zip found")
    wanted = set(cands["id"])
    found: dict[str, tuple[str, object]] = {}
    for rel in zips:
        with source.open(rel) as f:
            for stem, info in zip_index(f, f"{source.where}/{rel}").items():
                if stem in wanted and stem not in found:
                    found[stem] = (rel, info)
        if log:
            log(f"{rel}: {len(found):,} of the {len(wanted):,} candidate places found so far")
        if len(found) >= n:
            break
    chosen = cands[cands["id"].isin(found)].head(n)
    if chosen.empty:
        raise DemoDataError(f"{source.where}: none of the first {len(cands):,} places of {split}.csv is in "
                            f"{', '.join(zips)} (not the expected layout?)")
    if len(chosen) < n and log:
        log(f"note: only {len(chosen):,} of the first {len(cands):,} places of {split}.csv have an image in the "
            f"zips: the demo set holds {len(chosen):,}, not {n:,}")
    rows = []
    for r in chosen.itertuples(index=False):
        rel, info = found[r.id]
        rows.append({"id": r.id, "image": f"images/{location_id('osv5m:' + r.id)}.jpg", "zip": rel,
                     "member": info.filename, "header_offset": info.header_offset, "compress_size": info.compress_size,
                     "file_size": info.file_size, "compress_type": info.compress_type, "crc": info.CRC,
                     "lat": r.lat, "lon": r.lon, "country_code": r.country_code,
                     "creator_username": r.creator_username, "creator_id": r.creator_id,
                     "captured_at": r.captured_at, "sequence": r.sequence})
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def write_plan(plan: pd.DataFrame, out: Path) -> None:
    atomic_write_text(out / "plan.csv", plan.to_csv(index=False, float_format="%.7f"))


def read_plan(out: Path) -> pd.DataFrame | None:
    """``out/plan.csv`` (None if absent or unreadable: then it is made again)."""
    p = out / "plan.csv"
    if not p.is_file():
        return None
    try:
        plan = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError):
        return None
    if list(plan.columns) != PLAN_COLUMNS:
        return None
    for c in ("header_offset", "compress_size", "file_size", "compress_type", "crc"):
        plan[c] = plan[c].astype(int)
    for c in ("lat", "lon"):
        plan[c] = plan[c].astype(float)
    return plan


def member_info(row) -> zipfile.ZipInfo:
    """A ``ZipInfo`` rebuilt from a plan row (what :func:`~.hub_zip.read_member` needs)."""
    info = zipfile.ZipInfo(row.member)
    info.header_offset, info.compress_size, info.file_size = int(row.header_offset), int(row.compress_size), int(row.file_size)
    info.compress_type, info.CRC = int(row.compress_type), int(row.crc)
    info.flag_bits = 0x800 if not row.member.isascii() else 0
    info.extra = b""
    return info
