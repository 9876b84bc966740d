"""Training: ``python -m model.train`` (:mod:`.command`), the epoch loop (:mod:`.loop`), its inputs
(:mod:`.inputs` cached features and targets, :mod:`.images` image batches), the loss (:mod:`.losses`),
per-image validation metrics (:mod:`.val_metrics`) and the logs people read (:mod:`.logs`)."""
from .command import main, parse_args
from .loop import fit

__all__ = ["fit", "main", "parse_args"]
