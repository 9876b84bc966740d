"""The Street View API key: given, from a key file, or from the environment (never echoed)."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import MissingKeyError

KEY_ENV_VARS = ("GOOGLE_MAPS_API_KEY", "GSV_API_KEY", "GOOGLE_API_KEY")


# -------------------------------------------------------------------------------------- API key
def get_api_key(key: str | None = None, *, key_file: str | os.PathLike | None = None,
                env_vars: tuple[str, ...] = KEY_ENV_VARS) -> str:
    """The API key: ``key`` if given, else the first line of ``key_file``, else the first set env var.

    Raises :class:`MissingKeyError` naming where it looked (never echoing file content).
    """
    if key and key.strip():
        return key.strip()
    if key_file:
        p = Path(key_file).expanduser()
        if not p.is_file():
            raise MissingKeyError(f"API key file not found: {p}")
        lines = [ln.strip() for ln in p.read_text(encoding="utf-8", errors="replace").splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith("#")]
        if not lines:
            raise MissingKeyError(f"API key file is empty: {p}")
        return lines[0]
    for name in env_vars:
        v = os.environ.get(name, "").strip()
        if v:
            return v
    raise MissingKeyError("No Street View API key: set " + " or ".join(env_vars)
                          + ", or pass a key file (--key-file PATH, first line = the key).")
