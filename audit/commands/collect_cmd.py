"""`hvlm collect`: gather the facts snapshot (hosts over PowerShell Remoting, then the directory)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hvlm.audit import words
from hvlm.audit.collect import Collection, collect, collect_from_probe_outputs
from hvlm.audit.collect.options import (
    CREDENTIALS_HELP,
    add_collection_options,
    add_directory_options,
    plan_collection,
    with_log,
)
from hvlm.audit.collect.progress import make_progress
from hvlm.audit.errors import UsageError
from hvlm.audit.inventory import load_inventory
from hvlm.audit.report import EXIT_CLEAR, EXIT_INCOMPLETE
from hvlm.audit.run import advise_pairing
from hvlm.audit.shard import parse_shard, shard_hosts, shard_record
from hvlm.audit.snapshot import Snapshot

EXIT_INTERRUPTED = 130

EPILOG = f"""{CREDENTIALS_HELP}

exit codes:
  0    every fact was collected
  2    usage or input error; nothing was collected
  3    incomplete: some facts could not be collected (see the error facts in the snapshot)
  130  interrupted (Ctrl-C): what was collected is saved, marked complete: false

examples:
  hvlm collect --inventory fleet.toml -o snapshot.json
  hvlm collect --inventory fleet.toml -o hosts.json --only hosts --ca-bundle corp-ca.pem
  hvlm collect --from-probe-output hv07.json hv08.json -o snapshot.json
  hvlm collect --inventory fleet.toml -o shard1.json --shard 1/2   # on one runner: its hosts and the directory
  hvlm collect --inventory fleet.toml -o shard2.json --shard 2/2   # on another: its hosts only
  hvlm merge shard1.json shard2.json -o snapshot.json

sharding (--shard K/N): the hosts are ordered by the SHA-256 of their lower-cased inventory name and
cut into N runs of nearly equal size; shard K probes run K, so adding a host moves at most N-1 others.
The directory (AD, DNS, operator) is collected by shard 1 only, for the whole inventory.
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "collect",
        help="collect the facts snapshot from the hosts and the directory (read-only)",
        description="Probe every inventory host over PowerShell Remoting (one read-only script per host, "
        "in parallel), then read the directory (LDAP and DNS), and save one facts snapshot for `hvlm audit`. "
        "Hosts that cannot be reached remotely: run `hvlm probe-script` on them and give the outputs with "
        "--from-probe-output.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--inventory", "-i", metavar="FILE", help="the inventory (TOML)")
    p.add_argument("-o", "--output", metavar="SNAPSHOT", required=True, help="where to write the snapshot (JSON)")
    p.add_argument("--only", choices=["hosts", "directory"], help="collect only the hosts or only the directory")
    p.add_argument("--shard", type=parse_shard, metavar="K/N",
                   help="probe only shard K of N of the inventory's hosts (see below); shard 1 also collects "
                   "the directory. Join the shards with `hvlm merge`")
    p.add_argument("--from-probe-output", nargs="+", metavar="FILE",
                   help="build the host facts from saved probe outputs instead of connecting "
                   "(with --inventory: matched to its hosts, and the directory is collected unless --only hosts)")
    add_collection_options(p)
    add_directory_options(p)
    p.set_defaults(func=with_log(_run))


def summarize(collection: Collection, path: str | None) -> str:
    snap = collection.snapshot
    hosts = snap.doc["hosts"]
    failed = sorted(h for h, facts in hosts.items() if "error" in facts.get("connection", {}))
    errors = snap.uncollected()
    parts = [words.count(len(hosts), "host")]
    if failed:
        shown = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
        parts.append(f"{len(failed)} not collected ({shown})")
    if errors:
        parts.append(f"{len(errors)} fact(s) with errors")
    notes = snap.notes()
    if notes:
        parts.append(f"{len(notes)} probe warning(s) (kept as notes on their host)")
    if collection.interrupted:
        parts.append("INTERRUPTED: incomplete")
    where = f"wrote {path}: " if path else ""
    return f"{where}{', '.join(parts)}"


def _shard_names(names: list[str], index: int, count: int, *, only: str | None) -> set[str]:
    if only == "directory":
        raise UsageError("--shard slices the hosts; the directory is not sharded (shard 1 collects it)")
    if count > len(names):
        raise UsageError(f"--shard {index}/{count}: the inventory has {words.count(len(names), 'host')}, so at "
                         f"most {words.count(len(names), 'shard')}")
    return set(shard_hosts(names, index, count))


def _save(collection: Collection, path: str) -> None:
    Snapshot(collection.document, path).save(path)


def _run(args: argparse.Namespace) -> int:
    inventory = load_inventory(args.inventory) if args.inventory else None
    if inventory is not None:
        advise_pairing(inventory.host_names, list(inventory.pairs), dict(inventory.groups))
    if args.shard and args.from_probe_output:
        raise UsageError("--shard slices the inventory for remote collection; it cannot go with --from-probe-output")
    if args.from_probe_output:
        if args.only == "directory":
            raise UsageError("--from-probe-output gives host facts; it cannot go with --only directory")
        want_directory = inventory is not None and args.only != "hosts"
        if want_directory and inventory is not None:
            plan = plan_collection(args, inventory, hosts=False, directory=True)
            progress, options, credentials = plan.progress, plan.directory_options, plan.directory_credentials
        else:
            progress, options, credentials = make_progress(sys.stderr, quiet=args.quiet), None, None
        collection = collect_from_probe_outputs(
            args.from_probe_output, inventory, progress, directory=want_directory, directory_options=options,
            directory_credentials=credentials,
        )
    else:
        if inventory is None:
            raise UsageError("give --inventory FILE (or --from-probe-output FILE...)")
        hosts, directory = args.only != "directory", args.only != "hosts"
        names = None
        if args.shard:
            names = _shard_names(inventory.host_names, *args.shard, only=args.only)
            directory = directory and args.shard[0] == 1
        plan = plan_collection(args, inventory, hosts=hosts, directory=directory, host_names=names)
        collection = collect(
            inventory, plan.targets, plan.passwords, plan.progress, hosts=hosts, directory=directory,
            directory_options=plan.directory_options, directory_credentials=plan.directory_credentials,
            concurrency=args.concurrency,
        )
        if args.shard:
            collection.document["shard"] = shard_record(*args.shard)
    _save(collection, args.output)
    print(f"hvlm: {summarize(collection, args.output)}", file=sys.stderr)
    if collection.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_INCOMPLETE if collection.has_errors else EXIT_CLEAR
