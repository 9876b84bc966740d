"""ShardStream: every kept row exactly once per epoch over ranks x workers; shuffles per epoch; same pixels."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from model.data.images import open_image
from model.shards import ShardStream, open_sample, read_table
from model.data.transforms import crop_bottom, eval_transform


def _ids():
    return lambda img: torch.zeros(1)  # the row ids are what these tests look at


def _epoch_rows(loaders) -> list[list[int]]:
    return [[int(r) for _, rows in dl for r in rows] for dl in loaders]


def test_two_ranks_two_workers_see_every_train_row_once_per_epoch(shard_dir):
    tab = read_table(shard_dir)
    train = tab["row"][tab["split"] == "train"].to_numpy()
    streams = [ShardStream(shard_dir, rows=train, transform=_ids(), shuffle=16, seed=7, rank=r, world=2)
               for r in range(2)]
    loaders = [DataLoader(s, batch_size=4, num_workers=2, persistent_workers=True) for s in streams]
    orders = []
    for epoch in range(3):
        for s in streams:
            s.set_epoch(epoch)
        per_rank = _epoch_rows(loaders)
        seen = per_rank[0] + per_rank[1]
        assert Counter(seen) == Counter(train.tolist()), f"epoch {epoch}: not every train row exactly once"
        assert [len(x) for x in per_rank] == streams[0].samples_per_rank() == [len(s) for s in streams]
        assert not set(per_rank[0]) & set(per_rank[1])
        orders.append(seen)
    assert orders[0] != orders[1] != orders[2]  # reshuffled each epoch, also in persistent workers
    again = ShardStream(shard_dir, rows=train, transform=_ids(), shuffle=16, seed=7, rank=0, world=2)
    again.set_epoch(1)
    assert _epoch_rows([DataLoader(again, batch_size=4, num_workers=2)])[0] == orders[1][:len(again)]  # seeded


def test_without_shuffle_rows_come_in_file_order(shard_dir):
    tab = read_table(shard_dir)
    keep = tab["row"][tab["split"] != "train"].to_numpy()
    ds = ShardStream(shard_dir, rows=keep, transform=_ids())
    assert [r for _, r in ds] == sorted(keep.tolist())
    assert len(ds) == len(keep)
    # a single process with 2 workers and no shuffle still covers every row once
    rows = _epoch_rows([DataLoader(ShardStream(shard_dir, transform=_ids()), batch_size=5, num_workers=2)])[0]
    assert sorted(rows) == list(range(len(tab)))


def test_stream_pixels_equal_open_sample_and_the_original(manifest, shard_dir):
    tab = read_table(shard_dir)
    tf = eval_transform(64, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    ds = ShardStream(shard_dir, rows=np.array([3, 17, 40]), transform=tf, crop=0.1)
    got = dict((r, x) for x, r in ds)
    assert sorted(got) == [3, 17, 40]
    src = read_table(shard_dir)["image"]
    for r, x in got.items():
        assert x.shape == (3, 64, 64)
        assert torch.equal(x, tf(crop_bottom(open_sample(tab["path"][r]), 0.1)))
        assert torch.equal(x, tf(crop_bottom(open_image(src[r]), 0.1)))  # the original JPEG file
    raw = next(iter(ShardStream(shard_dir, rows=np.array([5]))))[0]
    assert raw.dtype == torch.uint8
    assert np.array_equal(raw.permute(1, 2, 0).numpy(), np.asarray(open_sample(tab["path"][5])))


def test_rank_and_arguments_are_checked(shard_dir):
    with pytest.raises(ValueError, match="both rank and world"):
        ShardStream(shard_dir, rank=0)
    with pytest.raises(ValueError, match="not in 0..world-1"):
        ShardStream(shard_dir, rank=2, world=2)
    with pytest.raises(ValueError, match="row ids must be in 0..41"):
        ShardStream(shard_dir, rows=np.array([0, 42]))
    assert ShardStream(shard_dir).rank == 0 and ShardStream(shard_dir).world == 1  # no torch.distributed here


def _ddp_rank(rank: int, world: int, init: str, folder: str, rows: list, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        ds = ShardStream(folder, rows=np.array(rows), transform=_zero, shuffle=8, seed=1)  # rank from torch.distributed
        ds.set_epoch(1)
        got = [int(r) for _, rr in DataLoader(ds, batch_size=4, num_workers=2) for r in rr]
        with open(f"{out}.{rank}", "w") as f:
            f.write(f"{ds.rank} {ds.world} " + " ".join(map(str, got)))
    finally:
        dist.destroy_process_group()


def _zero(img):
    return torch.zeros(1)


def test_rank_and_world_come_from_torch_distributed(shard_dir, tmp_path):
    tab = read_table(shard_dir)
    train = tab["row"][tab["split"] == "train"].tolist()
    out = str(tmp_path / "rows")
    torch.multiprocessing.start_processes(_ddp_rank, nprocs=2, start_method="fork",
                                          args=(2, f"file://{tmp_path / 'rdzv'}", str(shard_dir), train, out))
    seen = []
    for rank in range(2):
        r, w, *rows = open(f"{out}.{rank}").read().split()
        assert (int(r), int(w)) == (rank, 2)
        seen += [int(x) for x in rows]
    assert Counter(seen) == Counter(train)
