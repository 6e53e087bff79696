"""The run lock between real processes: a second run exits 75 with one line and touches nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from hvlm.audit.lock import EXIT_LOCKED, LOCK_NAME
from tests.compliance.procs import HVLM, env, run_hvlm
from tests.compliance.test_history import entries

HOLDER = """
import sys, time
from hvlm.audit.lock import hold
with hold(sys.argv[1]):
    print("held", flush=True)
    time.sleep(600)
"""


def hold_in_another_process(lock: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock)], env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "held\n", proc.stderr and proc.stderr.read()
    return proc


def test_a_second_run_exits_75_and_keeps_nothing_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    h = tmp_path / "hist"
    h.mkdir()
    first = run_hvlm("audit", "--example", "--history", str(h), "-o", os.devnull)
    assert first.returncode == 1, first.stderr
    before = {n: (h / n).read_bytes() for n in entries(h)}
    holder = hold_in_another_process(h / LOCK_NAME)
    try:
        out = tmp_path / "second.json"
        second = run_hvlm("audit", "--example", "--history", str(h), "--format", "json", "-o", str(out))
        assert second.returncode == EXIT_LOCKED
        lines = second.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"hvlm: another hvlm run holds the lock {h / LOCK_NAME} "
                                                        f"(pid {holder.pid} on ")
        assert lines[0].endswith(f"; this run did nothing (exit code {EXIT_LOCKED})")
        assert not out.exists() and {n: (h / n).read_bytes() for n in entries(h)} == before
        # pruning takes the same lock
        pruned = run_hvlm("history", str(h), "--prune-keep", "1")
        assert pruned.returncode == EXIT_LOCKED and len(pruned.stderr.splitlines()) == 1
        # an explicit --lock FILE works the same way, for runs without history
        other = run_hvlm("audit", "--example", "--lock", str(h / LOCK_NAME), "-o", os.devnull)
        assert other.returncode == EXIT_LOCKED
    finally:
        holder.send_signal(signal.SIGKILL)  # killed, not released: the kernel drops the lock with the process
        holder.wait()
    third = run_hvlm("audit", "--example", "--history", str(h), "-o", os.devnull)
    assert third.returncode == 1, third.stderr
    assert len(entries(h)) == 2 and all((h / n).read_bytes() == b for n, b in before.items())


def test_runs_started_together_never_overlap_or_corrupt_the_history(tmp_path: Path) -> None:
    h = tmp_path / "hist"
    h.mkdir()
    procs = [subprocess.Popen([*HVLM, "audit", "--example", "--history", str(h), "-o", os.devnull], env=env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
    codes = [c for c, _ in results]
    assert set(codes) <= {1, EXIT_LOCKED} and codes.count(1) >= 1, results
    kept = entries(h)
    assert len(kept) == codes.count(1)
    for name in kept:
        assert json.loads((h / name).read_text("utf-8"))["report_version"] == 2
    assert sorted(p.name for p in h.iterdir()) == sorted([*kept, LOCK_NAME])  # no temporary file left
    for code, err in results:
        if code == EXIT_LOCKED:
            assert len(err.splitlines()) == 1 and "holds the lock" in err


def test_the_lock_is_free_again_after_a_run_or_a_killed_holder(tmp_path: Path) -> None:
    lock = tmp_path / "scan.lock"
    for _ in range(2):
        run = run_hvlm("audit", "--example", "--lock", str(lock), "-o", os.devnull)
        assert run.returncode == 1, run.stderr
    assert lock.read_text() == ""  # the holder line is cleared on release
    holder = hold_in_another_process(lock)
    assert lock.read_text().startswith(f"pid {holder.pid} on ")
    holder.terminate()  # ended without releasing: the line stays, the lock does not
    holder.wait()
    run = run_hvlm("audit", "--example", "--lock", str(lock), "-o", os.devnull)
    assert run.returncode == 1, run.stderr


def test_lock_held_runs_under_the_callers_lock_and_refuses_to_run_unlocked(tmp_path: Path) -> None:
    """--lock-held (hvlm-scheduled's flock around the scan, the diff and the notice): the run does not
    take the lock again (it would wait on its caller, another open file), and refuses to run if
    nobody holds it."""
    h = tmp_path / "hist"
    h.mkdir()
    unlocked = run_hvlm("audit", "--example", "--history", str(h), "--lock-held", "-o", os.devnull)
    assert unlocked.returncode == 2 and unlocked.stderr.splitlines() == [
        f"hvlm: error: --lock-held, but nobody holds the lock {h / LOCK_NAME} (the file does not exist): take it "
        f"first (flock {h / LOCK_NAME} hvlm ...) or leave --lock-held out"]
    (h / LOCK_NAME).write_text("", "utf-8")
    unlocked = run_hvlm("audit", "--example", "--history", str(h), "--lock-held", "-o", os.devnull)
    assert unlocked.returncode == 2 and "nobody holds the lock" in unlocked.stderr and entries(h) == []
    alone = run_hvlm("audit", "--example", "--lock-held", "-o", os.devnull)
    assert alone.returncode == 2 and "--lock-held needs --history DIR or --lock FILE" in alone.stderr
    holder = hold_in_another_process(h / LOCK_NAME)  # the caller, holding the lock for the whole job
    try:
        inside = run_hvlm("audit", "--example", "--history", str(h), "--lock-held", "-o", os.devnull, timeout=120)
        assert inside.returncode == 1, inside.stderr
        assert len(entries(h)) == 1
        without = run_hvlm("audit", "--example", "--history", str(h), "-o", os.devnull)
        assert without.returncode == EXIT_LOCKED and len(entries(h)) == 1  # any other run still waits its turn
    finally:
        holder.kill()
        holder.wait()
