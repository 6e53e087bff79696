"""`hvlm waivers lint FILE`: check a waivers file before it reaches a scheduled scan."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from hvlm.audit import waivers as waivers_mod
from hvlm.audit.errors import InputError, UsageError
from hvlm.audit.registry import load_registry
from hvlm.audit.waivers import Problem, load_waivers

EPILOG = """checks: TOML syntax; every waiver names a known check id, a selector (host, pair, vm, domain, or
all = true), a justification, approved_by, created and expires dates; no bare "*"; no two waivers
for the same check and subject; no expiry in the past; with --max-days, no expiry further ahead.

exit codes:
  0  clean
  1  problems found (each printed as FILE at PLACE: reason)
  2  the file cannot be read or is not TOML
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "waivers",
        help="check a waivers file (hvlm waivers lint FILE)",
        description="Tools for the waivers file that --waivers and the inventory's `waivers` key name.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    action = p.add_subparsers(dest="action", metavar="ACTION")
    action.required = True
    lint = action.add_parser("lint", help="check a waivers file", epilog=EPILOG,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    lint.add_argument("file", help="the waivers file (TOML)")
    lint.add_argument("--max-days", type=int, metavar="N",
                      help="a problem if a waiver expires more than N days from today")
    lint.set_defaults(func=run)


def lint_problems(path: str, max_days: int | None = None, on: dt.date | None = None) -> list[Problem]:
    """Every problem of a waivers file, blocking or not; an unreadable file raises InputError."""
    on = on or waivers_mod.today()
    registry = load_registry()
    kinds = {c.meta.id: c.meta.subject.value for c in registry}
    parsed = load_waivers(path, set(kinds), kinds)
    problems = list(parsed.problems)
    for w in parsed.waivers:
        if w.expires < on:
            problems.append(Problem(f"{w.where}.expires", f"waiver {w.id!r} expired on {w.expires} "
                                    f"({(on - w.expires).days} days ago): renew it or remove it", False))
        elif max_days is not None and (w.expires - on).days > max_days:
            problems.append(Problem(f"{w.where}.expires", f"waiver {w.id!r} expires {w.expires}, "
                                    f"{(w.expires - on).days} days ahead: over the {max_days}-day limit", False))
        if w.created > on:
            problems.append(Problem(f"{w.where}.created", f"waiver {w.id!r} is created {w.created}, in the future",
                                    False))
    return problems


def run(args: argparse.Namespace) -> int:
    if args.max_days is not None and args.max_days < 0:
        raise UsageError("--max-days must be 0 or more")
    try:
        problems = lint_problems(args.file, args.max_days)
    except InputError as exc:
        print(f"hvlm: error: {exc}", file=sys.stderr)
        return 2
    for p in problems:
        print(f"{args.file} at {p.where}: {p.reason}")
    if problems:
        print(f"hvlm: {len(problems)} problem{'s' if len(problems) != 1 else ''} in {args.file}", file=sys.stderr)
        return 1
    print(f"{args.file}: clean")
    return 0
