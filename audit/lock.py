"""One run at a time: an advisory lock (fcntl.flock) that scheduled `audit`, `scan` and `history`
runs take before they read or write anything, so two runs never overlap or write history at once.

The lock is held by the open file, so the kernel drops it when the process ends, however it ends:
a crashed or killed run never leaves a stale lock behind. The file records who holds it (pid, host,
start time) for the message the second run prints; its contents are never trusted for the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from hvlm.audit.errors import UsageError
from hvlm.audit.snapshot import now_iso

__all__ = ["EXIT_LOCKED", "LOCK_NAME", "LockBusy", "check_held", "hold"]

EXIT_LOCKED = 75  # EX_TEMPFAIL (sysexits.h): another run holds the lock; try again later
LOCK_NAME = ".hvlm.lock"  # the lock a history folder holds for the runs that use it


class LockBusy(Exception):
    """Another process holds the lock; the message says which, when it is known."""

    def __init__(self, path: str, holder: str) -> None:
        self.path = path
        self.holder = holder
        who = f" ({holder})" if holder else ""
        super().__init__(f"another hvlm run holds the lock {path}{who}; this run did nothing "
                         f"(exit code {EXIT_LOCKED})")


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:200]


@contextlib.contextmanager
def hold(path: str | Path) -> Iterator[None]:
    """Take the lock at `path` without waiting, or raise LockBusy; an unusable path is a UsageError."""
    name = str(path)
    try:
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise UsageError(f"cannot open the lock file {name}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockBusy(name, _holder(fd)) from None
        except OSError as exc:
            raise UsageError(f"cannot lock {name}: {exc.strerror or exc}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, since {now_iso()}\n".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the file releases the lock


def check_held(path: str | Path) -> None:
    """For a run whose caller holds the lock (--lock-held): the lock at `path` must be held by
    someone, or this run would go unprotected; a UsageError if nobody holds it. Only tried, never
    kept: an flock is per open file, so this process taking it again would wait on its own caller."""
    name = str(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise UsageError(f"--lock-held, but nobody holds the lock {name} (the file does not exist): take it "
                         f"first (flock {name} hvlm ...) or leave --lock-held out") from None
    except OSError as exc:
        raise UsageError(f"cannot open the lock file {name}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # held, as it should be
        except OSError as exc:
            raise UsageError(f"cannot lock {name}: {exc.strerror or exc}") from None
        raise UsageError(f"--lock-held, but nobody holds the lock {name}: take it first (flock {name} hvlm ...) "
                         "or leave --lock-held out")
    finally:
        os.close(fd)  # releases it if this process got it
