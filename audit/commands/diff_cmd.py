"""`hvlm diff OLD NEW`: what changed between two reports (findings) or two snapshots (facts)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hvlm.audit.drift import diff_documents
from hvlm.audit.outputs import write_text_file
from hvlm.reports.diff import render_diff_html, render_diff_text
from hvlm.reports.json_report import render_json

EPILOG = """Two JSON reports (hvlm audit --json): findings new, fixed, changed (same finding id, other
status or severity) and unchanged. A finding of OLD that NEW lacks is fixed only if the NEW run
evaluated it; if NEW did not run its check (--checks, --skip), did not cover its host, move or domain,
or could not judge the move's VMs, it is "not evaluated", with the reason: never fixed, and not a
change by itself. Two snapshots (hvlm collect): the facts that changed per host,
computer object, domain and DNS name, each with its path. The kind is read from each file.

exit codes:
  0  no change (findings only not evaluated in NEW are not a change)
  1  changes found (new, fixed or changed findings; changed facts)
  2  bad input (unreadable, not an hvlm report or snapshot, or one of each)

example (notify only on change):
  hvlm diff last.json new.json -o changes.txt || [ $? -ne 1 ] || mail -s "hvlm: drift" ops < changes.txt
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "diff", help="compare two reports or two snapshots (drift)",
        description="Compare two hvlm JSON reports (findings) or two facts snapshots (facts).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("old", help="the earlier report or snapshot")
    p.add_argument("new", help="the later report or snapshot")
    p.add_argument("--format", choices=["text", "json", "html"], default="text",
                   help="text (default), json (schema: hvlm schema diff) or html")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    doc = diff_documents(args.old, args.new)
    render = {"text": render_diff_text, "json": render_json, "html": render_diff_html}[args.format]
    text = render(doc)
    if args.output:
        write_text_file(args.output, text)
    else:
        sys.stdout.write(text)
    return 1 if doc["changed"] else 0
