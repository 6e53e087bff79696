"""PowerShell remediation scripts from a finished report: one per host, one for Active Directory.

hvlm never runs them. They are written for an administrator to read, preview and run:
- `[CmdletBinding(SupportsShouldProcess)]`, and every change wrapped in
  `if ($PSCmdlet.ShouldProcess(<target>, <what>)) { ... }`, so `-WhatIf` previews every change
  and `-Confirm` asks before each one;
- a host script refuses to run anywhere but on its host ($env:COMPUTERNAME, or the address when
  the inventory names the host by IP address); the AD script has `#Requires -Modules ActiveDirectory`;
- each change is commented with the findings it answers (id, status, severity, subject), where
  to run it, who, the GUI path and the docs; the same fix answering several findings is written
  once; fixes that need the VM off say so, in the comment and in the -WhatIf text.
Idempotence comes from the fixes themselves (Set-*, Enable-*, Install-WindowsFeature are safe
to run again); this module adds no state of its own, so re-running a script repeats only those.

Quoting. The checks quote every name inside their PowerShell with audit.psquote. Everything this
module adds around it is quoted here too: strings with ps_quote, comments with ps_comment (no line
breaks, no `#>` that would end the header block, no `<#`). Files are UTF-8 with a byte order mark
so Windows PowerShell 5.1 reads non-ASCII names correctly, with CRLF line ends.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from audit import __version__
from audit.psquote import ps_quote
from audit.words import count
from reports.aggregate import flat_findings, host_names

__all__ = ["FixScript", "build_scripts", "netbios_name", "ps_comment", "safe_filename"]

AD_FILE = "fix-active-directory.ps1"
SESSION_FILE = "fix-operator-session.ps1"
ELSEWHERE_FILE = "fix-other-machines.ps1"
_LINE_BREAKS = re.compile("[\r\n\u0085\u2028\u2029\x0b\x0c]")
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f\ud800-\udfff]")
_UNSAFE_FILE = re.compile(r"[^A-Za-z0-9._-]+")


def ps_comment(text: str) -> str:
    """Text safe inside a `#` comment or a `<# #>` block: one line, cannot close or open a block."""
    text = _LINE_BREAKS.sub(" ", text)
    text = _CONTROL.sub("?", text)
    while "#>" in text or "<#" in text:
        text = text.replace("#>", "# >").replace("<#", "< #")
    return text


def _ps_string(text: str) -> str:
    """ps_quote, after replacing what cannot appear in a PowerShell literal (NUL, lone surrogates)."""
    return ps_quote(re.sub("[\x00\ud800-\udfff]", "\ufffd", text))


def safe_filename(name: str) -> str:
    """A file-name fragment from a host name: letters, digits, dot, dash, underscore only."""
    cleaned = _UNSAFE_FILE.sub("_", name).strip("._-")
    return (cleaned or "host")[:100]


def netbios_name(host: str) -> str:
    """What $env:COMPUTERNAME says on that host: the first DNS label, at most 15 characters."""
    return (host.split(".", 1)[0][:15] or host[:15]).upper()


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(slots=True)
class _Change:
    fix: dict[str, Any]
    answers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (finding id, finding)


@dataclass(frozen=True, slots=True)
class FixScript:
    filename: str
    kind: str  # "host", "ad", "session" or "elsewhere"
    target: str  # the host name, "Active Directory", or the session's run_on text
    text: str
    changes: int
    findings: int


def _key(fix: dict[str, Any]) -> tuple[str, str, str]:
    return (fix["target"], fix["summary"], fix["powershell"])


def _looks_like_host(run_on: str, known: set[str]) -> bool:
    """A host fix's run_on is usually a host name; a description ("the candidate destination
    (...)") goes to the script of steps elsewhere, where no computer-name guard can apply."""
    return run_on in known or (bool(run_on.strip()) and not any(ch.isspace() for ch in run_on))


