"""Progress on stderr: one updating line on a terminal, a few plain lines in a log or CI job.

stdout stays clean for the report, so `hvlm scan --format json > report.json` still shows
progress on the terminal. Both forms say hosts done, failed and remaining, the current rate
(hosts per minute over the last minute) and an estimate of the time left; then, in the directory
phase, domains done out of the total and the domain controller in use.

Plain lines (not a terminal) come every `every` hosts (a twentieth of the fleet) or every 10 s,
whichever is first, never one per host: 2,000 hosts make about twenty lines, plus one line per
failed host (the first MAX_FAILURE_LINES of them; the snapshot and --log keep them all).
"""

from __future__ import annotations

import math
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress", "format_duration", "make_progress", "printable"]

Clock = Callable[[], float]
RATE_WINDOW = 60.0  # seconds of recent completions the rate is measured over
LINE_INTERVAL = 10.0  # plain lines: at least one every this many seconds while hosts run
LINES_PER_RUN = 20  # plain lines: about this many count lines for a whole fleet
MAX_FAILURE_LINES = 20


def printable(text: str) -> str:
    """Text from a host (its error stream, a WinRM fault) must not drive the operator's terminal:
    control characters (ESC sequences, carriage returns, line breaks) become "?"."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def format_duration(seconds: float) -> str:
    """'45 s', '12 min', '1 h 05 min': rounded up, as an estimate should be."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{math.ceil(seconds)} s"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class Progress:
    """Counts hosts as they finish and says how far the run is; subclasses decide how to show it."""

    def __init__(self, stream: TextIO, clock: Clock = time.monotonic) -> None:
        self.stream = stream
        self.clock = clock
        self.total = 0
        self.done = 0
        self.failed = 0
        self.running = 0
        self.started = clock()
        self._finished_at: deque[float] = deque()
        self.domains_total = 0
        self.domains_done = 0
        self.domain: str | None = None
        self.dc: str | None = None

    # -- hosts ---------------------------------------------------------------------------------

    def start(self, total: int) -> None:
        self.total = total
        self.started = self.clock()

    def host_started(self, name: str) -> None:
        self.running += 1

    def host_done(self, name: str, ok: bool, detail: str) -> None:
        self.running = max(0, self.running - 1)
        self.done += 1
        if not ok:
            self.failed += 1
        self._finished_at.append(self.clock())

    @property
    def remaining(self) -> int:
        return self.total - self.done

    def rate(self) -> float | None:
        """Hosts per minute over the last minute (over the run so far when it is younger); None
        before the first host finished."""
        now = self.clock()
        while self._finished_at and self._finished_at[0] <= now - RATE_WINDOW:
            self._finished_at.popleft()
        if self.done == 0:
            return None
        span = min(RATE_WINDOW, max(now - self.started, 1.0))
        return len(self._finished_at) * 60.0 / span

    def time_left(self) -> float | None:
        rate = self.rate()
        if self.remaining <= 0:
            return 0.0
        if not rate:
            return None
        return self.remaining * 60.0 / rate

    def status(self) -> str:
        """'120/2000 done, 5 failed, 1880 remaining (16 running), 42.0 hosts/min, about 45 min left'."""
        rate, left = self.rate(), self.time_left()
        speed = f"{rate:.1f} hosts/min" if rate is not None else "-- hosts/min"
        if self.remaining <= 0:
            eta = f"took {format_duration(self.clock() - self.started)}"
        elif left is None:
            eta = "time left unknown"
        else:
            eta = f"about {format_duration(left)} left"
        return (
            f"{self.done}/{self.total} done, {self.failed} failed, {self.remaining} remaining "
            f"({self.running} running), {speed}, {eta}"
        )

    # -- the directory -------------------------------------------------------------------------

    def directory_domain(self, done: int, total: int, domain: str | None, dc: str | None) -> None:
        """The directory phase: `done` of `total` domains read; `domain` is being read via `dc`."""
        self.domains_done, self.domains_total, self.domain, self.dc = done, total, domain, dc

    def directory_status(self) -> str:
        text = f"directory: {self.domains_done}/{self.domains_total} domains done"
        if self.domain:
            text += f", reading {self.domain}" + (f" via {self.dc}" if self.dc else "")
        return text

    # -- output --------------------------------------------------------------------------------

    def message(self, text: str) -> None:
        self.stream.write(f"hvlm: {printable(text)}\n")
        self.stream.flush()

    def tick(self) -> None:
        """Called a few times a second while waiting."""

    def finish(self) -> None:
        """The host phase is over (completed or interrupted)."""


