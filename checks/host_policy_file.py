"""The local Group Policy file (Registry.pol) is well formed."""

from __future__ import annotations

from typing import Any

from hvlm.audit.facts import Facts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check
from hvlm.checks._fixes import LOCAL_ADMIN, on_host

SIGNATURE = "50526567"  # "PReg"
VERSION = "01000000"  # 1, little-endian

_FIX = """$policyFile = Join-Path -Path $env:SystemRoot -ChildPath 'System32\\GroupPolicy\\Machine\\Registry.pol'
if (Test-Path -LiteralPath $policyFile) {
    $head = [System.IO.File]::ReadAllBytes($policyFile)
    if ($head.Length -lt 8 -or [System.Text.Encoding]::ASCII.GetString($head, 0, 4) -ne 'PReg') {
        # kept beside it as the backup: Registry.pol.hvlm-<date and time>
        Rename-Item -LiteralPath $policyFile -NewName ('Registry.pol.hvlm-' + (Get-Date -Format 'yyyyMMddHHmmss'))
    }
}
gpupdate /target:computer /force"""


def well_formed(header: str | None) -> bool:
    text = str(header or "").upper()
    return text.startswith(SIGNATURE) and text[8:16] == VERSION


def _shown(header: str) -> str:
    """The first bytes as hexadecimal pairs, with their ASCII where printable."""
    pairs = [header[i:i + 2] for i in range(0, len(header), 2)]
    text = "".join(chr(int(p, 16)) if 32 <= int(p, 16) < 127 else "." for p in pairs)
    return f"{' '.join(pairs)} ({text})" if pairs else "none: the file is empty"


@check(
    id="host-policy-file",
    title="Local Group Policy file (Registry.pol) well formed",
    severity=Severity.HIGH,
    subject=SubjectKind.HOST,
    requires=("host.policy_file",),
    rationale="""C:\\Windows\\System32\\GroupPolicy\\Machine\\Registry.pol holds the local computer's
    Administrative Templates policy; every well-formed file starts with the signature "PReg" and
    version 1. A truncated or overwritten file (a disk full or a crash during a policy refresh) stops
    Group Policy processing on the host, and Microsoft's live migration troubleshooting names it as a
    cause of migration connections timing out (0x8007274C): the Virtual Machine Management Service
    can disable its listener for migration connections. hvlm reads only the file's first 8 bytes. The
    documented recovery moves the file aside (kept as the backup) and refreshes Group Policy, which
    rebuilds it; settings made only in the local policy editor are lost with the corrupt file and must
    be set again.""",
    references=(DOCS["ts-lm"], DOCS["registry-pol-format"], DOCS["gpupdate"]),
    fix_hint="Rename Registry.pol (it stays as the backup) and run gpupdate /target:computer /force.",
)
def run(f: Facts) -> Outcome:
    host = f.host()
    pol = f["host.policy_file"]
    evidence: dict[str, Any] = {k: pol.get(k) for k in ("Path", "Exists", "Length", "Header")}
    if not pol.get("Exists"):
        return Outcome(Status.PASS, f"{host.fqdn} has no local Registry.pol (no local Administrative Templates policy "
                       "is set), so none can be corrupt.", evidence=evidence)
    if pol.get("ReadError") or pol.get("Header") is None:
        return Outcome(Status.ERROR, f"could not check: Registry.pol on {host.fqdn} could not be read: "
                       f"{pol.get('ReadError') or 'no bytes reported'}", evidence=evidence)
    header = str(pol["Header"]).upper()
    if well_formed(header):
        return Outcome(Status.PASS, f"Registry.pol on {host.fqdn} starts with its PReg signature, version 1.",
                       evidence=evidence)
    size = f"{pol['Length']} bytes" if pol.get("Length") is not None else "size unknown"
    return Outcome(
        Status.FAIL,
        f"Registry.pol on {host.fqdn} is corrupt: it does not start with PReg version 1 (first bytes "
        f"{_shown(header)}; {size}). Group Policy cannot apply it, and the Virtual Machine Management Service can "
        "disable its live migration listener (moves time out with 0x8007274C).",
        on_host(
            host,
            f"On {host.fqdn}, move the corrupt Registry.pol aside (it stays beside it, renamed, as the backup) and "
            "refresh Group Policy, which writes a new file. Settings made only in the local policy editor on this "
            "host must then be set again. If event 'The Virtual Machine Management Service disabled the listener "
            "for Virtual Machine migration connections' recurs, restart the vmms service (running VMs keep "
            "running).",
            _FIX,
            docs=(DOCS["ts-lm"], DOCS["gpupdate"]),
            run_as=LOCAL_ADMIN,
            kind="change",
        ),
        evidence,
    )
