"""Bounded concurrency with a hard deadline per job, and a clean stop on Ctrl-C.

A blocking HTTP request cannot be cancelled from outside, so a job past its deadline is
abandoned instead: its result is recorded as timed out at once, a fresh worker takes its slot,
and the old thread (a daemon) ends on its own when its socket times out and its late result is
dropped. A hung host therefore costs its deadline, and never holds up the rest or the exit.

Callbacks run on the calling thread only, so progress output needs no locking.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["Job", "Outcome", "RunResult", "run_jobs"]

T = TypeVar("T")
_TICK = 0.25


@dataclass(frozen=True)
class Job(Generic[T]):
    name: str
    deadline: float
    work: Callable[[], T]


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What became of one job: exactly one of value, error, timed_out, interrupted."""

    name: str
    elapsed: float
    value: T | None = None
    error: BaseException | None = None
    timed_out: bool = False
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out and not self.interrupted


@dataclass
class RunResult(Generic[T]):
    outcomes: dict[str, Outcome[T]] = field(default_factory=dict)
    interrupted: bool = False


@dataclass
class _Running:
    job: Job[Any]
    started: float
    token: object


def run_jobs(
    jobs: Sequence[Job[T]],
    concurrency: int,
    *,
    on_start: Callable[[str], None] | None = None,
    on_done: Callable[[Outcome[T]], None] | None = None,
    on_tick: Callable[[], None] | None = None,
) -> RunResult[T]:
    """Run every job, at most `concurrency` at a time; Ctrl-C marks the unfinished interrupted."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    cond = threading.Condition()
    queue: deque[Job[T]] = deque(jobs)
    running: dict[str, _Running] = {}
    finished: deque[Outcome[T]] = deque()
    started_names: deque[str] = deque()
    result: RunResult[T] = RunResult()
    stop = False
    # Workers wait until all of the first ones exist: a thread's start() waits for the new thread to
    # run, and with the earlier workers busy connecting (CPU, under the GIL) starting 64 of them
    # took up to a second, the last hosts of the first wave starting that late.
    everyone_started = threading.Event()

    def worker() -> None:
        everyone_started.wait()
        while True:
            with cond:
                if stop or not queue:
                    return
                job = queue.popleft()
                token = object()
                began = time.monotonic()
                running[job.name] = _Running(job, began, token)
                started_names.append(job.name)
                cond.notify_all()
            try:
                outcome: Outcome[T] = Outcome(job.name, 0.0, value=job.work())
            except Exception as exc:
                outcome = Outcome(job.name, 0.0, error=exc)
            with cond:
                slot = running.get(job.name)
                if slot is None or slot.token is not token:
                    return  # abandoned past its deadline (or interrupted): a replacement has this slot
                del running[job.name]
                finished.append(
                    Outcome(job.name, time.monotonic() - began, outcome.value, outcome.error)
                )
                cond.notify_all()

    def spawn() -> None:
        threading.Thread(target=worker, name="hvlm-collect", daemon=True).start()

    def expire(now: float) -> None:
        """Under the lock: abandon every job past its deadline and give its slot to a new worker."""
        for name, slot in list(running.items()):
            if now - slot.started >= slot.job.deadline:
                del running[name]
                finished.append(Outcome(name, now - slot.started, timed_out=True))
                if queue:
                    spawn()

    ready: deque[Outcome[T]] = deque()
    for _ in range(min(concurrency, len(jobs))):
        spawn()
    everyone_started.set()
    try:
        while len(result.outcomes) < len(jobs):
            with cond:
                expire(time.monotonic())
                if not started_names and not finished:
                    now = time.monotonic()
                    waits = [slot.started + slot.job.deadline - now for slot in running.values()]
                    cond.wait(timeout=max(0.01, min([_TICK, *waits])))
                    expire(time.monotonic())
                starts = list(started_names)
                started_names.clear()
                ready.extend(finished)
                finished.clear()
            # Callbacks run outside the lock, so workers never wait on progress output.
            for name in starts:
                if on_start:
                    on_start(name)
            while ready:
                outcome = ready.popleft()
                result.outcomes[outcome.name] = outcome
                if on_done:
                    on_done(outcome)
            if on_tick:
                on_tick()
    except KeyboardInterrupt:
        with cond:
            stop = True
            now = time.monotonic()
            ready.extend(finished)
            finished.clear()
            for outcome in ready:
                result.outcomes.setdefault(outcome.name, outcome)
            for name, slot in list(running.items()):
                result.outcomes[name] = Outcome(name, now - slot.started, interrupted=True)
            running.clear()
            for job in queue:
                result.outcomes[job.name] = Outcome(job.name, 0.0, interrupted=True)
            queue.clear()
        result.interrupted = True
    return result