def _collect(report: dict[str, Any], include_warnings: bool) -> dict[tuple[str, str], list[_Change]]:
    """Changes per script, (kind, host), deduplicated, in report order (worst first)."""
    wanted = ("fail", "warning") if include_warnings else ("fail",)
    known = set(host_names(report))
    scripts: dict[tuple[str, str], dict[tuple[str, str, str], _Change]] = {}
    findings = flat_findings(report)
    for f in findings:
        fid = f["id"]
        fix = f.get("fix")
        if f["status"] not in wanted or not fix:
            continue
        target = fix.get("target", "host")
        if target == "ad":
            where = ("ad", "")
        elif target == "session":
            where = ("session", "")
        elif _looks_like_host(fix["run_on"], known):
            where = ("host", fix["run_on"])
        else:
            where = ("elsewhere", "")
        changes = scripts.setdefault(where, {})
        change = changes.setdefault(_key(fix), _Change(fix))
        change.answers.append((fid, f))
    return {k: list(v.values()) for k, v in scripts.items()}


def _targets(change: _Change, fallback: str) -> str:
    """The ShouldProcess target: what the change is about, as -WhatIf will print it."""
    labels: list[str] = []
    for _, f in change.answers:
        if f["subject"]["label"] not in labels:
            labels.append(f["subject"]["label"])
    if not labels:
        return fallback
    if len(labels) <= 3:
        return "; ".join(labels)
    return f"{labels[0]} and {len(labels) - 1} more"


def _indent(code: str) -> str:
    # A here-string's closing '@ / "@ must start its line: leave such code as written.
    if "@'" in code or '@"' in code:
        return code
    return "\n".join(("    " + line) if line.strip() else "" for line in code.splitlines())


def _change_block(n: int, total: int, change: _Change, fallback_target: str) -> list[str]:
    fix = change.fix
    vm_off = bool(fix.get("requires_vm_off"))
    lines = [
        "# " + "-" * 96,
        f"# Change {n} of {total}: {ps_comment(fix['summary'])}",
    ]
    for fid, f in change.answers:
        lines.append(
            f"# Answers {ps_comment(fid)} ({f['status']}, {f['severity']}): {ps_comment(f['subject']['label'])}"
        )
    lines.append(f"# Run on: {ps_comment(fix['run_on'])}")
    lines.append(f"# Run as: {ps_comment(fix['run_as'])}")
    if fix.get("gui"):
        lines.append(f"# GUI: {ps_comment(fix['gui'])}")
    for url in fix.get("docs", []):
        lines.append(f"# Docs: {ps_comment(url)}")
    if vm_off:
        lines.append("# NOTE: the VM must be turned off for this change: plan downtime and shut it down first.")
    action = fix["summary"] + (" (the VM must be turned off first)" if vm_off else "")
    code = fix["powershell"].replace("\r\n", "\n").strip("\n")
    if not code.strip():
        lines.append("# No PowerShell for this change: do it by hand as described above.")
        return [*lines, ""]
    lines.append(f"if ($PSCmdlet.ShouldProcess({_ps_string(_targets(change, fallback_target))}, {_ps_string(action)})) {{")
    lines.append(_indent(code))
    lines.append("}")
    return [*lines, ""]


def _header(report: dict[str, Any], title: str, where: str, run_as: list[str], changes: list[_Change],
            filename: str) -> list[str]:
    run = report["run"]
    n_findings = sum(len(c.answers) for c in changes)
    lines = [
        "<#",
        ".SYNOPSIS",
        f"    {ps_comment(title)}: {count(len(changes), 'change')} answering {count(n_findings, 'finding')}.",
        ".DESCRIPTION",
        f"    Written by hvlm {__version__} from the report of `hvlm {ps_comment(run['command'])}` finished "
        f"{ps_comment(run['finished'])}",
        f"    (snapshot {ps_comment(run['snapshot'])}, taken {ps_comment(run['snapshot_created'])}; "
        f"run by {ps_comment(run['run_by'])}).",
        "    hvlm never runs this script and changed nothing. Read every change before you run it.",
        "",
        f"    Where: {ps_comment(where)}",
    ]
    for who in run_as:
        lines.append(f"    Run as: {ps_comment(who)}")
    lines += [
        "",
        f"    Preview every change:       .\\{filename} -WhatIf",
        f"    Ask before each change:     .\\{filename} -Confirm",
        f"    Apply:                      .\\{filename}",
        "    Then collect and audit again to confirm the findings are gone.",
        ".NOTES",
        "    Findings answered:",
    ]
    for change in changes:
        for fid, f in change.answers:
            lines.append(f"      {ps_comment(fid)}  {f['status']}/{f['severity']}  {ps_comment(f['subject']['label'])}")
    lines.append("#>")
    return lines


