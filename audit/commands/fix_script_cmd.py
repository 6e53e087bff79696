"""`hvlm fix-script SNAPSHOT -o DIR`: audit a snapshot and write PowerShell remediation scripts.

The scripts are rebuilt from facts hvlm checks itself: the command audits the snapshot (with the
same --checks/--skip selection as `hvlm audit`) and writes the scripts from that fresh report. It
does not take a report file, which anyone may have edited: given one, it refuses and names the
snapshot the report was made from. One script per host and one for the Active Directory changes,
plus a separate script per host for the steps that stop, move or restart VMs (see
reports/fixscript.py). hvlm writes them and never runs them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hvlm.audit.commands.audit_cmd import example_snapshot_path
from hvlm.audit.errors import UsageError
from hvlm.audit.jsonio import DEFAULT_MAX_BYTES, read_json_file
from hvlm.audit.outputs import add_selection_options
from hvlm.audit.psquote import ps_quote
from hvlm.audit.run import audit_args
from hvlm.audit.snapshot import Snapshot
from hvlm.audit.words import count
from hvlm.reports.fixscript import build_scripts

__all__ = ["register", "run"]

DESCRIPTION = """\
Audit a facts snapshot (from `hvlm collect` or `hvlm scan`) and write PowerShell remediation
scripts from that fresh audit: one per host (fix-host-<name>.ps1), one for Active Directory
(fix-active-directory.ps1), and, apart, one per host for the steps that stop, move, upgrade or
restart VMs or the host (fix-host-<name>-disruptive.ps1).

In each default script, read-only checks run first (also with -WhatIf), then the changes, each
previewed by -WhatIf and confirmed by -Confirm; steps that need a person's decision are printed as
commented instructions and never run. A disruptive script asks for each VM on its own
(ConfirmImpact High). Identical steps are written once; two changes that set one host setting to
different values are settled (the more severe finding wins, then Microsoft's default) and the
other is commented out.

A JSON report is not accepted: scripts are rebuilt from the snapshot hvlm audits itself, not from
a file anyone may have edited. hvlm never runs the scripts: review, preview with -WhatIf, then run.
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "fix-script",
        help="audit a snapshot and write PowerShell remediation scripts (never runs them)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("snapshot", nargs="?", help="the snapshot JSON file (from `hvlm collect` or `hvlm scan`)")
    p.add_argument("--example", action="store_true", help="use the example snapshot shipped with hvlm")
    p.add_argument("-o", "--output-dir", metavar="DIR", required=True, help="folder to write the scripts to")
    p.add_argument("--failures-only", action="store_true", help="leave out the fixes for warnings")
    p.add_argument("--force", action="store_true", help="overwrite scripts already in DIR")
    add_selection_options(p)
    p.set_defaults(func=run)


def _load(args: argparse.Namespace) -> Snapshot:
    if args.example == bool(args.snapshot):
        raise UsageError("give either a SNAPSHOT file or --example")
    if args.example:
        snapshot = Snapshot.load(example_snapshot_path())
        snapshot.name = "example-snapshot.json (shipped with hvlm)"
        return snapshot
    doc = read_json_file(args.snapshot, max_bytes=DEFAULT_MAX_BYTES)
    if isinstance(doc, dict) and "report_version" in doc:
        made_from = (doc.get("run") or {}).get("snapshot") if isinstance(doc.get("run"), dict) else None
        origin = f"snapshot {made_from}" if made_from else "its snapshot"
        again = ps_quote(str(made_from)) if made_from else "SNAPSHOT.json"
        if made_from and str(made_from).endswith("(shipped with hvlm)"):
            again = "--example"
        raise UsageError(
            f"{args.snapshot} is a report, not a snapshot: fix scripts are rebuilt from facts hvlm audits itself, "
            f"not from a report file. The report was made from {origin}; run: "
            f"hvlm fix-script {again} -o {ps_quote(str(args.output_dir))}"
        )
    return Snapshot.from_document(doc, str(args.snapshot))


def run(args: argparse.Namespace) -> int:
    snapshot = _load(args)
    report = audit_args(snapshot, args, "fix-script")
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
        print(f"No failures or warnings with a fix in the audit of {snapshot.name}: no script written.")
        return 0
    print(f"Audited {snapshot.name}; wrote:", file=sys.stdout)
    for s in scripts:
        if s.disruptive:
            what = f"{count(s.changes, 'disruptive step')} (each VM asked on its own)"
        else:
            what = (f"{count(s.changes, 'change')}, {count(s.checks, 'read-only check')}, "
                    f"{count(s.manual, 'manual step')}")
        print(f"{out / s.filename}: {what} for {count(s.findings, 'finding')}")
    print("Review each script, preview it with -WhatIf, then run it where its header says. hvlm ran nothing.")
    return 0
