"""`hvlm audit SNAPSHOT`: evaluate a saved snapshot offline."""

from __future__ import annotations

import argparse
from importlib import resources
from typing import Any

from hvlm.audit.errors import UsageError
from hvlm.audit.history import add_history_options, keep_history, locked_run
from hvlm.audit.outputs import add_compliance_options, add_output_options, add_selection_options, write_outputs
from hvlm.audit.registry import load_registry
from hvlm.audit.run import audit_args, load_compliance
from hvlm.audit.snapshot import Snapshot


def example_snapshot_path() -> str:
    return str(resources.files("hvlm.audit").joinpath("data/example-snapshot.json"))


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "audit",
        help="audit a saved facts snapshot (offline)",
        description="Evaluate every check against a saved facts snapshot and report what will "
        "stop live migration, with the exact fix for each problem. Needs no network.",
    )
    p.add_argument("snapshot", nargs="?", help="the snapshot JSON file (from `hvlm collect`)")
    p.add_argument("--example", action="store_true", help="audit the example snapshot shipped with hvlm")
    add_selection_options(p)
    add_compliance_options(p)
    add_output_options(p)
    add_history_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.example == bool(args.snapshot):
        raise UsageError("give either a SNAPSHOT file or --example")
    return locked_run(args, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    path = example_snapshot_path() if args.example else args.snapshot
    snapshot = Snapshot.load(path)
    registry = load_registry()
    compliance = load_compliance(args, registry)
    if args.example:
        snapshot.name = "example-snapshot.json (shipped with hvlm)"
    report = audit_args(snapshot, args, "audit", compliance, registry)
    write_outputs(args, report)
    keep_history(args, report)
    code: int = report["run"]["exit_code"]
    return code
