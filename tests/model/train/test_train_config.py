"""The training configuration: one frozen dataclass built from the command line, a recipe or a checkpoint."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from model.net.checkpoint import DEFAULT_CHECKPOINT
from model.recipes import RECIPES
from model.train import parse_args
from model.train.config import TrainConfig


def test_the_command_line_gives_a_frozen_config_with_the_parsers_defaults():
    cfg = parse_args([])
    assert isinstance(cfg, TrainConfig) and cfg == TrainConfig()  # every option a field, every default the same
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 1.0  # type: ignore[misc]
    got = parse_args(["--lr", "3e-3", "--no-country-head", "--mode", "frozen", "--backbone-config", '{"depth": 2}'])
    assert (got.lr, got.country_head, got.mode, got.backbone_config) == (3e-3, False, "frozen", {"depth": 2})
    assert got.replace(lr=1e-4).lr == 1e-4 and got.lr == 3e-3


def test_every_recipe_parses_to_a_config():
    for name, r in RECIPES.items():
        cfg = parse_args(["--data", "SHARDS", *r.args])
        assert isinstance(cfg, TrainConfig) and cfg.data == "SHARDS", name


def test_config_json_round_trips_and_keeps_unknown_keys(tmp_path):
    cfg = parse_args(["--epochs", "4", "--gallery-settings", '{"top_cells": 5}'])
    path = cfg.save(tmp_path / "config.json")
    saved = json.loads(path.read_text())
    assert saved["epochs"] == 4 and saved["pretrained"] is True and saved["gallery_settings"] == {"top_cells": 5}
    assert TrainConfig.load(path) == cfg
    later = TrainConfig.from_dict({**saved, "train_seconds": 12.5, "runtime": "cpu fp32"})
    assert later == cfg and later.extra == {"pretrained": True, "train_seconds": 12.5, "runtime": "cpu fp32"}
    assert later.to_dict()["train_seconds"] == 12.5


def test_the_shipped_checkpoint_gives_its_config():
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("no shipped model")
    ck = torch.load(DEFAULT_CHECKPOINT, map_location="cpu", weights_only=True)
    cfg = TrainConfig.from_checkpoint(ck)
    assert cfg.backbone == ck["config"]["backbone"] and cfg.mode == ck["config"]["mode"]
    assert cfg.tau == ck["config"]["tau"] and "train_seconds" in cfg.extra
