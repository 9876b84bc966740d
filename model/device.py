"""Where and how the network runs: device, numeric precision, channels-last, ``torch.compile``, workers.

One code path for the CPU and the GPUs: every command that runs the network builds a :class:`Runtime`
from ``--device auto|cpu|cuda|mps`` (auto = CUDA when available, else the CPU), ``--precision
fp32|bf16|fp16`` (``torch.autocast`` on that device; fp16 adds a ``torch.amp.GradScaler``), optional
``--compile`` and ``--workers N`` (DataLoader worker processes). With ``fp32`` (the default) autocast
and the scaler are disabled no-ops, so results are bit-for-bit those of plain fp32 code.

Checkpoints stay device-independent: tensors are saved from the CPU and loaded with
``map_location="cpu"``, then moved to the runtime's device (:meth:`Runtime.place`).
The app's device comes from ``$GEOLOC_DEVICE`` (default ``cpu``), see :func:`app_device`.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
from dataclasses import dataclass

import torch

log = logging.getLogger("model.device")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16", "fp16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
ENV_DEVICE = "GEOLOC_DEVICE"


def cpu_count() -> int:
    """CPU cores this process may use (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def default_workers(local_processes: int = 1) -> int:
    """DataLoader worker processes when ``--workers`` is not given: ``min(8, cores - 1)`` of this process's
    share of the cores (cores / processes on this node), and 0 when that share is 2 cores or fewer.

    With 2 cores a worker only takes a core from the main process's compute threads (decoding then costs
    the same CPU time plus the inter-process copies: see docs/training.md for the measured figures); from
    4 cores on, decoding in parallel keeps the device fed while one core is left to the training process.
    """
    share = cpu_count() // max(1, local_processes)
    return 0 if share <= 2 else min(8, share - 1)


def resolve_device(name: str = "auto", local_rank: int | None = None) -> torch.device:
    """``auto|cpu|cuda|mps`` (or ``cuda:N``) -> a usable ``torch.device``; ValueError with the reason otherwise.

    ``auto`` is CUDA when available, else the CPU (MPS is used only when asked for). Under torchrun
    ``local_rank`` picks this process's GPU.
    """
    name = (name or "auto").strip().lower()
    kind = name.split(":")[0]
    if kind not in DEVICES:
        raise ValueError(f"unknown device {name!r}; use one of {', '.join(DEVICES)}")
    if kind == "auto":
        kind = "cuda" if torch.cuda.is_available() else "cpu"
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda: no CUDA GPU is visible to PyTorch (torch.cuda.is_available() is False; "
                             f"this torch is {torch.__version__}); use --device cpu")
        if ":" in name:
            return torch.device(name)
        return torch.device("cuda", local_rank if local_rank is not None else torch.cuda.current_device())
    if kind == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError("--device mps: Apple's MPS backend is not available on this machine; use --device cpu")
        return torch.device("mps")
    return torch.device("cpu")


def check_precision(device: torch.device, precision: str) -> None:
    """ValueError when ``precision`` cannot run on ``device``, with what to use instead."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if precision == "fp16" and device.type == "cpu":
        raise ValueError("--precision fp16 needs a GPU (--device cuda or mps): on the CPU fp16 is slow and its "
                         "gradients underflow without the GPU's loss scaling; use --precision bf16 (or fp32)")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"--precision bf16: {torch.cuda.get_device_name(device)} has no bfloat16 support "
                         "(it needs an Ampere or newer GPU); use --precision fp16")


def grad_scaler(device_type: str, precision: str) -> torch.amp.GradScaler:
    """The loss scaler of a training run: enabled for fp16 on a GPU (CUDA, MPS), a pass-through otherwise
    (bf16 has fp32's exponent range and needs no scaling)."""
    on = precision == "fp16" and device_type in ("cuda", "mps")
    return torch.amp.GradScaler(device_type if device_type in ("cuda", "mps") else "cpu", enabled=on)


@dataclass(frozen=True)
class Runtime:
    """Device, precision and input-pipeline settings of one process.

    ``autocast()`` wraps forward passes; ``scaler()`` makes the training loop's GradScaler;
    ``to_device(x)`` moves a batch (4-D image batches in channels-last layout, asynchronously from
    pinned memory on CUDA); ``place(net)`` moves a network; ``compiled(m)`` applies ``--compile``.
    """

    device: torch.device = torch.device("cpu")
    precision: str = "fp32"
    compile: bool = False
    workers: int = 0

    def __post_init__(self):
        check_precision(self.device, self.precision)

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.precision]

    @property
    def amp(self) -> bool:
        """True when forward passes run in reduced precision (bf16/fp16 autocast)."""
        return self.precision != "fp32"

    @property
    def pin_memory(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self):
        """``torch.autocast`` on this device in the run's precision; a no-op for fp32."""
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def scaler(self) -> torch.amp.GradScaler:
        return grad_scaler(self.device.type, self.precision)

    def to_device(self, x: torch.Tensor) -> torch.Tensor:
        """A batch on this device; image batches ``(B, 3, H, W)`` channels-last (faster convolutions)."""
        if x.dim() == 4:
            return x.to(self.device, non_blocking=self.pin_memory, memory_format=torch.channels_last)
        return x.to(self.device, non_blocking=self.pin_memory)

    def place(self, net: torch.nn.Module) -> torch.nn.Module:
        """Move ``net`` to this device, channels-last (its 4-D weights)."""
        return net.to(self.device, memory_format=torch.channels_last)

    def compiled(self, module: torch.nn.Module) -> torch.nn.Module:
        """``torch.compile(module)`` with ``--compile``, else ``module``. Keep the original for saving:
        the compiled wrapper's state-dict keys carry an ``_orig_mod.`` prefix."""
        if not self.compile:
            return module
        log.info("compiling %s with torch.compile (the first batches are slow)", type(module).__name__)
        return torch.compile(module)

    @property
    def tag(self) -> str:
        """Part of feature-cache names: features computed in reduced precision are kept apart."""
        return "" if self.precision == "fp32" else f"-{self.precision}"

    def describe(self) -> str:
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else self.device.type
        return f"{self.device} ({name}), {self.precision}, {self.workers} loader workers" + \
            (", torch.compile" if self.compile else "")


CPU = Runtime()


def add_runtime_args(ap: argparse.ArgumentParser, workers: bool = True, compile_: bool = True,
                     device_default: str | None = "auto") -> None:
    """``--device``, ``--precision``, ``--compile`` and ``--workers`` on a command's parser
    (``device_default`` None: the Predictor's default, ``$GEOLOC_DEVICE`` or the CPU)."""
    ap.add_argument("--device", default=device_default,
                    help="auto (CUDA when available, else CPU), cpu, cuda, cuda:N or mps" +
                         (f" (default: ${ENV_DEVICE}, else cpu)" if device_default is None else ""))
    ap.add_argument("--precision", default="fp32", choices=PRECISIONS,
                    help="fp32, or autocast in bf16 (CPU or Ampere+ GPU) / fp16 (GPU, with loss scaling)")
    if compile_:
        ap.add_argument("--compile", action="store_true", help="torch.compile the network (GPU runs; slow start)")
    if workers:
        ap.add_argument("--workers", type=int, default=None,
                        help=f"DataLoader worker processes decoding images (default: min(8, cores - 1), 0 with "
                             f"2 cores or fewer; here {default_workers()})")


def runtime_from_args(args, local_rank: int | None = None, local_processes: int = 1) -> Runtime:
    """The :class:`Runtime` of parsed ``args`` (attributes missing from older callers take defaults)."""
    dev = resolve_device(getattr(args, "device", "auto"), local_rank)
    w = getattr(args, "workers", None)
    if w is None:
        w = default_workers(local_processes)
    if w < 0:
        raise ValueError(f"--workers must be 0 or more, got {w}")
    return Runtime(dev, getattr(args, "precision", "fp32"), bool(getattr(args, "compile", False)), int(w))


def runtime_for(args, dist=None) -> Runtime:
    """:func:`runtime_from_args`, or under torchrun (``dist``, a :class:`model.distributed.DistContext`)
    this process's device with the node's cores shared among its processes."""
    if dist is None:
        return runtime_from_args(args)
    w = getattr(args, "workers", None)
    w = default_workers(dist.local_world) if w is None else int(w)
    return Runtime(dist.device, getattr(args, "precision", "fp32"), bool(getattr(args, "compile", False)), w)


def app_device() -> torch.device:
    """The app's and the Predictor's default device: ``$GEOLOC_DEVICE`` (auto|cpu|cuda|mps), else the CPU."""
    return resolve_device(os.environ.get(ENV_DEVICE, "cpu") or "cpu")
