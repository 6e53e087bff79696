"""`hvlm fix-script REPORT.json -o DIR`: write PowerShell remediation scripts from a JSON report.

One script per host and one for the Active Directory changes (see reports/fixscript.py). hvlm
writes them and never runs them; each previews its changes with -WhatIf.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from audit.errors import UsageError
from audit.jsonio import DEFAULT_MAX_BYTES, read_json_file, validate_document
from reports.fixscript import build_scripts

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "fix-script",
        help="write PowerShell remediation scripts from a JSON report (never runs them)",
        description="Write one PowerShell script per host, plus one for the Active Directory changes, "
        "from a JSON report (hvlm audit --json FILE). Each script is commented with the findings it "
        "answers and supports -WhatIf and -Confirm. hvlm never runs them: review, preview, then run.",
    )
    p.add_argument("report", help="the JSON report (from `hvlm audit --json FILE` or `--format json`)")
    p.add_argument("-o", "--output-dir", metavar="DIR", required=True, help="folder to write the scripts to")
    p.add_argument("--failures-only", action="store_true", help="leave out the fixes for warnings")
    p.add_argument("--force", action="store_true", help="overwrite scripts already in DIR")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = read_json_file(args.report, max_bytes=DEFAULT_MAX_BYTES)
    validate_document(report, "report", args.report)
    scripts = build_scripts(report, include_warnings=not args.failures_only)
    out = Path(args.output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {out}: {exc.strerror or exc}") from None
    existing = [s.filename for s in scripts if (out / s.filename).exists()]
    if existing and not args.force:
        raise UsageError(f"{out} already holds {', '.join(existing)}: use --force to overwrite, or another folder")
    for s in scripts:
        try:
            # UTF-8 with a byte order mark: Windows PowerShell 5.1 reads BOM-less files as ANSI
            (out / s.filename).write_text(s.text, encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise UsageError(f"cannot write {out / s.filename}: {exc.strerror or exc}") from None
    if not scripts:
        print("No failures or warnings with a fix in this report: no script written.")
        return 0
    for s in scripts:
        print(f"{out / s.filename}: {s.changes} change(s) for {s.findings} finding(s)")
    print("Review each script, preview it with -WhatIf, then run it where its header says. hvlm ran nothing.")
    return 0
