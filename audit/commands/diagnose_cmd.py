"""`hvlm diagnose`: from a failed move's error (code or pasted message) to its ranked causes and fixes."""

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
from hvlm.audit.commands.audit_cmd import example_snapshot_path
from hvlm.audit.commands.collect_cmd import EXIT_INTERRUPTED, summarize
from hvlm.audit.diagnose import code_of, diagnose
from hvlm.audit.diagnose.live import pair_inventory
from hvlm.audit.diagnose.render_text import render_text
from hvlm.audit.errors import UsageError
from hvlm.audit.inventory import load_inventory
from hvlm.audit.outputs import use_colour, write_text_file
from hvlm.audit.snapshot import Snapshot
from hvlm.reports.diagnosis_html import render_diagnosis_html
from hvlm.reports.json_report import render_json

EPILOG = f"""The error can be given as a code (--error 0x8009030E, 8009030E, -2146893042, 10060,
SEC_E_NO_CREDENTIALS) or as the message pasted from Hyper-V Manager, PowerShell or the event log in
English, Italian, German or French (--message '...'; --message - reads it from stdin). A message
without a code is recognised by its wording.

Facts: --snapshot FILE reads a saved snapshot (offline; both hosts must be in it). Otherwise hvlm
collects only what this move needs, read-only: the two hosts over PowerShell Remoting and their
directory (connection settings, [ad] and operator from --inventory, or the command line).

--initiated-from HOST says where the move was started: the source rules out the CredSSP double
hop, any other machine confirms it; without it that cause stays likely.

{CREDENTIALS_HELP}

exit codes:
  0    no cause found in the configuration (the hand checks listed remain)
  1    a cause was found: confirmed by the configuration, or likely pending your answer
  2    usage or input error; nothing was diagnosed
  3    no cause found, but some causes could not be checked (facts missing): incomplete
  4    both 1 and 3
  130  interrupted (Ctrl-C) during live collection

examples:
  hvlm diagnose --source hv04 --destination hv02 --error 0x8009030E --example
  hvlm diagnose --source hv01 --destination hv02 --error 0x8009030E --snapshot snap.json
  hvlm diagnose -s hv01 -d hv02 --message "Nel pacchetto di protezione non sono disponibili credenziali" -i fleet.toml
  hvlm diagnose -s hv01 -d hv02 -e 10061 -i fleet.toml --initiated-from admin-pc --format html -o diag.html
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "diagnose",
        help="from a failed live migration's error code or message to its ranked causes and fixes",
        description="Diagnose one failed live migration, source -> destination: recognise the error (a code, or "
        "the message in any language), judge every cause known for it from the two hosts' configuration, and "
        "rank them (confirmed, likely, possible, ruled out) with the evidence and the exact fix. hvlm only reads.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--source", "-s", required=True, metavar="HOST", help="the host the VM was moving from")
    p.add_argument("--destination", "-d", required=True, metavar="HOST", help="the host it was moving to")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--error", "-e", metavar="CODE", help="the error code")
    what.add_argument("--message", "-m", metavar="TEXT", help="the error message as pasted ('-': read from stdin)")
    facts = p.add_mutually_exclusive_group()
    facts.add_argument("--snapshot", metavar="FILE", help="diagnose from a saved facts snapshot (offline)")
    facts.add_argument("--example", action="store_true",
                       help="diagnose a move of the example fleet shipped with hvlm (offline; hosts hv01 to hv07, "
                       "for example -s hv04 -d hv02 -e 0x8009030E)")
    facts.add_argument("--inventory", "-i", metavar="FILE",
                       help="inventory for the live collection (connection settings, [ad], operator)")
    p.add_argument("--initiated-from", metavar="HOST", help="the machine the move was started from")
    p.add_argument("--operator", metavar="ACCOUNT",
                   help="live: the account that started the move (DOMAIN\\user), instead of the inventory's")
    p.add_argument("--save-snapshot", metavar="FILE", help="live: also save the collected facts to FILE")
    p.add_argument("--format", choices=["text", "json", "html"], default="text", help="what to write (default: text)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    add_collection_options(p)
    add_directory_options(p)
    p.set_defaults(func=with_log(_run))




def _message(args: argparse.Namespace) -> str | None:
    if args.message != "-":
        return str(args.message) if args.message is not None else None
    text = sys.stdin.read(1024 * 1024)
    if not text.strip():
        raise UsageError("--message -: nothing was read from stdin")
    return text


def _live(args: argparse.Namespace) -> tuple[Snapshot, bool]:
    inventory = load_inventory(args.inventory) if args.inventory else None
    pair = pair_inventory(inventory, args.source, args.destination, args.operator)
    plan = plan_collection(args, pair, hosts=True, directory=True)
    collection = collect(pair, plan.targets, plan.passwords, plan.progress,
                         directory_options=plan.directory_options, concurrency=min(args.concurrency, 2))
    name = f"live collection of {pair.host_names[0]} and {pair.host_names[1]}"
    if args.save_snapshot:
        Snapshot(collection.document, args.save_snapshot).save(args.save_snapshot)
        name = args.save_snapshot
    print(f"hvlm: {summarize(collection, args.save_snapshot)}", file=sys.stderr)
    return Snapshot(collection.document, name), collection.interrupted


def _run(args: argparse.Namespace) -> int:
    message = _message(args)
    code_of(args.error, message)  # a bad --error fails before any connection
    interrupted = False
    if args.example:
        args.snapshot = example_snapshot_path()
    if args.snapshot:
        for flag, value in (("--operator", args.operator), ("--save-snapshot", args.save_snapshot)):
            if value:
                raise UsageError(f"{flag} applies to a live collection, not to --snapshot")
        snapshot, mode = Snapshot.load(args.snapshot), "snapshot"
        if args.example:
            snapshot.name = "example-snapshot.json (shipped with hvlm)"
    else:
        (snapshot, interrupted), mode = _live(args), "live"
    doc = diagnose(snapshot, args.source, args.destination, error=args.error, message=message,
                   initiated_from=args.initiated_from, mode=mode)
    if args.format == "json":
        text = render_json(doc)
    elif args.format == "html":
        text = render_diagnosis_html(doc)
    else:
        text = render_text(doc, colour=args.output is None and use_colour(sys.stdout))
    if args.output:
        write_text_file(args.output, text)
    else:
        sys.stdout.write(text)
    if interrupted:
        return EXIT_INTERRUPTED
    code: int = doc["run"]["exit_code"]
    return code
