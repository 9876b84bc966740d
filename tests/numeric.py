"""Float comparisons that hold on any x86-64 CPU: differences measured against the values' own scale.

Two computations that are the same maths (another batch size, worker count, process count or thread
count) may sum in another order, and which order a CPU's kernels take depends on the CPU (AVX2 or
AVX-512 blocking, oneDNN's choices). Element-wise ``assert_array_equal`` or a fixed ``atol`` then holds
on one machine and not on the next; a bound relative to the scale of the reference holds on all.
"""
from __future__ import annotations

import numpy as np
import torch


def rel_norm_diff(ref, got) -> float:
    """``||got - ref|| / ||ref||`` over all elements (0 for equal arrays; float64 arithmetic)."""
    a = np.asarray(ref.detach().cpu() if isinstance(ref, torch.Tensor) else ref, np.float64)
    b = np.asarray(got.detach().cpu() if isinstance(got, torch.Tensor) else got, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), 1e-12))


def max_diff_to_scale(ref, got) -> float:
    """``max |got - ref| / max |ref|``: the largest element-wise difference relative to the largest value."""
    a = np.asarray(ref.detach().cpu() if isinstance(ref, torch.Tensor) else ref, np.float64)
    b = np.asarray(got.detach().cpu() if isinstance(got, torch.Tensor) else got, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max(initial=0.0) / max(np.abs(a).max(initial=0.0), 1e-12))
