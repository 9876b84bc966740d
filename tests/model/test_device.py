"""Devices and precision: what --device auto picks here, bf16 autocast on the CPU, fp16's GradScaler and
its clear refusal on the CPU, the workers default, and the Predictor staying on the CPU unless told."""
from __future__ import annotations

import argparse
import warnings

import numpy as np
import pytest
import torch

from model import device as dv
from model.device import Runtime, add_runtime_args, grad_scaler, resolve_device, runtime_from_args


def _args(*argv):
    ap = argparse.ArgumentParser()
    add_runtime_args(ap)
    return ap.parse_args(list(argv))


def test_auto_resolves_to_the_cpu_here_and_missing_gpus_are_named():
    assert not torch.cuda.is_available()  # this machine: the tests below check the CPU fallbacks
    assert resolve_device("auto") == torch.device("cpu")
    rt = runtime_from_args(_args())
    assert rt.device.type == "cpu" and rt.precision == "fp32" and not rt.compile
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="MPS"):
        resolve_device("mps")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_bf16_autocasts_on_the_cpu_and_fp32_is_untouched():
    lin = torch.nn.Linear(8, 4)
    x = torch.randn(3, 8)
    with Runtime(precision="bf16").autocast():
        assert lin(x).dtype == torch.bfloat16
    with Runtime().autocast():
        y = lin(x)
    assert y.dtype == torch.float32 and torch.equal(y, lin(x))
    assert Runtime(precision="bf16").tag == "-bf16" and Runtime().tag == ""  # kept apart in the feature cache
    assert not Runtime(precision="bf16").scaler().is_enabled()  # bf16 needs no loss scaling


