"""One lock per shared model: every use of a model that several threads share (the app's cached
Predictor: predictions, evaluations, Grad-CAM, which hooks the model's target layer) holds
:func:`model_lock` of that model, so hooks and forward passes never interleave."""
from __future__ import annotations

import threading
import weakref
from typing import Any

_LOCKS: "weakref.WeakKeyDictionary[Any, threading.RLock]" = weakref.WeakKeyDictionary()
_STRONG_LOCKS: dict[int, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def model_lock(owner: Any) -> threading.RLock:
    """The re-entrant lock that serialises every use of ``owner`` (a shared model or predictor): its
    own ``lock`` attribute if it has one (``model.predict.Predictor`` does), else one made for it."""
    own = getattr(owner, "lock", None)
    if own is not None and hasattr(own, "acquire") and hasattr(own, "release"):
        return own
    with _LOCKS_GUARD:
        try:
            lock = _LOCKS.get(owner)
            if lock is None:
                lock = _LOCKS[owner] = threading.RLock()
        except TypeError:  # not weak-referenceable: keep it for the life of the process
            lock = _STRONG_LOCKS.setdefault(id(owner), threading.RLock())
        return lock
