"""One lab DC per loopback address per machine, even across concurrent pytest sessions.

Several engineers (or a developer and CI) may run the suite on one machine at once; two DCs on
127.0.0.2 would fight over the ports and fail in confusing ways. Whoever starts a DC on an address
holds an exclusive ``flock`` on ``$HVLM_SAMBA_LOCKS/<ip>.lock`` (default /tmp/hvlm-samba-locks)
until it stops it; others wait for it. The lock file records the DC's pid and start time, so a DC
left behind by a killed session is recognised (pid *and* start time match) and stopped by the
next one. The lock itself dies with its process, so it is never stale.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import IO

from ._proc import LabError, pid_alive, terminate_tree


def process_start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (with the pid, identifies one process)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


class AddressLock:
    """Exclusive use of one loopback address by one lab DC."""

    def __init__(self, ip: str) -> None:
        folder = Path(os.environ.get("HVLM_SAMBA_LOCKS", "/tmp/hvlm-samba-locks"))
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{ip}.lock"
        self.ip = ip
        self._fh: IO[str] | None = None

    def acquire(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for the address, then stop any DC a dead session left on it."""
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    owner = self._read(fh)
                    fh.close()
                    raise LabError(
                        f"{self.ip} is in use by another lab DC (owner {owner}) for more than "
                        f"{timeout:.0f} s; set HVLM_SAMBA_LOCK_TIMEOUT to wait longer"
                    ) from None
                time.sleep(0.5)
        self._fh = fh
        self._stop_leftover(self._read(fh))

    def record(self, info: dict[str, object]) -> None:
        """Note who runs on the address now (pid, start time, lab folder)."""
        if self._fh is None:
            raise LabError("address lock not held")
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(json.dumps(info))
        self._fh.flush()

    def release(self) -> None:
        if self._fh is not None:
            self._fh.seek(0)
            self._fh.truncate()
            self._fh.close()
            self._fh = None

    @property
    def held(self) -> bool:
        return self._fh is not None

    @staticmethod
    def _read(fh: IO[str]) -> dict[str, object]:
        fh.seek(0)
        try:
            data = json.loads(fh.read() or "{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _stop_leftover(owner: dict[str, object]) -> None:
        pid, started = owner.get("pid"), owner.get("start_time")
        if isinstance(pid, int) and pid_alive(pid) and process_start_time(pid) == started:
            terminate_tree(pid, 15.0)
