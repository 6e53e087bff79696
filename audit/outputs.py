"""Report outputs shared by `hvlm audit` and `hvlm scan`: terminal text, JSON and file formats.

--json, --html, --junit and --csv each write one more file from the same report document, so
one run can feed a terminal, a change record, a CI server and a spreadsheet at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from hvlm.audit.errors import UsageError
from hvlm.audit.model import Severity
from hvlm.reports.csv_report import render_csv
from hvlm.reports.html import render_html
from hvlm.reports.json_report import render_json_bytes
from hvlm.reports.junit import render_junit
from hvlm.reports.sarif import render_sarif
from hvlm.reports.text import render_text

__all__ = [
    "add_compliance_options",
    "add_output_options",
    "add_selection_options",
    "use_colour",
    "write_outputs",
    "write_text_file",
]


def add_selection_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checks", metavar="IDS", help="comma-separated check ids to run (default: all)")
    p.add_argument("--skip", metavar="IDS", help="comma-separated check ids to leave out")
    p.add_argument(
        "--fail-on",
        metavar="SEVERITY",
        default="medium",
        choices=[s.value for s in Severity],
        help="exit 1 when a failure or warning has at least this severity "
        "(critical, high, medium, low, info; default: medium)",
    )
    p.add_argument(
        "--include-return",
        action="store_true",
        help="let findings on the return direction of a planned move (what a rollback needs) change the exit "
        "code too; they are always reported (also set by include_return = true in the inventory)",
    )


def add_compliance_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--waivers",
        metavar="FILE",
        help="waivers file (TOML): accepted risks, each for a check and named subjects, with a justification, "
        "approver and expiry; a waived finding is shown as waived and does not count for the exit code "
        "(scan: also `waivers = \"path\"` in the inventory)",
    )
    p.add_argument(
        "--baseline",
        metavar="OLD_REPORT",
        help="an earlier JSON report: mark each finding new, unchanged or updated, and list those now absent",
    )
    p.add_argument(
        "--fail-on-new",
        action="store_true",
        help="with --baseline: only findings new since the baseline (at or above --fail-on) make the exit code 1",
    )


def add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["text", "json"], default="text", help="what to print (default: text)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the printed report to FILE instead of stdout")
    p.add_argument("--json", metavar="FILE", dest="json_file", help="also write the JSON report to FILE")
    p.add_argument(
        "--html",
        metavar="FILE",
        dest="html_file",
        help="also write the HTML report to FILE (one self-contained page: summary, migration matrix, fixes)",
    )
    p.add_argument(
        "--junit",
        metavar="FILE",
        dest="junit_file",
        help="also write JUnit XML to FILE for CI servers: a test suite per check, a test case per subject; "
        "failures and warnings at or above --fail-on fail, errors are errors, not applicable is skipped",
    )
    p.add_argument("--csv", metavar="FILE", dest="csv_file", help="also write a CSV file, one row per finding")
    p.add_argument("--sarif", metavar="FILE", dest="sarif_file",
                   help="also write SARIF 2.1.0 to FILE: a rule per check, a result per finding (waived ones "
                   "suppressed, baselineState with --baseline)")
    p.add_argument("--show-passed", action="store_true",
                   help="list the passed and not-applicable subjects of each check (text and JSON; counted otherwise)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="text report: every subject of every problem in full, with its evidence")


def use_colour(stream: Any) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if "NO_COLOR" in os.environ:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def write_text_file(path: str, text: str) -> None:
    """Write an output file; an unwritable path is a usage error naming it."""
    try:
        # backslashreplace: a lone surrogate from a Windows name cannot abort the write (in JSON it
        # becomes the \udXXX escape it came from); the other formats replace such characters first
        Path(path).write_text(text, "utf-8", errors="backslashreplace", newline="")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_bytes_file(path: str, data: bytes) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_outputs(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """Write every requested output; each is rendered once (the JSON once even if printed and saved)."""
    json_bytes = render_json_bytes(report) if args.json_file or args.format == "json" else b""
    if args.json_file:
        write_bytes_file(args.json_file, json_bytes)
    for attr, render in (("html_file", render_html), ("junit_file", render_junit), ("csv_file", render_csv),
                         ("sarif_file", render_sarif)):
        path = getattr(args, attr, None)
        if path:
            write_text_file(path, render(report))
    if args.format == "json":
        if args.output:
            write_bytes_file(args.output, json_bytes)
        else:
            buffer = getattr(sys.stdout, "buffer", None)
            sys.stdout.flush()
            if buffer is None:
                sys.stdout.write(json_bytes.decode("utf-8"))
            else:
                buffer.write(json_bytes)
                buffer.flush()
        return
    colour = args.output is None and use_colour(sys.stdout)
    text = render_text(report, colour=colour, show_passed=args.show_passed, verbose=args.verbose)
    if args.output:
        write_text_file(args.output, text)
    else:
        sys.stdout.write(text)
