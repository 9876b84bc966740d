"""What a Predict session holds that is large, kept outside ``st.session_state`` (no Streamlit import here).

The decoded views of the photo being answered, their prepared versions, the shortcut test's pictures and
the upload kept while another photo source is open live in one process-wide :class:`SessionStores`, per
session, each under a byte budget (:data:`SESSION_BUDGET`: the oldest entries go first; a page that misses
an entry decodes again from the upload). A session's entries are dropped as soon as its browser tab is gone
(:meth:`SessionStores.prune`, run by a janitor thread every :data:`PRUNE_EVERY_S` s against Streamlit's list
of connected sessions), and once it has been gone :data:`EXPIRED_AFTER_S` the janitor closes the Streamlit
session itself (``on_expired``): Streamlit keeps a closed tab's session, with its uploaded files and widget
values, for ``server.disconnectedSessionTTL`` (2 minutes) in case it reconnects, and frees it only when a
later session disconnects, so memory was never given back on a quiet server. After dropping, freed memory
is handed back to the operating system (:func:`release_memory`: ``gc.collect`` and glibc's ``malloc_trim``).
"""
from __future__ import annotations

import ctypes
import gc
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

SESSION_BUDGET = 160 * 2**20  # bytes of pixels and file bytes one session may keep here
PRUNE_EVERY_S = 1.0  # s: a pass costs microseconds (a dict walk and malloc_trim)
EXPIRED_AFTER_S = 30.0  # s: a tab gone this long is taken as closed (a reconnect after that gets a fresh page)


def nbytes(value: Any) -> int:
    """Approximate bytes held by ``value``: PIL images (pixels), bytes, objects with ``nbytes``, and lists,
    tuples and dicts of those."""
    if value is None:
        return 0
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if hasattr(value, "getbands") and hasattr(value, "size"):  # a PIL image
        w, h = value.size
        return w * h * len(value.getbands())
    n = getattr(value, "nbytes", None)
    if isinstance(n, int):
        return n
    if isinstance(value, dict):
        return sum(nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(nbytes(v) for v in value)
    return 0


class SessionStore:
    """One session's large values: ``name -> (key, value, nbytes)``, newest last, under ``budget`` bytes.
    ``key`` says what the value was made from (an input's id): :meth:`get` with another key misses."""

    def __init__(self, budget: int = SESSION_BUDGET):
        self.budget = int(budget)
        self._items: OrderedDict[str, tuple[str, Any, int]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, name: str, key: str) -> Any:
        with self.lock:
            got = self._items.get(name)
            if got is None or got[0] != key:
                return None
            self._items.move_to_end(name)
            return got[1]

    def put(self, name: str, key: str, value: Any) -> Any:
        """Keep ``value`` under ``name`` (replacing what was there), then drop the oldest others until the
        session is within its budget (the newest value is kept even when it alone is larger). Returns it."""
        with self.lock:
            self._items.pop(name, None)
            self._items[name] = (key, value, nbytes(value))
            while self.held > self.budget and len(self._items) > 1:
                self._items.popitem(last=False)
        return value

    def pop(self, name: str) -> None:
        with self.lock:
            self._items.pop(name, None)

    @property
    def held(self) -> int:
        """Bytes held (the sum of the values' :func:`nbytes`)."""
        return sum(n for _k, _v, n in self._items.values())

    def names(self) -> list[str]:
        return list(self._items)


class SessionStores:
    """Every session's :class:`SessionStore`, by session id."""

    def __init__(self, budget: int = SESSION_BUDGET):
        self.budget = budget
        self._stores: dict[str, SessionStore] = {}
        self._gone_since: dict[str, float] = {}
        self.lock = threading.Lock()

    def of(self, session_id: str) -> SessionStore:
        with self.lock:
            s = self._stores.get(session_id)
            if s is None:
                s = self._stores[session_id] = SessionStore(self.budget)
            self._gone_since.pop(session_id, None)
            return s

    def sessions(self) -> list[str]:
        with self.lock:
            return list(self._stores) + [s for s in self._gone_since if s not in self._stores]

    @property
    def held(self) -> int:
        with self.lock:
            return sum(s.held for s in self._stores.values())

    def prune(self, is_active: Callable[[str], bool], on_expired: Callable[[str], None] | None = None,
              now: float | None = None) -> int:
        """Drop the stores of sessions for which ``is_active(id)`` is False; once one has been gone
        :data:`EXPIRED_AFTER_S`, call ``on_expired(id)`` (Streamlit's own leftovers: its uploaded files).
        Returns how many stores were dropped; memory is released when any was."""
        now = time.monotonic() if now is None else now
        dropped = 0
        with self.lock:
            for sid in list(self._stores):
                if not is_active(sid):
                    del self._stores[sid]
                    self._gone_since.setdefault(sid, now)
                    dropped += 1
            expired = [sid for sid, t in self._gone_since.items() if now - t >= EXPIRED_AFTER_S and not is_active(sid)]
            for sid in expired:
                del self._gone_since[sid]
        for sid in expired:
            if on_expired is not None:
                try:
                    on_expired(sid)
                except Exception:  # noqa: BLE001 - cleanup is best effort
                    pass
        if dropped or expired:
            release_memory()
        else:
            trim()  # what the last uploads and answers freed (decoding, Grad-CAM) goes back too
        return dropped


def trim() -> None:
    """Hand freed heap memory back to the OS (glibc ``malloc_trim``, a few ms; elsewhere a no-op). Large
    buffers are freed into malloc's arenas, which otherwise keep their pages resident."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
MMAP_THRESHOLD = 4 * 2**20  # bytes: larger blocks are mapped on their own and unmapped when freed


def tune_malloc(threshold: int = MMAP_THRESHOLD) -> bool:
    """Make glibc serve blocks of ``threshold`` bytes and more (uploads, decoded photos, their copies) by their
    own memory maps, returned to the OS the moment they are freed. By default glibc raises that threshold
    after each such free, up to 32 MB, and later large blocks then come from the heap, whose pages stay
    resident. Process-wide; False where it is not glibc."""
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, int(threshold)))
    except (OSError, AttributeError):
        return False


def release_memory() -> None:
    """Collect garbage (what dropped values kept in cycles), then :func:`trim`."""
    gc.collect()
    trim()


STORES = SessionStores()
_janitor: threading.Thread | None = None
_janitor_lock = threading.Lock()


def start_janitor(is_active: Callable[[str], bool], on_expired: Callable[[str], None] | None = None,
                  every_s: float = PRUNE_EVERY_S, stores: SessionStores = STORES) -> bool:
    """Start (once per process) the daemon thread that prunes ``stores`` every ``every_s`` seconds, after
    :func:`tune_malloc`. Returns True when this call started it."""
    global _janitor
    with _janitor_lock:
        if _janitor is not None and _janitor.is_alive():
            return False

        def loop() -> None:
            while True:
                time.sleep(every_s)
                try:
                    stores.prune(is_active, on_expired)
                except Exception:  # noqa: BLE001 - the janitor never dies of one bad pass
                    pass

        tune_malloc()
        _janitor = threading.Thread(target=loop, name="geoloc-predict-janitor", daemon=True)
        _janitor.start()
        return True
