"""Preprocessing from the model's own config: the transforms it gives (short side + centre crop or
squash, bicubic or bilinear, crop_pct), today's defaults unchanged, and what checkpoints restore."""
from __future__ import annotations

import pandas as pd
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2 as T

from conftest import fake_streetclip
from model.net.backbones import create_model
from model.net.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, save_checkpoint
from model.net.cells import build_cells
from model.net.heads import build_head
from model.net.network import GeoNet
from model.data.transforms import eval_transform, for_backbone, train_transform

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


@pytest.fixture(scope="module")
def photo(few_images) -> Image.Image:
    m = pd.read_csv(few_images)
    return Image.open(m["image"].iloc[0]).convert("RGB")


def test_defaults_are_todays_transforms(photo):
    old_eval = T.Compose([T.ToImage(), T.Resize(64, antialias=True), T.CenterCrop(64),
                          T.ToDtype(torch.float32, scale=True), T.Normalize(MEAN, STD)])
    assert torch.equal(eval_transform(64, MEAN, STD)(photo), old_eval(photo))
    old_train = T.Compose([T.ToImage(), T.RandomResizedCrop(64, scale=(0.45, 1.0), ratio=(0.8, 1.25), antialias=True),
                           T.RandomApply([T.ColorJitter(0.3, 0.3, 0.25, 0.03)], p=0.8), T.RandomGrayscale(p=0.1),
                           T.RandomPerspective(distortion_scale=0.15, p=0.3), T.RandomRotation(degrees=5),
                           T.ToDtype(torch.float32, scale=True), T.Normalize(MEAN, STD)])
    torch.manual_seed(3)
    new = train_transform(64, MEAN, STD)(photo)
    torch.manual_seed(3)
    assert torch.equal(new, old_train(photo))  # same draws, same pixels (cached augmentations stay valid)


def test_shortest_side_with_crop_pct_and_bicubic(photo):
    """DINOv2's processor at 160 px: short side 182 (= floor(160 / 0.875), as timm), centre 160, bicubic
    (the shared photos are 256 x 256)."""
    ref = T.Compose([T.ToImage(), T.Resize(182, interpolation=T.InterpolationMode.BICUBIC, antialias=True),
                     T.CenterCrop(160), T.ToDtype(torch.float32, scale=True), T.Normalize(MEAN, STD)])
    got = eval_transform(160, MEAN, STD, interpolation="bicubic", crop_pct=0.875)(photo)
    assert got.shape == (3, 160, 160) and torch.equal(got, ref(photo))
    assert not torch.equal(got, eval_transform(160, MEAN, STD, crop_pct=0.875)(photo))  # bilinear differs
    assert not torch.equal(got, eval_transform(160, MEAN, STD, interpolation="bicubic")(photo))  # crop_pct 1 differs


def test_squash_keeps_the_whole_picture():
    """A 300 x 100 picture, red | green | blue thirds: the centre crop sees only green, the squash all three."""
    img = Image.new("RGB", (300, 100), (0, 255, 0))
    img.paste((255, 0, 0), (0, 0, 100, 100))
    img.paste((0, 0, 255), (200, 0, 300, 100))
    zero = ((0, 0, 0), (1, 1, 1))
    crop = eval_transform(30, *zero)(img)
    squash = eval_transform(30, *zero, resize="squash")(img)
    assert crop[1].mean() > 0.95 and crop[0].mean() < 0.05 and crop[2].mean() < 0.05  # green (blended edges)
    assert squash[0, :, :5].mean() > 0.9 and squash[2, :, -5:].mean() > 0.9 and squash[1, :, 12:18].mean() > 0.9
    torch.manual_seed(0)
    aug = train_transform(30, *zero, resize="squash")(img)  # training keeps the squash: some red or blue survives
    assert aug.shape == (3, 30, 30)
    with pytest.raises(ValueError, match="resize"):
        eval_transform(30, *zero, resize="letterbox")


def test_for_backbone_reads_the_backbones_preprocessing(photo):
    sig = create_model("siglip_vitb16_224", pretrained=False, config=dict(hidden_size=32, num_hidden_layers=1,
                                                                          num_attention_heads=2, image_size=32))
    assert (sig.resize, sig.interpolation, sig.mean) == ("squash", "bicubic", (0.5, 0.5, 0.5))
    want = eval_transform(32, sig.mean, sig.std, resize="squash", interpolation="bicubic")(photo)
    assert torch.equal(for_backbone(sig)(photo), want)
    assert for_backbone(sig, train=True)(photo).shape == (3, 32, 32)

    class Plain(torch.nn.Module):  # a backbone without the new attributes: today's behaviour
        input_size, mean, std = 48, MEAN, STD

    assert torch.equal(for_backbone(Plain())(photo), eval_transform(48, MEAN, STD)(photo))


def _checkpoint(tmp_path, bb, few_images):
    df = pd.read_csv(few_images)
    df["path"] = df["image"]
    cells = build_cells(df[df.split == "train"], "country")
    net = GeoNet(bb, build_head("mlp", bb.feature_dim, len(cells), 16, 0.0, "offset"), bb.num_blocks - 1)
    cfg = {"mode": "frozen", "crop": 0.0, "hidden": 16, "dropout": 0.0, "regression": "offset", "pretrained": True}
    return save_checkpoint(tmp_path / "m.pt", net, cells, cfg)


def test_checkpoint_restores_the_preprocessing_and_old_ones_keep_todays(tmp_path, hf_cache, few_images, photo):
    fake_streetclip(hf_cache)
    bb = create_model("streetclip")  # the processor config says: 40 px short side, 32 px centre, bicubic
    path = _checkpoint(tmp_path, bb, few_images)
    ck = torch.load(path, weights_only=True)
    assert {k: ck["preprocess"][k] for k in ("input_size", "resize", "interpolation", "crop_pct")} == \
        {"input_size": 32, "resize": "shortest", "interpolation": "bicubic", "crop_pct": 0.8}
    net, _, _ = load_checkpoint(path)
    assert (net.backbone.interpolation, net.backbone.crop_pct) == ("bicubic", 0.8)
    for k in ("resize", "interpolation", "crop_pct"):  # a checkpoint written before these fields existed
        del ck["preprocess"][k]
    for k in ("backbone_config", "backbone_full"):
        del ck[k]
    torch.save(ck, tmp_path / "old.pt")
    old, _, _ = load_checkpoint(tmp_path / "old.pt")
    assert (old.backbone.resize, old.backbone.interpolation, old.backbone.crop_pct) == ("shortest", "bilinear", 1.0)
    assert torch.equal(for_backbone(old.backbone)(photo), eval_transform(32, old.backbone.mean, old.backbone.std)(photo))


def test_the_shipped_checkpoint_keeps_its_preprocessing():
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("no shipped checkpoint")
    net, _, ck = load_checkpoint(DEFAULT_CHECKPOINT)
    bb = net.backbone
    assert (bb.input_size, bb.resize, bb.interpolation, bb.crop_pct) == (ck["preprocess"]["input_size"], "shortest",
                                                                         "bilinear", 1.0)
