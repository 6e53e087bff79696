"""`hvlm scan`: collect, audit and report in one go."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hvlm.audit.collect import collect
from hvlm.audit.collect.options import (
    CREDENTIALS_HELP,
    add_collection_options,
    add_directory_options,
    plan_collection,
    with_log,
)
from hvlm.audit.commands.collect_cmd import EXIT_INTERRUPTED, summarize
from hvlm.audit.history import add_history_options, keep_history, locked_run
from hvlm.audit.inventory import load_inventory
from hvlm.audit.outputs import add_compliance_options, add_output_options, add_selection_options, write_outputs
from hvlm.audit.registry import load_registry
from hvlm.audit.run import advise_pairing, audit_args, load_compliance, select_checks
from hvlm.audit.snapshot import Snapshot

EPILOG = f"""{CREDENTIALS_HELP}

exit codes:
  0    all clear: no failure or warning at or above --fail-on
  1    failures or warnings at or above --fail-on
  2    usage or input error; nothing was collected
  3    incomplete: some facts could not be collected or some checks errored
  4    both 1 and 3
  75   another run holds the lock (--lock FILE, or the --history folder's): this run did nothing
  130  interrupted (Ctrl-C): the report covers what was collected, marked incomplete

examples:
  hvlm scan --inventory fleet.toml
  hvlm scan --inventory fleet.toml --ca-bundle corp-ca.pem --format json -o report.json --save-snapshot snap.json
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "scan",
        help="collect the facts and audit them in one go (read-only)",
        description="Probe every inventory host over PowerShell Remoting and read the directory, then run "
        "every check and report what will stop live migration, with the exact fix for each problem.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--inventory", "-i", metavar="FILE", required=True, help="the inventory (TOML)")
    p.add_argument("--save-snapshot", metavar="FILE", help="also save the collected facts snapshot to FILE")
    add_collection_options(p)
    add_directory_options(p)
    add_selection_options(p)
    add_compliance_options(p)
    add_output_options(p)
    add_history_options(p)
    p.set_defaults(func=with_log(_run))


def _run(args: argparse.Namespace) -> int:
    return locked_run(args, lambda: _scan(args))


def _scan(args: argparse.Namespace) -> int:
    inventory = load_inventory(args.inventory)
    advise_pairing(inventory.host_names, list(inventory.pairs), dict(inventory.groups))
    registry = load_registry()
    select_checks(registry, args.checks, args.skip)  # an unknown check id fails before any connection
    compliance = load_compliance(args, registry, inventory.waivers)  # so does a bad waivers file or baseline
    plan = plan_collection(args, inventory, hosts=True, directory=True)
    collection = collect(
        inventory, plan.targets, plan.passwords, plan.progress,
        directory_options=plan.directory_options, directory_credentials=plan.directory_credentials,
            concurrency=args.concurrency,
    )
    name = str(args.inventory)  # the report reads "scan of <inventory>"
    if args.save_snapshot:
        Snapshot(collection.document, args.save_snapshot).save(args.save_snapshot)
        name = args.save_snapshot
    print(f"hvlm: {summarize(collection, args.save_snapshot)}", file=sys.stderr)
    report = audit_args(Snapshot(collection.document, name), args, "scan", compliance, registry)
    write_outputs(args, report)
    keep_history(args, report)
    if collection.interrupted:
        return EXIT_INTERRUPTED
    code: int = report["run"]["exit_code"]
    return code
