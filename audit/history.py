"""A history folder: each run's JSON report (version 2) under a sortable UTC name, the trend across
runs (failures, warnings, errors, waived, new, fixed per run), and pruning on request.

Entries are named report-YYYYMMDDTHHMMSS.ffffffZ.json (UTC, microseconds), so sorting the names sorts
the runs. A run is written to a temporary file in the folder, flushed to disk, then published with
link(2), which refuses an existing name: a name that is taken (two runs in one microsecond) moves on
a microsecond, an earlier run is never overwritten, and a run that fails half-way leaves only its
temporary file's removal behind, never a truncated entry.

A file named like an entry that is not an hvlm report is skipped with a warning naming it (the trend
of the others is still shown) and makes `hvlm history` exit 2; other files in the folder (the lock,
HTML pages, a README) are not entries and are left alone, pruning included.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hvlm.audit.drift import diff_reports, load_report
from hvlm.audit.errors import HvlmError, InputError, UsageError
from hvlm.audit.lock import EXIT_LOCKED, LOCK_NAME, LockBusy, check_held, hold
from hvlm.audit.words import count
from hvlm.reports.json_report import render_json_bytes

__all__ = [
    "ENTRY_RE",
    "History",
    "add_history_options",
    "companion_name",
    "entry_name",
    "keep_history",
    "keep_run",
    "load_history",
    "locked_run",
    "preflight",
    "prune",
    "run_lock",
]

ENTRY_RE = re.compile(r"^report-(\d{8}T\d{6}\.\d{6})Z\.json$")
_STAMP = "%Y%m%dT%H%M%S.%f"
_TRIES = 1000


def entry_name(when: dt.datetime) -> str:
    return f"report-{when.astimezone(dt.UTC).strftime(_STAMP)}Z.json"


def entry_time(name: str) -> dt.datetime | None:
    m = ENTRY_RE.match(name)
    return dt.datetime.strptime(m.group(1), _STAMP).replace(tzinfo=dt.UTC) if m else None


def _folder(path: str) -> Path:
    folder = Path(path)
    if not folder.exists():
        raise UsageError(f"history folder {path} does not exist (create it first)")
    if not folder.is_dir():
        raise UsageError(f"history folder {path} is not a folder")
    return folder


def preflight(path: str) -> Path:
    """Before anything is collected: the folder exists and a file can be created in it."""
    folder = _folder(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".hvlm-check-", dir=folder)
    except OSError as exc:
        raise UsageError(f"history folder {path} is not writable: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(tmp)
    return folder


def keep_run(path: str, data: bytes, now: dt.datetime | None = None) -> Path:
    """Publish one run's JSON report in the folder under a new entry name; returns its path."""
    folder = _folder(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UsageError(f"history folder {path} is not writable: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~_umask())  # as open() would create it, not mkstemp's 0600
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        when = now or dt.datetime.now(dt.UTC)
        for _ in range(_TRIES):
            target = folder / entry_name(when)
            try:
                os.link(tmp, target)
            except FileExistsError:
                when += dt.timedelta(microseconds=1)
                continue
            _sync_dir(folder)
            return target
        raise UsageError(f"history folder {path}: no free entry name near {entry_name(when)}")
    except OSError as exc:
        raise UsageError(f"cannot keep this run in {path}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _sync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def run_lock(lock: str | None, history: str | None, held: bool = False) -> Iterator[None]:
    """The lock a run takes: --lock FILE if given, else the history folder's own, else none. With
    `held` (--lock-held) the caller holds that lock for this run: it must be held, and is not taken
    again (the caller's flock is on another open file: taking it here would wait on the caller)."""
    if held:
        if not (lock or history):
            raise UsageError("--lock-held needs --history DIR or --lock FILE (the lock the caller holds)")
        check_held(lock or _folder(history or "") / LOCK_NAME)
        yield
    elif lock:
        with hold(lock):
            yield
    elif history:
        with hold(_folder(history) / LOCK_NAME):
            yield
    else:
        yield


# --- reading the history: the trend -------------------------------------------------------------


@dataclass
class History:
    folder: str
    runs: list[dict[str, Any]]  # one row per run, oldest first
    skipped: list[str]  # one line each: an entry that is not a report of this tool


def _entry_names(folder: Path) -> list[str]:
    """The entries, oldest first; other files (the lock, pages, notes) are not runs."""
    try:
        return sorted(p.name for p in folder.iterdir() if ENTRY_RE.match(p.name) and p.is_file())
    except OSError as exc:
        raise UsageError(f"cannot read history folder {folder}: {exc.strerror or exc}") from None


def _counts(report: dict[str, Any]) -> dict[str, int]:
    out = {"failures": 0, "warnings": 0, "errors": 0, "waived": 0}
    key = {"fail": "failures", "warning": "warnings", "error": "errors"}
    for group in report["findings"]:
        for m in group["members"]:
            if group["status"] in key:
                out[key[group["status"]]] += 1
            if m.get("waiver"):
                out["waived"] += 1
    return out


def _row(name: str, report: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    run = report["run"]
    when = entry_time(name)
    assert when is not None  # the name matched ENTRY_RE
    row: dict[str, Any] = {
        "file": name,
        "kept": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "started": run["started"],
        "command": run["command"],
        "snapshot": run["snapshot"],
        "complete": bool(run.get("snapshot_complete", True)),
        "exit_code": run["exit_code"],
        **_counts(report),
        "new": None,
        "fixed": None,
        "not_evaluated": None,
    }
    if previous is not None:
        d = diff_reports(previous, report)
        row["new"], row["fixed"], row["not_evaluated"] = len(d["new"]), len(d["fixed"]), len(d["not_evaluated"])
    return row


def load_history(path: str) -> History:
    """One row per run, oldest first; new and fixed against the run before (None for the first).
    Runs are read one at a time (only the one before is kept), so a long history of a large estate
    does not have to fit in memory at once."""
    folder = _folder(path)
    names = _entry_names(folder)
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    previous: dict[str, Any] | None = None
    for name in names:
        try:
            report = load_report(str(folder / name))
        except HvlmError as exc:
            skipped.append(f"skipped {exc}")
            continue
        rows.append(_row(name, report, previous))
        previous = report
    return History(path, rows, skipped)


# --- pruning -------------------------------------------------------------------------------------


def companion_name(entry: str) -> str:
    """The file hvlm-scheduled writes beside a run that changed something: changes-<its time>Z.txt,
    the diff that went out as the notice. Pruned with its run."""
    return "changes-" + entry.removeprefix("report-").removesuffix(".json") + ".txt"


_COMPANION_RE = re.compile(r"^changes-(\d{8}T\d{6}\.\d{6})Z\.txt$")


def prune(path: str, keep: int | None, older_than_days: int | None,
          now: dt.datetime | None = None) -> tuple[list[str], list[str]]:
    """Remove entries beyond the newest `keep` and/or older than the given days, each with its
    companion (changes-<time>Z.txt, see companion_name), and companions whose run is already gone;
    never the newest entry (the next run compares against it), never another file. Returns the
    names removed and one line per file that could not be removed."""
    if keep is not None and keep < 1:
        raise UsageError("--prune-keep needs at least 1 (the newest run is always kept)")
    if older_than_days is not None and older_than_days < 0:
        raise UsageError("--prune-older-than needs 0 or more days")
    folder = _folder(path)
    names = _entry_names(folder)
    newest_first = list(reversed(names))
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=older_than_days or 0)
    removed: list[str] = []
    problems: list[str] = []

    def remove(name: str) -> bool:
        try:
            (folder / name).unlink()
        except FileNotFoundError:
            return True
        except OSError as exc:
            problems.append(str(InputError(str(folder / name), f"cannot remove: {exc.strerror or exc}")))
            return False
        removed.append(name)
        return True

    kept = set(names)
    for i, name in enumerate(newest_first):
        if i == 0:
            continue
        when = entry_time(name)
        beyond = keep is not None and i >= keep
        old = older_than_days is not None and when is not None and when < cutoff
        if (beyond or old) and remove(name):
            kept.discard(name)
    try:
        companions = sorted(p.name for p in folder.iterdir() if _COMPANION_RE.match(p.name) and p.is_file())
    except OSError as exc:
        raise UsageError(f"cannot read history folder {folder}: {exc.strerror or exc}") from None
    for name in companions:
        m = _COMPANION_RE.match(name)
        assert m is not None
        if f"report-{m.group(1)}Z.json" not in kept:
            remove(name)
    return sorted(removed), problems


# --- the hooks of `audit` and `scan` ---------------------------------------------------------------


def add_history_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--history", metavar="DIR",
                   help="also keep this run's JSON report in the folder DIR under a timestamped name (hvlm history "
                   "DIR shows the trend); the run takes DIR's lock, so two runs never write at once")
    p.add_argument("--lock", metavar="FILE",
                   help=f"take an exclusive lock on FILE for the whole run; if another run holds it, exit "
                   f"{EXIT_LOCKED} at once without doing anything (default with --history: DIR/{LOCK_NAME})")
    p.add_argument("--lock-held", action="store_true",
                   help=f"the process that started hvlm already holds the run's lock (DIR/{LOCK_NAME} or --lock "
                   "FILE) for longer than this run, e.g. hvlm-scheduled with flock(1) around the scan, the diff and "
                   "the notice: check that it is held and do not take it again (exit 2 if nobody holds it)")


def locked_run(args: argparse.Namespace, work: Callable[[], int]) -> int:
    """Run `work` under the run's lock; a held lock is one line on stderr and exit code 75."""
    if getattr(args, "history", None):
        preflight(args.history)
    try:
        with run_lock(getattr(args, "lock", None), getattr(args, "history", None),
                      bool(getattr(args, "lock_held", False))):
            return work()
    except LockBusy as busy:
        print(f"hvlm: {busy}", file=sys.stderr)
        return EXIT_LOCKED


def keep_history(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """With --history: publish the report and say where, with what changed since the run before."""
    if not getattr(args, "history", None):
        return
    names = _entry_names(_folder(args.history))
    target = keep_run(args.history, render_json_bytes(report))
    since = ""
    if names:
        try:
            d = diff_reports(load_report(str(Path(args.history) / names[-1])), report)
            unseen = f", {len(d['not_evaluated']):,} not evaluated" if d["not_evaluated"] else ""
            since = f" ({count(len(d['new']), 'new finding')}, {len(d['fixed']):,} fixed{unseen} since {names[-1]})"
        except HvlmError:
            since = f" (the entry before, {names[-1]}, is not a report of this tool)"
    print(f"hvlm: kept this run as {target}{since}", file=sys.stderr)