class LineProgress(Progress):
    """Plain lines for a log or a CI job: a count line every `every` hosts or every 10 s, each
    failure (up to MAX_FAILURE_LINES) on its own line, and a last count line."""

    def __init__(self, stream: TextIO, clock: Clock = time.monotonic, every: int | None = None) -> None:
        super().__init__(stream, clock)
        self.every = every
        self._last_line = self.clock()
        self._last_done = 0
        self._failure_lines = 0
        self._directory_shown: tuple[int, int, str | None, str | None] | None = None

    def start(self, total: int) -> None:
        super().start(total)
        if self.every is None:
            self.every = max(1, math.ceil(total / LINES_PER_RUN))
        self._last_line = self.clock()

    def _count_line(self) -> None:
        self._last_line, self._last_done = self.clock(), self.done
        self.message(self.status())

    def host_done(self, name: str, ok: bool, detail: str) -> None:
        super().host_done(name, ok, detail)
        if not ok:
            self._failure_lines += 1
            if self._failure_lines <= MAX_FAILURE_LINES:
                self.message(f"[{self.done}/{self.total}] {name}: FAILED{' - ' + detail if detail else ''}")
            elif self._failure_lines == MAX_FAILURE_LINES + 1:
                self.message(f"more than {MAX_FAILURE_LINES} hosts failed: the rest are only counted here "
                             "(the snapshot and --log name each)")
        if self.done - self._last_done >= (self.every or 1) or self.remaining == 0:
            self._count_line()

    def tick(self) -> None:
        if self.total and self.remaining and self.clock() - self._last_line >= LINE_INTERVAL:
            self._count_line()

    def finish(self) -> None:
        if self.done != self._last_done:
            self._count_line()

    def directory_domain(self, done: int, total: int, domain: str | None, dc: str | None) -> None:
        super().directory_domain(done, total, domain, dc)
        if self._directory_shown != (done, total, domain, dc):
            self._directory_shown = (done, total, domain, dc)
            self.message(self.directory_status())


class TtyProgress(Progress):
    """A single line rewritten in place: bar, counts, rate and time left; failures stay on screen."""

    def __init__(self, stream: TextIO, clock: Clock = time.monotonic) -> None:
        super().__init__(stream, clock)
        self._last = -math.inf
        self._line = ""

    def _draw(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        width = 30
        filled = int(width * self.done / self.total) if self.total else width
        bar = "#" * filled + "-" * (width - filled)
        self._show(f"hvlm: [{bar}] {self.status()}")

    def _show(self, line: str) -> None:
        self._line = line
        self.stream.write("\r" + line + "\x1b[K")
        self.stream.flush()

    def host_started(self, name: str) -> None:
        super().host_started(name)
        self._draw()

    def host_done(self, name: str, ok: bool, detail: str) -> None:
        super().host_done(name, ok, detail)
        if not ok:
            self.stream.write(f"\r\x1b[Khvlm: {printable(name)}: FAILED - {printable(detail)}\n")
        self._draw(force=not ok or self.remaining == 0)

    def message(self, text: str) -> None:
        self.stream.write("\r\x1b[K")
        super().message(text)
        if self._line:
            self._show(self._line)

    def tick(self) -> None:
        self._draw()

    def finish(self) -> None:
        self._draw(force=True)
        self.stream.write("\n")
        self.stream.flush()
        self._line = ""

    def directory_domain(self, done: int, total: int, domain: str | None, dc: str | None) -> None:
        super().directory_domain(done, total, domain, dc)
        self._show(f"hvlm: {printable(self.directory_status())}")
        if domain is None:  # the directory phase is over: keep its last line
            self.stream.write("\n")
            self.stream.flush()
            self._line = ""


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
