"""Run a command on a real pseudo-terminal and read what it wrote there."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
from pathlib import Path


def run_on_terminal(cmd: list[str], *, env: dict[str, str], cwd: Path, size: tuple[int, int] | None = None,
                    stdout_to_terminal: bool = True, timeout: float = 60) -> tuple[int, str]:
    """(exit code, the terminal's text with CRLF as LF). stderr always goes to the terminal; stdout too
    unless `stdout_to_terminal` is false (then it is discarded). `size` is (rows, columns), if set."""
    master, slave = pty.openpty()
    if size is not None:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=slave if stdout_to_terminal else subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = proc.wait(timeout=timeout)
    finally:
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")  # the terminal's ONLCR