def test_fp16_gets_a_grad_scaler_on_gpus_and_a_clear_refusal_on_the_cpu(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "CUDA is not available, disabling" on this machine
        s = grad_scaler("cuda", "fp16")
    assert isinstance(s, torch.amp.GradScaler)
    assert s.is_enabled() == torch.cuda.is_available()  # enabled on a CUDA machine, a pass-through here
    assert not grad_scaler("cpu", "fp16").is_enabled() and not grad_scaler("cuda", "fp32").is_enabled()
    with pytest.raises(ValueError, match="fp16 needs a GPU.*bf16"):
        Runtime(torch.device("cpu"), "fp16")
    from model.train import main

    with pytest.raises(SystemExit, match="^error: --precision fp16 needs a GPU"):
        main(["--device", "cpu", "--precision", "fp16", "--out", "/nonexistent/never-written"])


def test_default_workers_leave_a_core_and_share_the_node(monkeypatch):
    monkeypatch.setattr(dv, "cpu_count", lambda: 2)
    assert dv.default_workers() == 0  # 2 cores: a worker would only take a core from the compute threads
    monkeypatch.setattr(dv, "cpu_count", lambda: 16)
    assert dv.default_workers() == 8 and dv.default_workers(local_processes=8) == 0
    assert dv.default_workers(local_processes=4) == 3
    monkeypatch.setattr(dv, "cpu_count", lambda: 4)
    assert dv.default_workers() == 3
    assert runtime_from_args(_args("--workers", "2")).workers == 2
    with pytest.raises(ValueError, match="--workers"):
        runtime_from_args(_args("--workers", "-1"))


def test_predictor_stays_on_the_cpu_unless_geoloc_device_says_otherwise(monkeypatch, shared_manifest):
    from model.net.checkpoint import DEFAULT_CHECKPOINT
    from model.data.images import open_image
    from model.predict import Predictor

    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("no shipped model")
    monkeypatch.delenv(dv.ENV_DEVICE, raising=False)
    p = Predictor.load()
    assert p.device.type == "cpu" and p.runtime.precision == "fp32"
    assert all(t.device.type == "cpu" for t in p.net.state_dict().values())
    # the shipped model answers exactly as its network's own fp32 forward pass
    x = torch.stack([p.preprocess(open_image(f)) for f in shared_manifest["path"].iloc[:3]])
    with torch.inference_mode():
        ref = p.net(x.contiguous(memory_format=torch.channels_last))
    out = p.outputs(x)
    assert all(np.array_equal(out[k], ref[k].numpy()) for k in ref)
    monkeypatch.setenv(dv.ENV_DEVICE, "cuda")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        Predictor.load()
    monkeypatch.setenv(dv.ENV_DEVICE, "auto")  # auto: here the CPU
    assert Predictor.load().device.type == "cpu"
    bf = Predictor.load(device="cpu", precision="bf16")
    out_bf = bf.outputs(x)
    assert out_bf["logits"].dtype == np.float32  # answers stay float32 NumPy whatever the precision
    assert np.abs(out_bf["logits"] - ref["logits"].numpy()).max() < 0.5 * np.abs(ref["logits"].numpy()).max()


def test_compile_wraps_the_module_and_the_saved_state_is_the_plain_one():
    """``--compile`` (torch.compile is lazy: nothing compiles until the first batch; a real CPU training run
    with --compile is in docs/training.md, too slow for the suite): the compiled module shares the
    parameters, and the network's own state dict, the one checkpoints save, keeps its plain keys."""
    from model.train.inputs import Method

    net = torch.nn.Sequential(torch.nn.Linear(4, 3))
    entry = Method(net, "forward")
    comp = Runtime(compile=True).compiled(entry)
    assert comp is not entry and comp._orig_mod is entry
    assert next(comp.parameters()) is next(net.parameters())
    assert list(net.state_dict()) == ["0.weight", "0.bias"] and all("_orig_mod" in k for k in comp.state_dict())
    assert Runtime().compiled(entry) is entry


def test_the_epoch_loop_moves_images_and_row_ids_through_the_runtime(shared_manifest, monkeypatch):
    """Every host-to-device copy of a training step goes through ``Runtime.to_device`` (non-blocking on
    CUDA). The row ids went by ``torch.as_tensor(rows, device=...)``, a blocking copy: on a GPU the
    CPU waited for the previous step to finish before queueing the next, once per step."""
    from model.net.cells import build_cells
    from model.net.inference import cell_country_index
    from model.net.build import build_net
    from model.train import parse_args
    from model.train.inputs import Method, row_targets
    from model.train.loop import run_epoch

    df = shared_manifest[shared_manifest.split == "train"].head(40).reset_index(drop=True)
    args = parse_args(["--backbone", "geocnn", "--mode", "full", "--cells", "country", "--batch-size", "8",
                       "--no-country-head", "--input-size", "32"])
    cells = build_cells(df, "country")
    net = build_net(args, len(cells))
    cells_t = {"lat": torch.tensor(cells.table["lat"].to_numpy(), dtype=torch.float32),
               "lon": torch.tensor(cells.table["lon"].to_numpy(), dtype=torch.float32),
               "cidx": torch.as_tensor(cell_country_index(cells.table)[1]), "table": cells.table}

    class Inputs:
        def batches(self, idx, rng, training, epoch=1, dist=None, batch_size=8):
            for s in range(0, len(idx), batch_size):
                yield torch.randn(len(idx[s:s + batch_size]), 3, 32, 32), idx[s:s + batch_size], None

        def count(self, idx, dist=None):
            return len(idx)

        def fwd(self, net):
            return Method(net, "forward")

    moved, to_device = [], Runtime.to_device
    monkeypatch.setattr(Runtime, "to_device", lambda self, x: (moved.append(x.dim()), to_device(self, x))[1])
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    res = run_epoch(net, Inputs(), np.arange(16), row_targets(df, cells), cells_t, args, opt,
                    np.random.default_rng(0), runtime=Runtime())
    assert np.isfinite(res["loss"])
    assert sorted(moved) == [1, 1, 4, 4]  # per step: the images and the row ids
