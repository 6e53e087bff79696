"""Progress on stderr: one updating line on a terminal, plain lines in a log or CI job.

stdout stays clean for the report, so `hvlm scan --format json > report.json` still shows
progress on the terminal.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress", "make_progress", "printable"]


def printable(text: str) -> str:
    """Text from a host (its error stream, a WinRM fault) must not drive the operator's terminal:
    control characters (ESC sequences, carriage returns, line breaks) become "?"."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


class Progress:
    """Counts hosts as they finish; subclasses decide how to show it."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.total = 0
        self.done = 0
        self.failed = 0
        self.running = 0

    def start(self, total: int) -> None:
        self.total = total

    def host_started(self, name: str) -> None:
        self.running += 1

    def host_done(self, name: str, ok: bool, detail: str) -> None:
        self.running = max(0, self.running - 1)
        self.done += 1
        if not ok:
            self.failed += 1

    def message(self, text: str) -> None:
        self.stream.write(f"hvlm: {printable(text)}\n")
        self.stream.flush()

    def tick(self) -> None:
        """Called a few times a second while waiting."""

    def finish(self) -> None:
        """The collection is over (completed or interrupted)."""

    @property
    def remaining(self) -> int:
        return self.total - self.done


class LineProgress(Progress):
    """One line per finished host: what a log file or a CI job wants."""

    def host_done(self, name: str, ok: bool, detail: str) -> None:
        super().host_done(name, ok, detail)
        status = "ok" if ok else "FAILED"
        self.message(f"[{self.done}/{self.total}] {name}: {status}{' - ' + detail if detail else ''}")


class TtyProgress(Progress):
    """A single line rewritten in place: done, failed, remaining; failures stay on screen."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._last = 0.0
        self._started = time.monotonic()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        width = 30
        filled = int(width * self.done / self.total) if self.total else width
        bar = "#" * filled + "-" * (width - filled)
        line = (
            f"hvlm: [{bar}] {self.done}/{self.total} done, {self.failed} failed, "
            f"{self.remaining} remaining ({self.running} running, {now - self._started:.0f} s)"
        )
        self.stream.write("\r" + line + "\x1b[K")
        self.stream.flush()

    def host_started(self, name: str) -> None:
        super().host_started(name)
        self._draw()

    def host_done(self, name: str, ok: bool, detail: str) -> None:
        super().host_done(name, ok, detail)
        if not ok:
            self.stream.write(f"\r\x1b[Khvlm: {printable(name)}: FAILED - {printable(detail)}\n")
        self._draw(force=not ok)

    def message(self, text: str) -> None:
        self.stream.write("\r\x1b[K")
        super().message(text)

    def tick(self) -> None:
        self._draw()

    def finish(self) -> None:
        self._draw(force=True)
        self.stream.write("\n")
        self.stream.flush()


class QuietProgress(Progress):
    def message(self, text: str) -> None:
        """Quiet: nothing but the warnings printed elsewhere."""


def make_progress(stream: TextIO | None = None, quiet: bool = False) -> Progress:
    out = stream or sys.stderr
    if quiet:
        return QuietProgress(out)
    isatty = getattr(out, "isatty", None)
    if isatty and isatty():
        return TtyProgress(out)
    return LineProgress(out)
