"""The DataLoader input pipeline: same features as the sequential loop it replaced, deterministic
augmentations whatever the worker count, bad images skipped and named once."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from model.net.backbones import create_model
from model.device import CPU, Runtime
from model.data.features import extract
from model.data.images import ImageLoadError, open_image
from model.data.loader import EpochSampler, ImageRows, Loader, path_loader, sample_seed, seeded
from model.data.transforms import crop_bottom, eval_transform, train_transform
from tests.numeric import max_diff_to_scale

START_BLOCK = 4  # a few blocks of EfficientNet-Lite0 at 96 px: fast, and a real pretrained trunk


def reference_extract(bb, paths, start_block, crop, variant="clean", seed=0, batch_size=32):
    """The extraction loop before the DataLoader (images decoded one by one in this process), kept as the
    reference. Augmented copies draw per image from ``sample_seed`` as the pipeline does now (the old loop
    drew them from one sequential stream seeded with ``seed + k``, which depended on the row order)."""
    aug = variant != "clean"
    tf = (train_transform if aug else eval_transform)(bb.input_size, bb.mean, bb.std)
    out, ok = None, np.zeros(len(paths), bool)
    for s in range(0, len(paths), batch_size):
        xs, idx = [], []
        for i in range(s, min(s + batch_size, len(paths))):
            try:
                img = crop_bottom(open_image(paths[i]), crop)
            except ImageLoadError:
                continue
            xs.append(seeded(tf, img, sample_seed(seed, int(variant[3:]), i)) if aug else tf(img))
            idx.append(i)
        with torch.inference_mode():
            x = torch.stack(xs).contiguous(memory_format=torch.channels_last)
            y = bb(x) if start_block == 0 else bb.forward_trunk(x, start_block)
        y = y.float().contiguous().numpy().astype(np.float16)
        if out is None:
            out = np.zeros((len(paths),) + y.shape[1:], np.float16)
        out[idx] = y
        ok[idx] = True
    return out, ok


@pytest.fixture(scope="module")
def setup(shared_manifest, tmp_path_factory):
    d = tmp_path_factory.mktemp("loader")
    bad = d / "truncated.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    paths = shared_manifest.sample(30, random_state=3)["path"].tolist()
    paths.insert(7, str(bad))
    bb = create_model("efficientnet_lite0").eval()
    bb.input_size = 96
    return bb, paths, bad


@pytest.mark.parametrize("workers", [0, 2])
def test_clean_features_equal_the_sequential_loop(setup, workers, caplog, tmp_path):
    bb, paths, _ = setup
    bad = tmp_path / "truncated.jpg"  # a bad image is named once per process: a new one for this test
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    paths = paths[:7] + [str(bad)] + paths[8:]
    ref, ref_ok = reference_extract(bb, paths, START_BLOCK, 0.1)
    with caplog.at_level(logging.WARNING):
        out, ok = extract(bb, paths, start_block=START_BLOCK, crop=0.1, cache_root=None, batch_size=8,
                          runtime=Runtime(workers=workers))
    assert ok.tolist() == ref_ok.tolist() and not ok[7] and ok.sum() == 30
    assert out.shape == ref.shape and out.shape[0] == 31 and out.ndim == 4
    # batches of 8 vs 32: the same maths; whether a CPU's convolution kernels sum in the same order for
    # both batch sizes depends on the CPU, so the bound is relative to the features' scale (float16: 1e-3)
    assert max_diff_to_scale(ref, out) < 2e-3
    named = [r.getMessage() for r in caplog.records if str(bad) in r.getMessage()]
    assert len(named) == 1 and named[0].startswith(f"skipping bad image: {bad}: ")


def test_augmented_copies_do_not_depend_on_workers_or_batches(setup):
    bb, paths, _ = setup
    paths = paths[:16]  # the augmentations are the slow part
    kw = dict(start_block=START_BLOCK, crop=0.0, variant="aug1", seed=5, cache_root=None)
    a0, ok0 = extract(bb, paths, batch_size=32, runtime=Runtime(workers=0), **kw)
    a2, ok2 = extract(bb, paths, batch_size=5, runtime=Runtime(workers=2), **kw)
    ref, _ = reference_extract(bb, paths, START_BLOCK, 0.0, "aug1", seed=5)
    # the same draws whatever the workers and batches (the batch size may change the kernels' sum order)
    assert max_diff_to_scale(ref, a0) < 2e-3 and max_diff_to_scale(a0, a2) < 2e-3
    clean, _ = extract(bb, paths, start_block=START_BLOCK, cache_root=None, runtime=CPU)
    other, _ = extract(bb, paths, batch_size=32, runtime=CPU, **{**kw, "variant": "aug2"})
    assert not np.allclose(a0[ok0], clean[ok0]) and not np.allclose(a0[ok0], other[ok0])
    # a data-parallel shard of the rows gets the same augmentation as the full run
    part, pok = extract(bb, paths, rows=(9, 14), batch_size=4, runtime=CPU, **kw)
    assert max_diff_to_scale(a0[9:14], part[9:14]) < 2e-3
    assert not pok[:9].any() and pok[9:14].all()


def test_training_draws_are_fresh_per_epoch_and_skip_bad_images(setup, caplog, tmp_path):
    _, paths, _ = setup
    bad = tmp_path / "truncated.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    paths = paths[:7] + [str(bad)] + paths[8:]
    tf = train_transform(64, (0.5,) * 3, (0.5,) * 3)
    ds = ImageRows(paths, tf, rows=np.arange(12), seed=1, per_epoch=True)
    sampler = EpochSampler(len(ds), shuffle=True, seed=1)
    loader = Loader(ds, 4, Runtime(workers=2), sampler)
    got = {}
    with caplog.at_level(logging.WARNING):
        for ep in (0, 1, 1):
            loader.set_epoch(ep)
            rows, xs = [], []
            for x, r in loader:
                assert x.shape[1:] == (3, 64, 64) and x.dtype == torch.float32
                rows += r.tolist()
                xs.append(x)
            got.setdefault(ep, []).append((rows, torch.cat(xs)))
    assert sorted(got[0][0][0]) == [i for i in range(12) if i != 7]  # every row once, the bad one dropped
    assert got[0][0][0] != got[1][0][0]  # reshuffled per epoch
    assert got[1][0][0] == got[1][1][0] and torch.equal(got[1][0][1], got[1][1][1])  # same epoch, same draws
    named = [r for r in caplog.records if str(bad) in r.getMessage()]
    assert len(named) == 1  # reported once, though met in three epochs
    # under torchrun each rank takes its share of the same order: together every row once
    parts = [list(EpochSampler(11, True, 4, rank=r, world=3)) for r in range(3)]
    assert sorted(i for p in parts for i, _ in p) == list(range(11)) and {len(p) for p in parts} == {3, 4}


def test_path_loader_yields_positions(setup):
    _, paths, _ = setup
    loader = path_loader(paths, eval_transform(32, (0.5,) * 3, (0.5,) * 3), 8, CPU, rows=np.array([3, 9, 7, 1]))
    seen = [int(r) for _, rows in loader for r in rows]
    assert seen == [3, 9, 1]


def _zero(img):
    return torch.zeros(1)


def _path_loader_in_group(rank: int, world: int, init: str, folder: str, out: str) -> None:
    import torch.distributed as dist

    from model.shards import read_table

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        paths = read_table(folder)["path"].tolist()
        got = [int(i) for _, idx in path_loader(paths, _zero, 4) for i in idx]
        with open(f"{out}.{rank}", "w") as f:
            f.write(" ".join(map(str, got)))
    finally:
        dist.destroy_process_group()


def test_path_loader_on_shards_reads_every_row_inside_a_process_group(shared_manifest, tmp_path):
    """Under torchrun the caller of path_loader has chosen its rows (a rank's slice of a sharded
    extraction; rank 0 evaluating the test split after training): the shard stream must not split them
    again by the process group's rank (it did: each rank got about half, the rest silently not ok)."""
    from model.data.manifest import write_manifest
    from model.shards import write_manifest_shards

    m = shared_manifest.sample(13, random_state=5).copy()
    m["image"] = m["path"]
    folder = tmp_path / "shards"
    write_manifest_shards(write_manifest(m, tmp_path / "m.csv"), folder, shard_size=3, progress=False)
    out = str(tmp_path / "rows")
    torch.multiprocessing.start_processes(_path_loader_in_group, nprocs=2, start_method="fork",
                                          args=(2, f"file://{tmp_path / 'rdzv'}", str(folder), out))
    for rank in range(2):
        assert sorted(int(x) for x in open(f"{out}.{rank}").read().split()) == list(range(13)), rank


def test_seeded_touches_only_the_cpu_generator(monkeypatch):
    """Per-sample seeding must not reseed the GPUs' generators (torch.manual_seed does: on CUDA with
    --workers 0 the training process's dropout stream was reset by every augmented image)."""
    calls = []
    for mod in (torch.cuda, torch.mps, torch.xpu):
        fn = "manual_seed" if mod is torch.mps else "manual_seed_all"
        monkeypatch.setattr(mod, fn, lambda seed, _m=mod.__name__: calls.append(_m))
    tf = train_transform(32, (0.5,) * 3, (0.5,) * 3)
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8))
    before = torch.random.get_rng_state()
    a, b = seeded(tf, img, 1234), seeded(tf, img, 1234)
    assert torch.equal(a, b) and torch.equal(torch.random.get_rng_state(), before)
    torch.default_generator.manual_seed(1234)
    assert torch.equal(a, tf(img))  # the same draws as before (caches of augmented copies stay valid)
    assert calls == []
