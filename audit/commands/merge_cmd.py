"""`hvlm merge`: join snapshots from several collectors (e.g. `hvlm collect --shard K/N`) into one."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hvlm.audit.merge import load_for_merge, merge_snapshots
from hvlm.audit.report import EXIT_CLEAR, EXIT_INCOMPLETE
from hvlm.audit.snapshot import NON_BLOCKING_KINDS, Snapshot
from hvlm.audit.words import count

EPILOG = """rules:
  The inventories must agree (hosts and their order, planned moves, groups, operator,
  include_return); the first difference is an error. Each host, domain, host's DNS facts and the
  operator is taken whole from one snapshot: when several carry it, the newest complete one wins
  (complete first, then the newest collected_at), with a warning naming both files. Every fact
  keeps its own source and collected_at; `merged_from` lists the files merged. The result is
  complete only if every input is and every inventory host is in one of them.

exit codes:
  0  merged, every fact collected
  2  bad input (unreadable, not a snapshot, schema-invalid, inventories differ, a key given twice):
     nothing was written
  3  merged, but incomplete: an input is incomplete, a host is in no input, or facts hold errors

examples:
  hvlm merge shard1.json shard2.json shard3.json -o snapshot.json && hvlm audit snapshot.json
  hvlm merge hosts.json directory.json -o snapshot.json     # `collect --only hosts` + `--only directory`
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "merge",
        help="join snapshots from several collectors (shards) into one",
        description="Join facts snapshots collected by several runners (`hvlm collect --shard K/N`, or "
        "`--only hosts` and `--only directory`) into one snapshot for `hvlm audit`. Reads only files.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("snapshots", nargs="+", metavar="SNAPSHOT", help="the snapshots to join")
    p.add_argument("-o", "--output", metavar="SNAPSHOT", required=True, help="where to write the merged snapshot")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line (warnings are still printed)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    snaps = [load_for_merge(path) for path in args.snapshots]  # every input checked before anything is written
    result = merge_snapshots(snaps)
    merged = Snapshot.from_document(result.document, args.output)  # never write what `hvlm audit` would refuse
    for line in result.warnings:
        print(f"hvlm: warning: {line}", file=sys.stderr)
    merged.save(args.output)
    errors = [e for e in merged.uncollected() if e["kind"] not in NON_BLOCKING_KINDS]
    if not args.quiet:
        state = "complete" if result.complete else "INCOMPLETE"
        extra = f", {len(errors)} fact(s) with errors" if errors else ""
        collected = len(merged.doc["hosts"]) - len(result.missing_hosts)
        print(f"hvlm: wrote {args.output}: {collected} of {count(len(merged.hosts), 'host')}, "
              f"{count(len(merged.doc['domains']), 'domain')} from {count(len(snaps), 'snapshot')}, {state}{extra}",
              file=sys.stderr)
    return EXIT_CLEAR if result.complete and not errors else EXIT_INCOMPLETE
