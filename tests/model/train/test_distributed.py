"""Two processes with torchrun (gloo, CPU) give the single-process result up to numerical noise."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from model.data.manifest import write_manifest
from tests.numeric import max_diff_to_scale, rel_norm_diff

pytestmark = pytest.mark.slow
from tests.shared import REPO as ROOT


def _run(cmd: list[str], out: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    (out.parent / f"{out.name}.log").write_text(r.stdout + r.stderr)
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_subset):
    d = tmp_path_factory.mktemp("ddp")
    m = tiny_subset.copy()
    m["image"] = m["path"]
    man = write_manifest(m, d / "manifest.csv")
    # frozen pretrained features + one augmented round (sharded extraction with replayed augmentation),
    # no dropout (masks are per process), global batches of 7 (36 = 5*7 + 1): uneven 3/4 slices, one empty
    args = ["--data", str(man), "--backbone", "efficientnet_lite0", "--mode", "frozen", "--aug-rounds", "1",
            "--epochs", "3", "--batch-size", "7", "--dropout", "0", "--patience", "5", "--min-cell", "3",
            "--max-cell", "6", "--no-eval", "--threads", "1"]
    _run([sys.executable, "-m", "model.train", *args, "--out", str(d / "single"), "--cache", str(d / "c1")],
         d / "single")
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
          "-m", "model.train", *args, "--out", str(d / "ddp"), "--cache", str(d / "c2")], d / "ddp")
    return d


def test_sharded_extraction_writes_the_same_cache(runs):
    # (the pooled-vector caches beside them are written when the maps come from disk: not compared)
    c1 = sorted(p.relative_to(runs / "c1") for p in (runs / "c1").rglob("*.npy") if ".pooled" not in p.name)
    c2 = sorted(p.relative_to(runs / "c2") for p in (runs / "c2").rglob("*.npy") if ".pooled" not in p.name)
    assert c1 == c2 and any("aug1" in str(p) for p in c1) and any("clean" in str(p) for p in c1)
    for p in c1:
        a, b = np.load(runs / "c1" / p), np.load(runs / "c2" / p)
        assert a.shape == b.shape and a.any()
        # float16 caches: one rounding step apart at most where the processes' sums differ in the last bit
        assert max_diff_to_scale(a.astype(np.float32), b.astype(np.float32)) < 5e-3, p


def test_two_processes_train_like_one(runs, tiny_subset):
    """Two gloo processes train the head one process trains, up to float noise, on any x86-64 CPU.

    Element-wise weight equality is not what this means: the all-reduce and the CPU's kernels sum in
    their own order, and Adam turns the sign of a near-zero gradient into a full step, so a few weights
    of a feature that is almost always 0 differ by up to lr x steps (1.7e-4 where the largest weight is
    0.042 on an AMD EPYC). Measured instead: each tensor's difference relative to its norm (noise 1.9e-5
    there; a DDP run without the gradient all-reduce gave 0.26, equal weights for the uneven 3/4 slices
    0.053, one sample skipped per rank and batch 0.23), the same answers on the validation places, and
    equal losses per epoch."""
    from model.predict import Predictor

    s = torch.load(runs / "single" / "model.pt", weights_only=True)
    p = torch.load(runs / "ddp" / "model.pt", weights_only=True)
    assert s["cells"] == p["cells"] and s["head"] == p["head"]
    assert s["head_state"].keys() == p["head_state"].keys()
    for k, v in s["head_state"].items():
        if v.is_floating_point():
            d = rel_norm_diff(v, p["head_state"][k])
            assert d < 5e-4, (k, d)
        else:
            assert torch.equal(v, p["head_state"][k]), k
    # the same answer on every validation place: cell probabilities within 1e-3, the same top cell
    val = tiny_subset[tiny_subset.split == "val"]
    ps, pp = Predictor.load(runs / "single" / "model.pt"), Predictor.load(runs / "ddp" / "model.pt")
    for _, views in val.groupby("location_id"):
        a, b = ps.predict(views["path"].tolist()), pp.predict(views["path"].tolist())
        assert np.abs(a.cell_probs - b.cell_probs).max() < 1e-3 and a.top[0].cell_id == b.top[0].cell_id
    hs = json.loads((runs / "single" / "metrics.json").read_text())["epochs"]
    hp = json.loads((runs / "ddp" / "metrics.json").read_text())["epochs"]
    assert len(hs) == len(hp) == 3
    for a, b in zip(hs, hp):
        for part in ("train", "val"):
            assert a[part]["loss"] == pytest.approx(b[part]["loss"], rel=1e-4), (a["epoch"], part)
    assert hs[-1]["train"]["loss"] < hs[0]["train"]["loss"]  # and it learned something


def test_only_rank_zero_writes(runs):
    assert sorted(x.name for x in (runs / "ddp").iterdir()) == sorted(x.name for x in (runs / "single").iterdir())
    log = (runs / "ddp.log").read_text()
    assert log.count("saved ") == 1


def test_two_processes_stream_shards_each_training_sample_once_per_epoch(tmp_path, tiny_subset, monkeypatch):
    """torchrun, 2 processes (gloo) x 1 loader worker on a shard folder: the rows the ranks trained on,
    recorded with $GEOLOC_RECORD_ROWS, are together the training split, each once, in every epoch."""
    from model.shards import read_table

    m = tiny_subset.copy()
    m["image"] = m["path"]
    man = write_manifest(m, tmp_path / "manifest.csv")
    shards = tmp_path / "shards"
    _run([sys.executable, "-m", "model.shards", "write", "--data", str(man), "--out", str(shards),
          "--shard-size", "5"], tmp_path / "write")
    out = tmp_path / "ddp"
    env_cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "model.train", "--data", str(shards), "--backbone", "geocnn", "--mode", "full",
               "--input-size", "48", "--epochs", "2", "--patience", "5", "--batch-size", "8", "--cells", "country",
               "--workers", "1", "--device", "cpu", "--no-eval", "--no-gallery", "--threads", "1", "--out", str(out)]
    monkeypatch.setenv("GEOLOC_RECORD_ROWS", "1")  # the training loop's debug hook (model/train/loop.py)
    _run(env_cmd, tmp_path / "ddp")
    table = read_table(shards)
    train = sorted(table.loc[table.split == "train", "row"].tolist())
    assert len(train) > 10
    for ep in (1, 2):
        parts = [np.load(out / "consumed_rows" / f"epoch{ep}-rank{r}.npy").tolist() for r in (0, 1)]
        assert all(parts), "both ranks trained"
        seen = parts[0] + parts[1]
        assert sorted(seen) == train and len(set(seen)) == len(seen), ep
    hist = json.loads((out / "metrics.json").read_text())["epochs"]
    assert len(hist) == 2 and all(h["train_images"] == len(train) for h in hist)
    assert (out / "model.pt").is_file() and (out / "tb").is_dir()


def _wrap_flags(rank: int, init: str, manifest: str, out: str) -> None:
    """One gloo process (world 1): train image inputs and cached inputs, record how fit asks DDP to wrap."""
    import torch.distributed as td

    from model.distributed import DistContext
    from model.data.manifest import read_manifest
    from model.train import parse_args
    from model.train.loop import fit

    td.init_process_group("gloo", init_method=init, rank=0, world_size=1)
    flags, wrap = [], DistContext.wrap

    def spy(self, entry, net=None, **kw):  # SyncBatchNorm conversion asked for unless even_batches=False
        flags.append(bool(kw.get("even_batches", True)))
        return wrap(self, entry, net, **kw)

    DistContext.wrap = spy
    try:
        ctx = DistContext(0, 1, 0, "gloo", torch.device("cpu"))
        df = read_manifest(manifest)
        common = ["--backbone", "geocnn", "--input-size", "32", "--head", "vit_mlp", "--epochs", "1", "--cells",
                  "country", "--batch-size", "8", "--device", "cpu", "--workers", "0", "--no-eval", "--no-gallery",
                  "--log-dir", "none", "--cache", ""]
        for mode in ("full", "frozen"):
            fit(df, parse_args([*common, "--mode", mode]), Path(out) / mode, dist=ctx)
        Path(out, "flags").write_text(json.dumps(flags))
    finally:
        td.destroy_process_group()


def test_image_training_keeps_batchnorm_per_process(tmp_path, tiny_subset):
    """Image inputs give ranks uneven batch counts, which DDP's join() absorbs; join() cannot shadow
    SyncBatchNorm's collectives (PyTorch's join() docs), so on GPUs a head with BatchNorm (vit_mlp) must
    not be converted for image training, or the ranks that still have batches wait forever. Cached
    training (equal global batches on every rank) keeps SyncBatchNorm."""
    m = tiny_subset.copy()
    m["image"] = m["path"]
    man = write_manifest(m, tmp_path / "manifest.csv")
    torch.multiprocessing.start_processes(_wrap_flags, nprocs=1, start_method="spawn",
                                          args=(f"file://{tmp_path / 'rdzv'}", str(man), str(tmp_path)))
    assert json.loads((tmp_path / "flags").read_text()) == [False, True]  # full: uneven; frozen: cached
