"""The training configuration: one typed, frozen object, built once from the command line
(:func:`model.train.parse_args`), a recipe (:mod:`model.recipes` gives its command-line arguments) or a
checkpoint (:meth:`TrainConfig.from_checkpoint`), saved as the run's ``config.json`` and passed down to
the network builder, the loop and the inputs instead of an argparse namespace.

Units: learning rates per step, ``tau`` in km, ``crop`` a fraction of the image height (0..0.5),
``time_limit`` in minutes, sizes in pixels or locations as named.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.data.features import DEFAULT_CACHE


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run (the fields are ``python -m model.train``'s options)."""

    # data and output
    data: str | None = None  # manifest CSV or shard folder; None = the default data (model.data.manifest)
    out: str = "runs/latest"
    max_locations: int = 0  # a random subset of locations (0 = all)
    train_on_val: bool = False  # fold val into training, exactly `epochs` epochs
    kfold: int = 0  # grouped K-fold over train+val (0 = off)
    cache: str = str(DEFAULT_CACHE)  # feature cache folder ('' = in memory)
    no_cache: bool = False  # finetune: run the frozen trunk on the fly
    # network
    backbone: str = "efficientnet_lite2"
    backbone_config: dict | None = None  # architecture overrides (random weights only)
    no_pretrained: bool = False
    input_size: int = 0  # px (0 = the backbone's own)
    mode: str = "finetune"  # frozen | finetune | full
    finetune_blocks: int = 5
    head: str = "mlp"
    hidden: int = 512
    dropout: float = 0.3
    regression: str = "offset"
    country_head: bool = True
    # targets
    cells: str = "geocells"
    min_cell: int = 8
    max_cell: int = 40
    grid_res: int = 2
    tau: float = 300.0
    reg_weight: float = 1.0
    country_weight: float = 1.0
    # inputs
    aug_rounds: int = 2
    crop: float = 0.0
    # optimisation
    optimizer: str = "adamw"
    lr: float = 1e-3
    backbone_lr: float = 2e-4
    weight_decay: float = 1e-2
    epochs: int = 15
    batch_size: int = 64
    patience: int = 3
    scheduler: str = "plateau"  # plateau | cosine | none
    time_limit: float = 0.0
    seed: int = 0
    # after training
    no_eval: bool = False
    gallery: bool = True
    gallery_settings: dict | None = None
    # logs and runtime
    log_dir: str | None = None
    threads: int = 0
    device: str = "auto"
    precision: str = "fp32"
    compile: bool = False
    workers: int | None = None
    extra: dict = field(default_factory=dict, compare=False)  # keys of a saved config this version does not know

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.name != "extra"]

    @classmethod
    def from_namespace(cls, ns: Any) -> "TrainConfig":
        """From an argparse namespace of ``model.train``'s parser (every option is a field)."""
        d = vars(ns)
        unknown = set(d) - set(cls.field_names())
        if unknown:
            raise TypeError(f"options without a TrainConfig field: {sorted(unknown)}")
        return cls(**d)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """From a saved ``config.json`` / a checkpoint's ``config``; keys it does not know (``pretrained``,
        ``train_seconds``, ``runtime``, ...) are kept in ``extra``."""
        names = set(cls.field_names())
        return cls(**{k: v for k, v in d.items() if k in names},
                   extra={k: v for k, v in d.items() if k not in names})

    @classmethod
    def from_checkpoint(cls, ck: dict) -> "TrainConfig":
        """The configuration a checkpoint (``torch.load`` dict) was trained with."""
        return cls.from_dict(dict(ck.get("config", {})))

    @property
    def pretrained(self) -> bool:
        return not self.no_pretrained

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain JSON values: every field, then ``extra``, with ``pretrained`` spelt out."""
        d = {k: getattr(self, k) for k in self.field_names()}
        return {**d, "pretrained": self.pretrained,
                **{k: v for k, v in self.extra.items() if k not in d and k != "pretrained"}}

    def save(self, path: str | Path) -> Path:
        """Write ``config.json`` (or ``path``) atomically."""
        from model.net.checkpoint import write_json

        p = Path(path)
        write_json(p, self.to_dict())
        return p

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))
