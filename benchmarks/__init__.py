"""Benchmarks: scripts that print figures (``python benchmarks/NAME.py``), importable for their tests."""
