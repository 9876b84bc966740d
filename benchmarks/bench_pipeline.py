"""Input-pipeline and training-step throughput (figures, not a test):

    python benchmarks/bench_pipeline.py [--data MANIFEST] [--n 256] [--backbone efficientnet_lite2]
                                        [--workers 2] [--batch-size 32] [--steps 4] [--device auto]

Prints images/s of
- the input pipeline: decode + the training augmentations at the backbone's input size, batches
  collated by the DataLoader (:mod:`model.data.loader`), from a folder (0 and ``--workers`` worker
  processes) and from shards (``--workers``; the shards are written to a temporary folder first,
  not timed);
- one ``--mode full`` training step of the backbone (forward, loss, backward, optimiser step through
  :func:`model.train.loop.run_epoch`) on a batch already in memory, in fp32 and in bf16 autocast
  (plus fp16 on a GPU).

The pipeline keeps a device busy when its images/s exceed the step's. Images are the manifest's
training images (the first ``--n`` of a seeded shuffle).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


from model.net.backbones import create_model  # noqa: E402
from model.net.cells import build_cells  # noqa: E402
from model.device import Runtime, cpu_count, resolve_device  # noqa: E402
from model.data.loader import EpochSampler, ImageRows, Loader, stream, transform_for  # noqa: E402
from model.data.manifest import read_manifest, write_manifest  # noqa: E402
from model.net.build import build_net
from model.train import parse_args  # noqa: E402
from model.train.inputs import Method, row_targets  # noqa: E402
from model.train.loop import run_epoch  # noqa: E402


def pipeline_rate(loader: Loader, n: int, epoch: int = 1) -> float:
    """Images/s of one pass over ``loader`` (workers started before the clock)."""
    loader.set_epoch(epoch)
    it = iter(loader)
    first = next(it)[0]  # worker start-up and the first batch are not timed
    t0, seen = time.perf_counter(), 0
    for x, _ in it:
        seen += len(x)
    dt = time.perf_counter() - t0
    del first
    return seen / dt if dt > 0 else float("nan")


class Preloaded:
    """Training inputs that serve one decoded batch ``steps`` times (the epoch loop's input protocol)."""

    pool = False

    def __init__(self, x: torch.Tensor, rows: np.ndarray, steps: int):
        self.x, self.rows, self.steps = x, rows, steps

    def batches(self, idx, rng, training, epoch=1, dist=None, batch_size=64):
        for _ in range(self.steps):
            yield self.x, self.rows, None

    def count(self, idx, dist=None) -> int:
        return self.steps * len(self.rows)

    def fwd(self, net):
        return Method(net, "forward")


def step_rate(df, backbone: str, x: torch.Tensor, rows: np.ndarray, precision: str, device, steps: int) -> float:
    """Images/s of ``--mode full`` training steps (after one warm-up step)."""
    args = parse_args(["--backbone", backbone, "--mode", "full", "--cells", "country", "--batch-size", str(len(x)),
                       "--no-country-head"])
    cells = build_cells(df[df.split == "train"], "country")
    torch.manual_seed(0)
    net = build_net(args, len(cells))
    rt = Runtime(device, precision)
    rt.place(net)
    tg = {k: v.to(device) for k, v in row_targets(df, cells).items()}
    from model.net.inference import cell_country_index

    cells_t = {"lat": torch.tensor(cells.table["lat"].to_numpy(), dtype=torch.float32, device=device),
               "lon": torch.tensor(cells.table["lon"].to_numpy(), dtype=torch.float32, device=device),
               "cidx": torch.as_tensor(cell_country_index(cells.table)[1], device=device), "table": cells.table}
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    kw = dict(opt=opt, rng=np.random.default_rng(0), runtime=rt, scaler=rt.scaler())
    run_epoch(net, Preloaded(x, rows, 1), rows, tg, cells_t, args, **kw)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    run_epoch(net, Preloaded(x, rows, steps), rows, tg, cells_t, args, **kw)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * len(x) / (time.perf_counter() - t0)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="manifest (default: the shared data)")
    ap.add_argument("--n", type=int, default=256, help="images per pipeline pass")
    ap.add_argument("--backbone", default="efficientnet_lite2")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--step-batch", type=int, default=16, help="batch of the timed training steps")
    ap.add_argument("--steps", type=int, default=4, help="timed training steps per precision")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)
    dev = resolve_device(args.device)
    df = read_manifest(args.data)
    sub = df[df.split == "train"].sample(args.n, random_state=0).reset_index(drop=True)
    bb = create_model(args.backbone, pretrained=False)
    tf = transform_for(bb, train=True)
    res = {"device": str(dev), "cores": cpu_count(), "threads": torch.get_num_threads(), "backbone": args.backbone,
           "input_size": bb.input_size, "images": len(sub), "load_avg_1min": os.getloadavg()[0]}
    paths = sub["path"].tolist()
    for w in (0, args.workers):
        ds = ImageRows(paths, tf, seed=0, per_epoch=True)
        loader = Loader(ds, args.batch_size, Runtime(dev, workers=w), EpochSampler(len(ds), True, 0))
        res[f"folder_{w}_workers"] = pipeline_rate(loader, len(ds))
    with tempfile.TemporaryDirectory() as d:
        from model.shards import read_table, write_manifest_shards

        man = write_manifest(sub.assign(image=sub["path"]), Path(d) / "manifest.csv")
        write_manifest_shards(man, Path(d) / "shards", shard_size=max(8, args.n // 16))
        rows = read_table(Path(d) / "shards")["row"].to_numpy()
        loader = Loader(stream(Path(d) / "shards", rows, tf, shuffle=256, seed=0), args.batch_size,
                        Runtime(dev, workers=args.workers))
        res[f"shards_{args.workers}_workers"] = pipeline_rate(loader, len(rows))
    xb, rows = next(iter(Loader(ImageRows(paths[: args.step_batch], tf, seed=0, per_epoch=True), args.step_batch,
                                Runtime(dev))))
    precisions = ["fp32", "bf16"] + (["fp16"] if dev.type == "cuda" else [])
    for prec in precisions:
        res[f"full_step_{prec}"] = step_rate(sub, args.backbone, xb, rows.numpy(), prec, dev, args.steps)
    print(f"{args.backbone} at {bb.input_size} px on {dev} ({res['cores']} cores, load average "
          f"{res['load_avg_1min']:.1f}), {len(sub)} training images, batches of {args.batch_size}:")
    print(f"  input pipeline, folder, 0 workers:   {res['folder_0_workers']:7.1f} images/s")
    print(f"  input pipeline, folder, {args.workers} workers:   {res[f'folder_{args.workers}_workers']:7.1f} images/s")
    print(f"  input pipeline, shards, {args.workers} workers:   {res[f'shards_{args.workers}_workers']:7.1f} images/s")
    for prec in precisions:
        print(f"  --mode full training step, {prec}: {res[f'full_step_{prec}']:7.1f} images/s "
              f"(batch {args.step_batch})")
    return res


if __name__ == "__main__":
    main()
