"""`hvlm probe-script`: print the read-only probe, for hosts hvlm cannot reach remotely."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hvlm.audit.collect.probe import PROBE_VERSION, probe_script
from hvlm.audit.errors import UsageError

EPILOG = """runs on Windows PowerShell 4.0 (2012 R2), 5.1 and PowerShell 7; on the host, as an administrator:
  powershell.exe -NoProfile -ExecutionPolicy Bypass -File .\\hvlm-probe.ps1 | Out-File -Encoding utf8 "$env:COMPUTERNAME.json"
then, where hvlm runs:
  hvlm collect --from-probe-output HV07.json HV08.json [--inventory fleet.toml] -o snapshot.json
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "probe-script",
        help="print the read-only probe script to run on a host by hand",
        description=f"Print the PowerShell probe (version {PROBE_VERSION}) that `hvlm scan` runs on every host. "
        "It only reads, and prints one JSON document that `hvlm collect --from-probe-output` turns into a snapshot.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write the script to FILE (e.g. hvlm-probe.ps1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    text = probe_script()
    if args.output:
        try:
            # CRLF so that Notepad on an older Windows shows it properly; the script is ASCII only.
            Path(args.output).write_bytes(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("ascii"))
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        print(f"hvlm: wrote {args.output} (probe {PROBE_VERSION})", file=sys.stderr)
        return 0
    sys.stdout.write(text)
    return 0
