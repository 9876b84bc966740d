"""Evaluation: metrics on arrays (:mod:`.metrics`). ``python -m model.evaluate`` is the command."""
