"""Shared pieces of the command-line tools: which errors are the user's, and argparse value checks."""
from __future__ import annotations

import argparse

# What a tool reports as "error: <message>" (exit status 2) instead of a traceback: bad manifests and images
# (ManifestError and ImageLoadError are ValueErrors), unusable checkpoints, missing files or folders.
USER_ERRORS = (ValueError, OSError)


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return v
