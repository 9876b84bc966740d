"""One writer per output folder: an exclusive lock that a killed process cannot leave behind.

``hold(folder)`` takes ``folder/.collect.lock`` with ``fcntl.flock`` (the kernel drops the lock when the
process ends, however it ends: Ctrl-C, ``kill -9``, a crash), and writes into it who holds it (pid, host,
start time, command) so that a second writer can say which run is busy there. A lock file left by a
killed run therefore never blocks the next one; a normal exit deletes it.

Where ``flock`` is missing or not supported by the file system (Windows, some network mounts), the
lock falls back to the information file alone: it is taken over when the pid it names is no longer
running on this host, and refused otherwise (a run on another host cannot be checked: the message
says which file to delete once it is over).

The lock is re-entrant within one process (the command line holds it around a library call that
holds it again); it does not exclude two threads of one process.
"""
from __future__ import annotations

import errno
import json
import os
import shlex
import socket
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".collect.lock"
COMMAND: str | None = None        # set by the command line: what a busy message shows
_held: dict[str, list] = {}      # real path of the lock file -> [fd or None, depth]
_guard = threading.Lock()


class FolderBusy(RuntimeError):
    """Another run is writing the folder; the message names it."""


def current_command() -> str:
    """This process's command line, as a user would type it (``python -m model.collect ...``)."""
    argv = list(sys.argv)
    if argv and argv[0].replace("\\", "/").endswith("model/collect/__main__.py"):
        argv = ["python", "-m", "model.collect", *argv[1:]]
    else:
        argv = [Path(sys.executable).name, *argv]
    from .streetview import redact  # key=/signature= values never reach the lock file

    return redact(shlex.join(argv))


def _redacted(text: str | None) -> str | None:
    from .streetview import redact

    return redact(text) if text else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, belongs to someone else
        return True
    except OSError:
        return False
    return True


def _info(command: str | None) -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "started": datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": _redacted(command or COMMAND) or current_command()}


def _read(path: Path, tries: int = 20) -> dict:
    """The holder's information; waits briefly while a new holder is still writing it (or while the
    file still names a dead process that a new holder is about to replace)."""
    info: dict = {}
    for _ in range(tries):
        try:
            info = json.loads(path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            info = {}
        fresh = info.get("pid") and not (info.get("host") == socket.gethostname()
                                         and not _pid_alive(int(info["pid"])))
        if fresh:
            break
        time.sleep(0.05)
    return info


def busy_message(folder: Path, info: dict, lock: Path) -> str:
    who = (f"pid {info.get('pid', '?')} on host {info.get('host', '?')}, started {info.get('started', '?')}, "
           f"command: {info.get('command', '?')}")
    return (f"{folder} is being written by another run ({who}). Only one run may write a folder: wait for it "
            f"to finish or stop it (Ctrl-C, or kill {info.get('pid', 'PID')}), then run your command again "
            f"(it resumes); or choose another --out. A killed run's lock is released automatically"
            + ("." if fcntl is not None else f"; if that run is over, delete {lock}."))


def _acquire(path: Path, folder: Path, command: str | None) -> int | None:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is None:
                raise OSError(errno.ENOSYS, "no flock")
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderBusy(busy_message(folder, _read(path), path)) from None
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise
            return _acquire_without_flock(path, folder, command)
        try:  # a holder that was releasing may have deleted the file we opened: lock the current one
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        data = json.dumps(_info(command)).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        return fd


def _acquire_without_flock(path: Path, folder: Path, command: str | None) -> None:
    info = _read(path, tries=1)
    if info.get("pid") and int(info["pid"]) != os.getpid() and (
            info.get("host") != socket.gethostname() or _pid_alive(int(info["pid"]))):
        raise FolderBusy(busy_message(folder, info, path))
    path.write_text(json.dumps(_info(command)), encoding="utf-8")
    return None


@contextmanager
def hold(folder: str | os.PathLike, command: str | None = None) -> Iterator[Path]:
    """Hold the folder's lock for the ``with`` block (creating the folder; folders this call created are
    removed again if they are still empty at the end). Raises :class:`FolderBusy` naming the holder."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"--out {folder} is a file, not a folder")
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    key = os.path.realpath(path)
    with _guard:
        if key in _held:
            _held[key][1] += 1
        else:
            try:
                _held[key] = [_acquire(path, folder, command), 1]
            except BaseException:
                _remove_if_empty(folder, created)
                raise
    try:
        yield folder
    finally:
        with _guard:
            entry = _held[key]
            entry[1] -= 1
            if entry[1] == 0:
                del _held[key]
                try:
                    os.unlink(path)  # still holding the lock: nobody can take a file we delete
                except OSError:
                    pass
                if entry[0] is not None:
                    os.close(entry[0])
                _remove_if_empty(folder, created)


def _remove_if_empty(folder: Path, created: list[Path]) -> None:
    for p in created:  # deepest first; stops at the first that is not empty
        try:
            p.rmdir()
        except OSError:
            return
