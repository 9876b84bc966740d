"""Shared pieces of the command-line tools: which errors are the user's, and argparse value checks."""
from __future__ import annotations

import argparse

# What a tool reports as "error: <message>" (exit status 2) instead of a traceback: bad manifests and images
# (ManifestError and ImageLoadError are ValueErrors), unusable checkpoints, missing files or folders.
USER_ERRORS = (ValueError, OSError)


def at_least(lo: float, kind=float):
    """argparse type: a number (``kind``) of at least ``lo``."""
    def check(text: str):
        v = kind(text)
        if not v >= lo:  # also refuses NaN
            raise argparse.ArgumentTypeError(f"must be at least {lo:g}, got {text}")
        return v
    return check


positive_int = at_least(1, int)  # argparse type: an integer of at least 1


def positive(text: str) -> float:
    """argparse type: a number above 0."""
    v = float(text)
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return v