def _preamble() -> list[str]:
    return [
        "[CmdletBinding(SupportsShouldProcess)]",
        "param()",
        "",
        "$ErrorActionPreference = 'Stop'",
        "",
    ]


def _host_guard(host: str) -> list[str]:
    if not host.strip() or any(ch.isspace() for ch in host):  # not a host name: say where, cannot check it
        return [f"# Run this on: {ps_comment(host)} (hvlm cannot check the computer name for you).", ""]
    if _is_address(host):
        return [
            "# This script is for one host only: stop unless this computer has its address.",
            f"$ExpectedAddress = {_ps_string(host)}",
            "if (-not (Get-NetIPAddress -IPAddress $ExpectedAddress -ErrorAction SilentlyContinue)) {",
            "    throw ('This script is for the host with address {0}, which this computer ({1}) does not have.' -f "
            "$ExpectedAddress, $env:COMPUTERNAME)",
            "}",
            "",
        ]
    return [
        "# This script is for one host only: stop unless this is that computer.",
        f"$ExpectedComputer = {_ps_string(netbios_name(host))}",
        f"$ExpectedHost = {_ps_string(host)}",
        "if ($env:COMPUTERNAME -ne $ExpectedComputer) {",
        "    throw ('This script is for {0} ({1}) but this computer is {2}.' -f $ExpectedHost, $ExpectedComputer, "
        "$env:COMPUTERNAME)",
        "}",
        "",
    ]


def _distinct(values: list[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def _script(report: dict[str, Any], kind: str, host: str, changes: list[_Change], filename: str) -> FixScript:
    run_as = _distinct([c.fix["run_as"] for c in changes])
    if kind == "ad":
        title, where, target = "hvlm remediation: Active Directory changes", changes[0].fix["run_on"], "Active Directory"
        top = ["#Requires -Modules ActiveDirectory"]
        guard: list[str] = []
    elif kind == "session":
        where = "; ".join(_distinct([c.fix["run_on"] for c in changes]))
        title, target = "hvlm remediation: steps in the operator's session", where
        top, guard = [], []
    elif kind == "elsewhere":
        where = "each change says where (Run on)"
        title, target = "hvlm remediation: changes on machines the report describes but does not name", "see Run on"
        top, guard = [], []
    else:
        title, where, target = f"hvlm remediation for {host}", f"an elevated PowerShell on {host}", host
        top, guard = [], _host_guard(host)
    lines = [*top, *_header(report, title, where, run_as, changes, filename), *_preamble(), *guard]
    for n, change in enumerate(changes, start=1):
        lines += _change_block(n, len(changes), change, target)
    done = f"hvlm: {count(len(changes), 'change')} processed."
    lines.append(f"Write-Verbose {_ps_string(done)}")
    text = "\r\n".join(lines) + "\r\n"
    return FixScript(filename, kind, target, text, len(changes), sum(len(c.answers) for c in changes))


def build_scripts(report: dict[str, Any], *, include_warnings: bool = True) -> list[FixScript]:
    """The scripts for a report: hosts in inventory order, then AD, session and elsewhere scripts."""
    per_script = _collect(report, include_warnings)
    inventory = list(report["inventory"]["hosts"])
    hosts = [k for k in per_script if k[0] == "host"]
    hosts.sort(key=lambda k: (inventory.index(k[1]) if k[1] in inventory else len(inventory), k[1]))
    used: set[str] = set()
    out: list[FixScript] = []
    for kind, host in hosts:
        base = f"fix-host-{safe_filename(host)}"
        name, n = f"{base}.ps1", 1
        while name.casefold() in used:  # Windows file names are case-insensitive
            n += 1
            name = f"{base}-{n}.ps1"
        used.add(name.casefold())
        out.append(_script(report, kind, host, per_script[(kind, host)], name))
    if ("ad", "") in per_script:
        out.append(_script(report, "ad", "", per_script[("ad", "")], AD_FILE))
    if ("session", "") in per_script:
        out.append(_script(report, "session", "", per_script[("session", "")], SESSION_FILE))
    if ("elsewhere", "") in per_script:
        out.append(_script(report, "elsewhere", "", per_script[("elsewhere", "")], ELSEWHERE_FILE))
    return out
