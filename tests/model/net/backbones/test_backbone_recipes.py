"""Named recipes: the default stays what `make train-default` runs, every recipe is valid `model.train`
input, and the time estimate rests on the FLOPs the real network counts."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from model.recipes import DEFAULT_RECIPE, RECIPES, describe, main, train_flops, vit_flops

from tests.shared import REPO as ROOT


def test_the_default_recipe_is_printed_without_a_name():
    r = subprocess.run([sys.executable, "-m", "model.recipes"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0 and r.stdout.split() == DEFAULT_RECIPE
    assert "efficientnet_lite2" in DEFAULT_RECIPE and RECIPES["default"].args == DEFAULT_RECIPE


def test_list_names_and_show_the_strongest_recipe(capsys):
    assert main(["--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in ("default", "streetclip-geocells", "dinov2-b14-finetune", "clip-b32-probe"))
    assert main(["streetclip-geocells", "--show"]) == 0
    text = capsys.readouterr().out
    for part in ("hf download geolocal/StreetCLIP", ">= 24 GB", "min per epoch per million images", "not measured",
                 "python -m model.train --data SHARDS_DIR $(python -m model.recipes streetclip-geocells)",
                 "torchrun --nproc_per_node 8 -m model.train --data SHARDS_DIR"):
        assert part in text, part
    assert main(["no-such-recipe"]) == 2


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_is_valid_training_input(name):
    from model.train import parse_args

    args = parse_args(["--data", "SHARDS_DIR", *RECIPES[name].args])
    assert args.backbone == RECIPES[name].args[1]


def test_streetclip_recipe_is_the_pigeon_setting():
    a = RECIPES["streetclip-geocells"].args
    val = {a[i]: a[i + 1] for i in range(len(a) - 1) if a[i].startswith("--") and not a[i + 1].startswith("--")}
    assert val["--backbone"] == "streetclip" and val["--finetune-blocks"] == "1" and val["--cells"] == "geocells"
    assert float(val["--tau"]) == 75 and float(val["--backbone-lr"]) <= 2e-5 and val["--precision"] == "bf16"
    assert int(val["--batch-size"]) >= 1024 and "--no-gallery" not in a  # retrieval refinement stays on


def test_flop_estimate_matches_the_real_network():
    """The recipe's FLOPs per training image are what torch's FLOP counter measures on the real StreetCLIP
    architecture (meta tensors: nothing is computed or allocated)."""
    from torch.utils.flop_counter import FlopCounterMode

    from model.net.backbones import create_model

    with torch.device("meta"):
        bb = create_model("streetclip", pretrained=False)
    bb.requires_grad_(False)
    for m in bb.tail_modules(bb.num_blocks - 1):
        m.requires_grad_(True)
    x = torch.empty(2, 3, 336, 336, device="meta")
    with FlopCounterMode(display=False) as fc:
        with torch.no_grad():
            h = bb.forward_trunk(x, bb.num_blocks - 1)
        bb.forward_tail(h, bb.num_blocks - 1).sum().backward()
    measured = fc.get_total_flops() / 2
    assert measured == pytest.approx(train_flops(24, 1024, 577, 1), rel=0.01)
    assert vit_flops(24, 1024, 577) == pytest.approx(382e9, rel=0.01)  # timm lists 191 GMACs for ViT-L/14-336
    r = RECIPES["streetclip-geocells"]
    lo, hi = r.epoch_minutes("H100 SXM")
    assert 10 < lo < hi < 30 and f"{lo:.0f}-{hi:.0f} min" in describe(r)
