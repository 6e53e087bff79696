"""Process helpers for the Samba lab: run tools without a shell, wait for ports, stop process trees.

Every command is an argument list (never ``shell=True``). Error messages carry the command and the
tail of its output, with the lab's passwords replaced by ``***`` so nothing secret reaches a log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence


class LabError(RuntimeError):
    """The lab could not do what was asked; the message says what failed and why."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret in ``text`` by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def tail(text: str, lines: int = 25) -> str:
    """The last ``lines`` lines of ``text`` (tool output can be long; the end says what failed)."""
    return "\n".join(text.strip().splitlines()[-lines:])


def run(
    args: Sequence[str],
    *,
    secrets: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
    timeout: float = 300.0,
) -> subprocess.CompletedProcess[str]:
    """Run a tool and return its result; raise :class:`LabError` (redacted) if it fails."""
    secret_list = list(secrets)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(
            list(args),
            input=input_text,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise LabError(f"{args[0]} is not installed ({exc}); run .ci/install-samba.sh as root first") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(redact(f"{' '.join(args)} did not finish in {timeout:.0f} s", secret_list)) from exc
    if proc.returncode != 0:
        output = tail(proc.stderr + "\n" + proc.stdout)
        raise LabError(redact(f"{' '.join(args)} failed with exit code {proc.returncode}:\n{output}", secret_list))
    return proc


def port_open(ip: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP connect to ``ip:port`` succeeds."""
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def descendants(pid: int) -> list[int]:
    """All live descendants of ``pid`` (smbd and winbindd run in their own sessions, so a process
    group kill would miss them)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def wait_gone(pids: Sequence[int], timeout: float, popen: subprocess.Popen[bytes] | None = None) -> bool:
    """Wait until none of ``pids`` is alive (reaping ``popen`` if given); True if they all went."""
    deadline = time.monotonic() + timeout
    while True:
        if popen is not None:
            popen.poll()
        if not any(pid_alive(p) for p in pids):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def terminate_tree(pid: int, timeout: float, popen: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM ``pid`` (samba then stops its own children), wait; SIGKILL the whole tree if needed."""
    tree = [pid, *descendants(pid)]
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_gone(tree, timeout, popen):
        return
    for p in [pid, *descendants(pid), *tree]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    if not wait_gone(tree, 10.0, popen):
        raise LabError(f"processes {tree} survived SIGKILL")
