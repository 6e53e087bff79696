"""`hvlm history DIR`: the trend of the runs kept with --history, and pruning on request."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hvlm.audit import __version__
from hvlm.audit.history import ENTRY_RE, load_history, locked_run, prune
from hvlm.audit.lock import EXIT_LOCKED, LOCK_NAME
from hvlm.audit.outputs import write_text_file
from hvlm.audit.report import EXIT_USAGE
from hvlm.audit.snapshot import now_iso
from hvlm.audit.words import count
from hvlm.reports.history import render_history_html, render_history_text
from hvlm.reports.json_report import render_json

HISTORY_VERSION = 1

EPILOG = f"""The folder holds one JSON report per run, named report-YYYYMMDDTHHMMSS.ffffffZ.json (UTC), as
hvlm audit/scan --history DIR keeps them. Per run: failures, warnings, errors (could not check) and
waived findings, and the findings new and fixed against the run before (as hvlm diff counts them).
A file named like a run that is not an hvlm report is skipped with one line naming it; other files are
not runs and are left alone. Nothing is removed unless --prune-keep or --prune-older-than is given;
each removed file is printed; the newest run is never removed. A run's change notice (the
changes-YYYYMMDDTHHMMSS.ffffffZ.txt that hvlm-scheduled writes beside it) goes with its run, and one
whose run is already gone goes too.

exit codes:
  0   trend shown (and the runs asked for pruned)
  2   bad input: DIR missing or not a folder, a bad option, or a run file that is not an hvlm report
      (skipped, named on stderr; the trend of the others is still shown)
  {EXIT_LOCKED}  pruning only: another run holds the lock (DIR/{LOCK_NAME} or --lock FILE); nothing was removed

examples:
  hvlm history /var/lib/hvlm --html /var/lib/hvlm/trend.html
  hvlm history /var/lib/hvlm --prune-keep 90 --prune-older-than 365
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "history", help="the trend of the runs kept with --history DIR; prune old runs on request",
        description="Show the trend of the runs that hvlm audit/scan --history DIR kept, per run.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("folder", metavar="DIR", help="the history folder")
    p.add_argument("--json", action="store_true", help="print the trend as JSON (schema: hvlm schema history)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the text or JSON to FILE instead of stdout")
    p.add_argument("--html", metavar="FILE", dest="html_file",
                   help="also write the trend as one self-contained HTML page with a chart")
    p.add_argument("--prune-keep", metavar="N", type=int,
                   help="remove all but the newest N runs (N at least 1)")
    p.add_argument("--prune-older-than", metavar="DAYS", type=int,
                   help="remove the runs kept more than DAYS days ago (never the newest run)")
    p.add_argument("--lock", metavar="FILE", help=f"the lock pruning takes (default: DIR/{LOCK_NAME})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.prune_keep is None and args.prune_older_than is None:
        return _show(args, [])
    args.history = args.folder  # pruning takes the folder's lock, like a run that writes to it
    return locked_run(args, lambda: _prune_and_show(args))


def _prune_and_show(args: argparse.Namespace) -> int:
    removed, problems = prune(args.folder, args.prune_keep, args.prune_older_than)
    for name in removed:
        print(f"hvlm: removed {args.folder.rstrip('/')}/{name}", file=sys.stderr)
    runs = [n for n in removed if ENTRY_RE.match(n)]
    notices = len(removed) - len(runs)
    also = f" and {count(notices, 'change notice')} (changes-*.txt)" if notices else ""
    print(f"hvlm: pruned {count(len(runs), 'run')}{also} from {args.folder}", file=sys.stderr)
    for line in problems:
        print(f"hvlm: error: {line}", file=sys.stderr)
    code = _show(args, removed)
    return EXIT_USAGE if problems else code


def _show(args: argparse.Namespace, removed: list[str]) -> int:
    history = load_history(args.folder)
    for line in history.skipped:
        print(f"hvlm: error: {line}", file=sys.stderr)
    doc: dict[str, Any] = {
        "history_version": HISTORY_VERSION,
        "tool": {"name": "hvlm", "version": __version__},
        "created": now_iso(),
        "folder": args.folder,
        "runs": history.runs,
        "skipped": history.skipped,
        "removed": removed,
    }
    text = render_json(doc) if args.json else render_history_text(doc)
    if args.html_file:
        write_text_file(args.html_file, render_history_html(doc))
    if args.output:
        write_text_file(args.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_USAGE if history.skipped else 0
