"""Splits by location group, never by image: the manifest's own, a stratified grouped split, K folds."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

log = logging.getLogger("model.data.splits")


def _strata(df: pd.DataFrame) -> np.ndarray:
    """Stratify by country; countries too rare to stratify share one stratum."""
    cc = df["country_code"].replace("", "??")
    counts = df.drop_duplicates("group_id").groupby(cc.loc[df.drop_duplicates("group_id").index]).size()
    rare = set(counts[counts < 10].index)
    return np.where(cc.isin(rare), "__rare__", cc)


def make_split(df: pd.DataFrame, val: float = 0.1, test: float = 0.1, seed: int = 0) -> pd.Series:
    """A train/val/test label per row, about ``1-val-test``/``val``/``test`` of the groups,
    stratified by country; every group lands in exactly one split."""
    split = pd.Series("train", index=df.index)
    y, g = _strata(df), df["group_id"].to_numpy()
    n_groups = len(set(g))
    if n_groups < 3:
        raise ValueError(f"only {n_groups} location group(s): too few for a train/val/test split; "
                         "give the manifest a split column")
    n_test = min(max(2, int(round(1 / test))), n_groups) if test > 0 else 0  # few groups: one per fold
    rest = np.ones(len(df), bool)
    if n_test:
        tr, te = next(StratifiedGroupKFold(n_test, shuffle=True, random_state=seed).split(df, y, g))
        split.iloc[te] = "test"
        rest[te] = False
    if val > 0:
        idx = np.flatnonzero(rest)
        n_val = min(max(2, int(round((1 - test) / val))), len(set(g[idx])))
        tr, va = next(StratifiedGroupKFold(n_val, shuffle=True, random_state=seed + 1).split(idx, y[idx], g[idx]))
        split.iloc[idx[va]] = "val"
    return split


def ensure_split(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The manifest's ``split`` where given; a grouped stratified split where it is not.

    Given splits are never changed (changing them could move test places into training). Rows with an
    empty split take their location group's split when the group has one; groups with no split at all
    are split among themselves (:func:`make_split`; fewer than 3 such groups go to train), with a warning
    that says how many rows that was.
    """
    if "split" not in df.columns or (df["split"] == "").all():
        df = df.copy()
        df["split"] = make_split(df, seed=seed)
        return df
    given = df[df["split"] != ""]
    check_groups(given)
    if len(given) == len(df):
        return df
    df = df.copy()
    group_split = given.groupby("group_id")["split"].first()
    empty = df["split"] == ""
    df.loc[empty, "split"] = df.loc[empty, "group_id"].map(group_split).fillna("")
    rest = df["split"] == ""
    if rest.any():
        df.loc[rest, "split"] = make_split(df[rest], seed=seed) if df.loc[rest, "group_id"].nunique() >= 3 \
            else "train"
    log.warning("%d row(s) had no split: %d joined their location group's split, %d (groups without any split) "
                "were split among themselves; the given splits are unchanged",
                int(empty.sum()), int((empty & ~rest).sum()), int(rest.sum()))
    return df


def kfold(df: pd.DataFrame, k: int, seed: int = 0):
    """Yield (fold, train_df, val_df) for grouped stratified K-fold over ``df``."""
    y, g = _strata(df), df["group_id"].to_numpy()
    for i, (tr, va) in enumerate(StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(df, y, g)):
        yield i, df.iloc[tr], df.iloc[va]


def check_groups(df: pd.DataFrame) -> None:
    """Raise ValueError if any location group appears in more than one split."""
    n = df.groupby("group_id")["split"].nunique()
    if (n > 1).any():
        bad = n[n > 1].index[:3].tolist()
        raise ValueError(f"location group(s) {bad} appear in more than one split; splits must never cut a group")
