"""PowerShell remediation scripts from a fresh report: one per host, one for Active Directory.

hvlm never runs them. They are written for an administrator to read, preview and run, and to run
to the end as written:
- each fix has a kind (audit.model.Fix.kind). Read-only queries ("check", and the read-only
  commands a fix starts with) run first, outside -WhatIf, each in try/catch so that a failed query
  only warns; changes are wrapped in `if ($PSCmdlet.ShouldProcess(<target>, <what>)) { ... }`, so
  `-WhatIf` previews every change and `-Confirm` asks before each one; "manual" steps (a human
  decides) are printed as commented instructions and never run;
- "disruptive" fixes (stop, move, upgrade or restart VMs or the host; anything that needs a VM
  off) never go in the default script: they go in `fix-host-<name>-disruptive.ps1`, with
  ConfirmImpact High and one ShouldProcess per VM, so each VM is confirmed on its own; a VM that an
  earlier step acted on is not acted on again (the script says so); the default script names it;
- identical statements are written once per script ("already done by change N"); two changes
  that set one host setting (Set-VMHost ...) to different values conflict: the more severe
  finding wins, then Microsoft's default, then the first listed; the other is commented out;
- the live-migration performance option is settled across hosts first (reports/fixperf.py): one
  value for every group of hosts linked by planned moves, instead of one advice per pair;
- the header states who runs the script once: each right it needs with the steps that need it;
- a host script refuses to run anywhere but on its host ($env:COMPUTERNAME, or the address when
  the inventory names the host by IP address); the AD script has `#Requires -Modules ActiveDirectory`;
- each step is commented with the findings it answers (id, status, severity, subject), where
  to run it, who, the GUI path and the docs; the same fix answering several findings is written once.
Idempotence comes from the fixes themselves: Set-*, Enable-*, Install-WindowsFeature are safe to run
again, and a fix that adds or removes something reads it first (a DNS record, a delegation entry, a
migration subnet, a switch) and says "already gone" or "already there"; a disruptive VM step
(checks/_vmsteps.py) reads the VM's state and skips what is done or refuses an unexpected state before
it asks (this module puts the per-VM ShouldProcess after the step's ACT line). This module adds no
state of its own.

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

from hvlm.audit import __version__
from hvlm.audit.model import SEVERITY_ORDER, Severity
from hvlm.audit.psquote import ps_quote
from hvlm.audit.words import count
from hvlm.reports.aggregate import flat_findings, host_names
from hvlm.reports.fixperf import settle as settle_performance

__all__ = ["FixScript", "build_scripts", "is_read_only", "netbios_name", "ps_comment", "safe_filename"]

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


# ------------------------------------------------------------------------------------------------
# What a statement does: read-only commands, split into statements

# Cmdlet verbs and commands that only read. A statement is read-only when every command in its
# pipeline is one of these (after quoted strings are blanked out) and it uses no variable.
_READ_VERBS = ("Get", "Test", "Compare", "Select", "Format", "Sort", "Where", "Measure", "Resolve")
_NOT_READ = {"get-credential"}  # prompts a person
_READ_COMMANDS = {"out-null", "out-string", "write-output", "write-host", "write-verbose", "write-warning"}
_READ_NATIVE = {  # native program -> the arguments that make it read-only (one of them required)
    "w32tm": ("/query", "/stripchart", "/monitor", "/tz"),
    "setspn": ("-l", "-q", "-x"),
    "klist": ("", ),  # any klist except purge (checked below)
}
_CHANGING_ARGS = re.compile(r"(?i)\s-(repair|fix|force|restart|confirm:\s*\$false)\b|\bpurge\b")
_QUOTED = re.compile(r"'(?:[^']|'')*'")


def _command_read_only(segment: str) -> bool:
    words = segment.strip().split()
    if not words:
        return False
    name = words[0].lower()
    if name in _NOT_READ:
        return False
    if name in _READ_COMMANDS:
        return True
    if "-" in name and name.split("-", 1)[0] in {v.lower() for v in _READ_VERBS}:
        return True
    if name in _READ_NATIVE:
        wanted = _READ_NATIVE[name]
        return any(a == "" or a in (w.lower() for w in words[1:]) for a in wanted)
    return False


def is_read_only(statement: str) -> bool:
    """True when a one-line PowerShell statement only reads: every command of its pipeline is a
    query (Get-*, Test-*, Compare-*, formatting, w32tm /query, setspn -L, klist) and it uses no
    variable, so it can run on its own, before the changes and even with -WhatIf."""
    if "\n" in statement.strip() or "@'" in statement or '@"' in statement:
        return False
    bare = _QUOTED.sub("''", statement.strip())
    if not bare or bare.startswith("#") or any(ch in bare for ch in "$;&`\"{}") or _CHANGING_ARGS.search(bare):
        return False
    code = bare.split(" #", 1)[0]
    return all(_command_read_only(seg) for seg in code.split("|"))


def _statements(code: str) -> list[tuple[list[str], list[str]]]:
    """The top-level statements of a fix's code, each as (its comment lines, its code lines).
    A statement starts at a line without indentation unless the line before continues it."""
    lines = code.replace("\r\n", "\n").strip("\n").splitlines()
    if "@'" in code or '@"' in code:  # a here-string: keep the code whole
        return [([], lines)] if lines else []
    out: list[tuple[list[str], list[str]]] = []
    comments: list[str] = []
    current: list[str] | None = None
    for line in lines:
        stripped = line.strip()
        is_comment = stripped.startswith("#")
        continues = current is not None and (
            line[:1].isspace() or stripped[:1] in ("}", ")", "|")
            or current[-1].rstrip().endswith(("|", "`", "{", "(", ",", "="))
        )
        if continues and current is not None:
            current.append(line)
            continue
        if is_comment or not stripped:
            comments.append(line)
            current = None
            continue
        current = [line]
        out.append((comments, current))
        comments = []
    if comments:
        out.append((comments, []))
    return out


# ------------------------------------------------------------------------------------------------
# The plan of one script location (a host, AD, the session, elsewhere)

@dataclass(slots=True)
class _Change:
    fix: dict[str, Any]
    answers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (finding id, finding)
    part_of: str = ""  # a step of another host's script (Fix.also_on) of which a part is done here

    @property
    def kind(self) -> str:
        kind = str(self.fix.get("kind") or "change")
        if self.fix.get("requires_vm_off") or kind == "disruptive":
            return "disruptive"
        if not self.fix["powershell"].strip():
            return "manual"
        return kind if kind in ("change", "check", "manual") else "change"

    @property
    def rank(self) -> int:
        """The worst severity among the findings it answers, failures above warnings."""
        return max((2 if f["status"] == "fail" else 1) * 10 + SEVERITY_ORDER[Severity(f["severity"])]
                   for _, f in self.answers)


@dataclass(slots=True)
class _Block:
    """One numbered step of a script: a read-only check, a change, a manual step or a disruptive step."""

    change: _Change
    role: str  # "check", "change", "manual", "disruptive"
    code: str
    number: int = 0
    notes: list[str] = field(default_factory=list)  # extra comment lines before the code
    skipped: str | None = None  # why it does not run (then its code is printed commented out)
    origin: str = ""  # for a check taken from a change: "before change 3"


@dataclass(frozen=True, slots=True)
class FixScript:
    filename: str
    kind: str  # "host", "ad", "session" or "elsewhere"
    target: str  # the host name, "Active Directory", or the session's run_on text
    text: str
    changes: int  # changes (or, in a disruptive script, disruptive steps) that run
    findings: int
    checks: int = 0  # read-only checks
    manual: int = 0  # manual steps, printed as instructions only
    disruptive: bool = False  # the separate script of disruptive steps


def _key(fix: dict[str, Any]) -> tuple[str, str, str]:
    return (fix["target"], fix["summary"], fix["powershell"])


def _looks_like_host(run_on: str, known: set[str]) -> bool:
    """A host fix's run_on is usually a host name; a description ("the candidate destination
    (...)") goes to the script of steps elsewhere, where no computer-name guard can apply."""
    return run_on in known or (bool(run_on.strip()) and not any(ch.isspace() for ch in run_on))


def _collect(report: dict[str, Any], include_warnings: bool) -> dict[tuple[str, str], list[_Change]]:
    """Fixes per script location, (kind, host), deduplicated, in report order (worst first)."""
    wanted = ("fail", "warning") if include_warnings else ("fail",)
    known = set(host_names(report))
    scripts: dict[tuple[str, str], dict[tuple[str, ...], _Change]] = {}
    findings = flat_findings(report)
    replaced, perf = settle_performance(report, findings, wanted)  # one option per host, not one per pair
    for f in findings:
        fix = f.get("fix")
        if f["status"] not in wanted or not fix or f["id"] in replaced:
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
        changes.setdefault(_key(fix), _Change(fix)).answers.append((f["id"], f))
        if where[0] != "host":
            continue
        for other in fix.get("also_on") or ():  # the other host's script says what is done there, never runs it
            if other != where[1] and _looks_like_host(other, known):
                part = scripts.setdefault(("host", other), {})
                shared = _Change({**fix, "kind": "manual"}, part_of=where[1])
                part.setdefault((*_key(fix), "part"), shared).answers.append((f["id"], f))
    for host, (fix, answers) in perf.items():
        scripts.setdefault(("host", host), {}).setdefault(_key(fix), _Change(fix)).answers.extend(answers)
    return {k: list(v.values()) for k, v in scripts.items()}


def _move_of(f: dict[str, Any]) -> tuple[str, str, str] | None:
    """(VM, source, destination) of a finding about one move; the VM is "" for a pair."""
    subject = f["subject"]
    if subject.get("kind") not in ("pair", "vm") or not subject.get("source") or not subject.get("destination"):
        return None
    vm = str(subject.get("vm_id") or subject.get("vm") or "") if subject["kind"] == "vm" else ""
    return vm, str(subject["source"]), str(subject["destination"])


def _cold_moves(report: dict[str, Any]) -> dict[tuple[str, str, str], list[tuple[str, str]]]:
    """Per move (VM or "" for the whole pair, source, destination): the failures that leave it only a cold move,
    as (finding id, why)."""
    out: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
    for f in flat_findings(report):
        why = str((f.get("fix") or {}).get("cold_move") or "")
        move = _move_of(f)
        if f["status"] == "fail" and why and move is not None:
            out.setdefault(move, []).append((f["id"], why))
    return out


def _held_back(change: _Change, cold: dict[tuple[str, str, str], list[tuple[str, str]]]) -> str | None:
    """Why a fix that only matters for a live move is not needed: every move it answers for must be cold because
    of another failure of that move (of the pair, or of the same VM on it). None when some move may be live."""
    if not change.fix.get("live_only"):
        return None
    reasons: list[str] = []
    for fid, f in change.answers:
        move = _move_of(f)
        if move is None:
            return None
        vm, source, destination = move
        keys = ([(vm, source, destination)] if vm else []) + [("", source, destination)]
        blockers = [why for key in keys for other, why in cold.get(key, []) if other != fid]
        if not blockers:
            return None
        label = f"VM {f['subject'].get('vm')}" if vm else "the move"
        reasons.append(f"{label} from {source} to {destination} must be a cold move because {blockers[0]}")
    return "; ".join(_distinct(reasons)) if reasons else None


def _code(fix: dict[str, Any]) -> str:
    return str(fix["powershell"]).replace("\r\n", "\n").strip("\n")


def _split_reads(code: str) -> tuple[str, str]:
    """(the read-only statements a fix starts with, the rest)."""
    parts = _statements(code)
    reads: list[str] = []
    i = 0
    while i < len(parts) and parts[i][1] and len(parts[i][1]) == 1 and is_read_only(parts[i][1][0]):
        reads += parts[i][0] + parts[i][1]
        i += 1
    rest = [line for comments, stmt in parts[i:] for line in comments + stmt]
    return "\n".join(reads), "\n".join(rest)


def _dedupe(blocks: list[_Block], word: str) -> list[_Block]:
    """Identical code written once: a block whose code an earlier block already has is kept as a note;
    a statement (one line, no variables) already run by an earlier block is commented out."""
    whole: dict[str, int] = {}
    seen: dict[str, int] = {}
    out: list[_Block] = []
    for b in blocks:
        norm = "\n".join(line.rstrip() for line in b.code.splitlines() if line.strip())
        if norm in whole:
            b.skipped = f"already done by {word} {whole[norm]}: the same commands"
            out.append(b)
            continue
        lines: list[str] = []
        for comments, stmt in _statements(b.code):
            text = "\n".join(stmt).strip()
            if len(stmt) == 1 and "$" not in text and text in seen:
                lines.append(f"# Already done by {word} {seen[text]}: {ps_comment(text)}")
                continue
            lines += comments + stmt
        if not any(line.strip() and not line.strip().startswith("#") for line in lines):
            first = next((seen[t] for t in _stmt_texts(b.code) if t in seen), 0)
            b.skipped = f"already done by {word} {first}: the same commands"
            out.append(b)
            continue
        b.code = "\n".join(lines)
        b.number = len(whole) + 1
        whole[norm] = b.number
        for t in _stmt_texts(b.code):
            if "$" not in t:
                seen.setdefault(t, b.number)
        out.append(b)
    return out


def _stmt_texts(code: str) -> list[str]:
    return ["\n".join(stmt).strip() for _, stmt in _statements(code) if len(stmt) == 1]


# Microsoft's defaults for the host settings the checks set (Set-VMHost), used to settle a conflict.
MS_DEFAULTS = {
    "VirtualMachineMigrationPerformanceOption": "Compression",
    "MaximumVirtualMachineMigrations": "2",
}


def _resolve_conflicts(blocks: list[_Block]) -> None:
    """Two changes that set one host setting to different values: the more severe finding wins, then
    Microsoft's default, then the first listed; the other is commented out and says why."""
    by_setting: dict[str, list[tuple[_Block, str]]] = {}
    for b in blocks:
        if b.skipped is None:
            for name, value in b.change.fix.get("sets") or ():
                by_setting.setdefault(str(name), []).append((b, str(value)))
    for name, entries in by_setting.items():
        if len({v for _, v in entries}) < 2:
            continue
        default = MS_DEFAULTS.get(name)

        def order(entry: tuple[_Block, str], default: str | None = default) -> tuple[int, int, int]:
            b, v = entry
            return (-b.change.rank, 0 if v == default else 1, b.number)

        winner, value = min(entries, key=order)
        for b, v in entries:
            if v == value or b.skipped is not None:
                continue
            if b.change.rank != winner.change.rank:
                why = "its finding is more severe"
            elif value == default:
                why = f"{value} is Microsoft's default"
            else:
                why = "it answers the finding listed first"
            b.skipped = f"conflicts with change {winner.number}, which sets {name} to {value} ({why})"


def _plan(changes: list[_Change], host: str) -> tuple[list[_Block], list[_Block], list[_Block], list[_Block]]:
    """(read-only checks, changes, manual steps, disruptive steps) of one location, numbered."""
    checks: list[_Block] = []
    edits: list[_Block] = []
    manual: list[_Block] = []
    disruptive: list[_Block] = []
    for c in changes:
        code = _code(c.fix)
        kind = c.kind
        if kind == "check":
            checks.append(_Block(c, "check", code))
        elif kind == "disruptive":
            disruptive.append(_Block(c, "disruptive", code))
        else:
            reads, rest = _split_reads(code)
            target = manual if kind == "manual" else edits
            block = _Block(c, kind, rest)
            if c.part_of:
                block.notes.append(f"A part of this step is done on this host; the step is also in the script for "
                                   f"{c.part_of} (fix-host-{safe_filename(c.part_of)}.ps1), where the rest is done.")
            if reads:
                checks.append(_Block(c, "check", reads, origin="manual step" if kind == "manual" else "change"))
            if rest.strip() or kind == "manual":
                target.append(block)
    checks = _dedupe(checks, "check")
    edits = _dedupe(edits, "change")
    _resolve_conflicts(edits)
    for n, b in enumerate(manual, start=1):
        b.number = n
    acted: dict[str, int] = {}
    for n, b in enumerate(disruptive, start=1):
        b.number = n
        vms = [str(v) for v in b.change.fix.get("vms") or ()]
        again = [v for v in vms if v in acted]
        if again:
            b.skipped = "; ".join(f"VM {v} was already stopped, moved or upgraded by step {acted[v]}" for v in again) + (
                ": it is not acted on again here; audit again after this script and run the new script")
            continue
        for v in vms:
            acted[v] = n
    return checks, edits, manual, disruptive


# ------------------------------------------------------------------------------------------------
# Rendering

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


def _indent(code: str, by: str = "    ") -> str:
    # A here-string's closing '@ / "@ must start its line: leave such code as written.
    if "@'" in code or '@"' in code:
        return code
    return "\n".join((by + line) if line.strip() else "" for line in code.splitlines())


def _commented(code: str) -> list[str]:
    return [f"#     {ps_comment(line)}" if line.strip() else "#" for line in code.splitlines()]


def _about(block: _Block, title: str) -> list[str]:
    fix = block.change.fix
    lines = ["# " + "-" * 96, f"# {title}: {ps_comment(fix['summary'])}"]
    for fid, f in block.change.answers:
        lines.append(
            f"# Answers {ps_comment(fid)} ({f['status']}, {f['severity']}): {ps_comment(f['subject']['label'])}"
        )
    lines.append(f"# Run on: {ps_comment(fix['run_on'])}")
    lines.append(f"# Run as: {ps_comment(fix['run_as'])}")
    if fix.get("gui"):
        lines.append(f"# GUI: {ps_comment(fix['gui'])}")
    for url in fix.get("docs", []):
        lines.append(f"# Docs: {ps_comment(url)}")
    lines += [f"# {ps_comment(n)}" for n in block.notes]
    return lines


def _check_block(b: _Block, total: int) -> list[str]:
    title = f"Check {b.number} of {total}" if b.number else "Check already run"
    if b.origin:
        title += f", the read-only part of a {b.origin} below"
    lines = _about(b, title)
    if b.skipped is not None:
        return [*lines, f"# Not run again: {ps_comment(b.skipped)}.", ""]
    code, after = _trailing_comments(b.code)
    failed = _ps_string(f"Check {b.number} failed (it only reads; the script goes on): ")
    return [*lines, "try {", _indent(code), "} catch {", f"    Write-Warning ({failed} + $_)", "}", *after, ""]


def _trailing_comments(code: str) -> tuple[str, list[str]]:
    """(the code, the comment lines it ends with): instructions for a person go after the block, not in it."""
    lines = code.splitlines()
    i = len(lines)
    while i > 0 and (lines[i - 1].strip().startswith("#") or not lines[i - 1].strip()):
        i -= 1
    if i == 0 or any(ch in "\n".join(lines[:i]) for ch in ("@'", '@"')):
        return code, []
    return "\n".join(lines[:i]), [line.strip() for line in lines[i:] if line.strip()]


def _change_block(b: _Block, total: int, fallback_target: str) -> list[str]:
    fix = b.change.fix
    title = f"Change {b.number} of {total}" if b.number else "Already done"
    if b.number and b.skipped is not None:
        title += " (not run)"
    lines = _about(b, title)
    if b.skipped is not None:
        return [*lines, f"# Not run: {ps_comment(b.skipped)}.", *(_commented(b.code) if b.number else []), ""]
    code, after = _trailing_comments(b.code)
    target = _ps_string(_targets(b.change, fallback_target))
    lines.append(f"if ($PSCmdlet.ShouldProcess({target}, {_ps_string(fix['summary'])})) {{")
    lines += [_indent(code), "}", *after, ""]
    return lines


def _held_block(b: _Block) -> list[str]:
    lines = _about(b, "Held back, not needed")
    lines.append(f"# Not needed: {ps_comment(b.skipped or '')}. It only matters for a live move; nothing below runs.")
    return [*lines, *_commented(b.code), ""]


def _manual_block(b: _Block, total: int) -> list[str]:
    lines = _about(b, f"Manual step {b.number} of {total}")
    lines.append("# A person decides this step; hvlm does not run it. What to do:")
    if b.code.strip():
        lines += _commented(b.code)
    else:
        lines.append("#     (no PowerShell: do it by hand as described above)")
    return [*lines, ""]


_LOOP = re.compile(r"^foreach \(\$name in (.+)\) \{$")
# The comment after which a VM step (checks/_vmsteps.py) changes the VM: the per-VM question goes there.
_ACT = "# Its state is as expected: from here on the VM is changed."


def _disruptive_block(b: _Block, total: int, host: str) -> list[str]:
    fix = b.change.fix
    vm_off = bool(fix.get("requires_vm_off"))
    lines = _about(b, f"Step {b.number} of {total}")
    if vm_off:
        lines.append("# The VM is turned off for this step: plan the downtime.")
    if b.skipped is not None:
        return [*lines, f"# Not run: {ps_comment(b.skipped)}.", *_commented(b.code), ""]
    action = _ps_string(fix["summary"])
    vms = [str(v) for v in fix.get("vms") or ()]
    code_lines = b.code.splitlines()
    loop = next((i for i, line in enumerate(code_lines) if _LOOP.match(line)), None)
    where = host or fix["run_on"]
    if loop is not None:  # one question per VM, inside the fix's own loop over the VMs
        lines.append("# Asks for each VM on its own (ConfirmImpact High); -WhatIf lists them.")
        guard = (f"    if (-not $PSCmdlet.ShouldProcess(('VM {{0}} on {{1}}' -f $name, {_ps_string(where)}), "
                 f"{action})) {{ continue }}")
        # after the VM's state is read (a VM that is skipped is not asked about), else first in the loop
        at = next((i for i, line in enumerate(code_lines) if i > loop and line.strip() == _ACT), loop)
        body = [*code_lines[: at + 1], guard, *code_lines[at + 1:]]
        return [*lines, "\n".join(body), ""]
    if vms:
        subjects = [f"VM {v} on {where}" for v in vms]
        target = "; ".join(subjects)
    else:
        target = _targets(b.change, where)
    lines.append(f"if ($PSCmdlet.ShouldProcess({_ps_string(target)}, {action})) {{")
    return [*lines, _indent(b.code), "}", ""]


# checks/_fixes.py's LOCAL_ADMIN covers HOST_ADMIN: a local Administrator can do what a Hyper-V Administrator can.
_LOCAL_ADMIN = "a member of the local Administrators group on that host"
_HOST_ADMIN = "a member of Administrators or Hyper-V Administrators on that host"


def _rights(labelled: list[tuple[str, _Block]]) -> dict[str, list[tuple[str, int]]]:
    """Who runs the steps that run: each distinct Run as, with the steps that need it (a local
    Administrator covers the steps for Administrators or Hyper-V Administrators)."""
    by: dict[str, list[tuple[str, int]]] = {}
    for word, b in labelled:
        if b.number and b.skipped is None:
            by.setdefault(str(b.change.fix["run_as"]), []).append((word, b.number))
    if _LOCAL_ADMIN in by and _HOST_ADMIN in by:
        by[_LOCAL_ADMIN] += by.pop(_HOST_ADMIN)
    return by


_WORD_ORDER = ("check", "change", "manual step", "step")


def _step_list(steps: list[tuple[str, int]]) -> str:
    words: dict[str, list[int]] = {}
    for word, n in sorted(steps, key=lambda s: (_WORD_ORDER.index(s[0]), s[1])):
        words.setdefault(word, []).append(n)
    return "; ".join(f"{word if len(ns) == 1 else word + 's'} {', '.join(str(n) for n in sorted(ns))}"
                     for word, ns in words.items())


def _here(text: str, host: str) -> str:
    return text.replace("that host", host) if host else text


def _rights_header(labelled: list[tuple[str, _Block]], host: str) -> list[str]:
    """The header's one statement of every right the script needs, and which steps need each."""
    by = _rights(labelled)
    if not by:
        return ["Run as: no step runs (every step below is commented out)."]
    if len(by) == 1:
        return [f"Run as: {_here(next(iter(by)), host)} (every step)."]
    lines = ["Run as: one account that has every right below (each step repeats the one it needs):"]
    lines += [f"  - {_here(who, host)}: {_step_list(steps)}" for who, steps in by.items()]
    return lines


def _section_rights(word: str, blocks: list[_Block], host: str) -> list[str]:
    """One line under a section's title: who runs the steps of that section."""
    by = _rights([(word, b) for b in blocks])
    if not by:
        return []
    if len(by) == 1:
        return [f"# Run as: {ps_comment(_here(next(iter(by)), host))}."]
    return [f"# Run as: it differs by step ({count(len(by), 'right')}, listed in the header); each step says."]


def _header(report: dict[str, Any], title: str, synopsis: str, where: str, run_as: list[str],
            blocks: list[_Block], filename: str, notes: list[str]) -> list[str]:
    run = report["run"]
    lines = [
        "<#",
        ".SYNOPSIS",
        f"    {ps_comment(title)}: {ps_comment(synopsis)}.",
        ".DESCRIPTION",
        f"    Written by hvlm {__version__} from its own audit (`hvlm {ps_comment(run['command'])}`, finished "
        f"{ps_comment(run['finished'])})",
        f"    of snapshot {ps_comment(run['snapshot'])}, taken {ps_comment(run['snapshot_created'])}; "
        f"run by {ps_comment(run['run_by'])}.",
        "    hvlm never runs this script and changed nothing. Read every step before you run it.",
        "",
        f"    Where: {ps_comment(where)}",
    ]
    lines += [f"    {ps_comment(line)}" for line in run_as]
    lines += [""] + [f"    {ps_comment(n)}" for n in notes] + [
        "",
        f"    Preview:                    .\\{filename} -WhatIf",
        f"    Ask before each change:     .\\{filename} -Confirm",
        f"    Apply:                      .\\{filename}",
        "    Then collect and audit again to confirm the findings are gone.",
        ".NOTES",
        "    Findings answered:",
    ]
    listed: set[str] = set()
    for b in blocks:
        for fid, f in b.change.answers:
            if fid not in listed:
                listed.add(fid)
                lines.append(f"      {ps_comment(fid)}  {f['status']}/{f['severity']}  {ps_comment(f['subject']['label'])}")
    lines.append("#>")
    return lines


def _crlf(lines: list[str]) -> str:
    """The script text with CRLF line ends throughout (blocks of code arrive with LF inside)."""
    return re.sub(r"\r?\n", "\r\n", "\n".join(lines) + "\n")


def _preamble(disruptive: bool) -> list[str]:
    binding = "[CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]" if disruptive else \
        "[CmdletBinding(SupportsShouldProcess)]"
    return [binding, "param()", "", "$ErrorActionPreference = 'Stop'", ""]


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


def _section(title: str, rights: list[str] | None = None) -> list[str]:
    return ["# " + "=" * 96, f"# {title}", *(rights or []), "# " + "=" * 96, ""]


@dataclass(frozen=True, slots=True)
class _Where:
    kind: str
    host: str
    title: str
    where: str
    target: str
    top: list[str]
    guard: list[str]


def _where(kind: str, host: str, changes: list[_Change]) -> _Where:
    if kind == "ad":
        return _Where(kind, host, "hvlm remediation: Active Directory changes", changes[0].fix["run_on"],
                      "Active Directory", ["#Requires -Modules ActiveDirectory"], [])
    if kind == "session":
        where = "; ".join(_distinct([c.fix["run_on"] for c in changes]))
        return _Where(kind, host, "hvlm remediation: steps in the operator's session", where, where, [], [])
    if kind == "elsewhere":
        return _Where(kind, host, "hvlm remediation: changes on machines the report describes but does not name",
                      "each step says where (Run on)", "see Run on", [], [])
    return _Where(kind, host, f"hvlm remediation for {host}", f"an elevated PowerShell on {host}", host, [],
                  _host_guard(host))


def _blocks_findings(blocks: list[_Block]) -> int:
    """The findings these blocks answer; a step shown here as a part of another host's step counts there."""
    return len({fid for b in blocks if not b.change.part_of for fid, _ in b.change.answers})


def _default_script(report: dict[str, Any], w: _Where, checks: list[_Block], edits: list[_Block],
                    manual: list[_Block], filename: str, disruptive_file: str | None,
                    held: list[_Block] | None = None) -> FixScript:
    held = held or []
    blocks = [*checks, *edits, *manual, *held]
    # held-back steps are commented out: they need no right
    run_as = _rights_header([("check", b) for b in checks] + [("change", b) for b in edits]
                            + [("manual step", b) for b in manual], w.host)
    n_checks = sum(1 for b in checks if b.number)
    n_edits = sum(1 for b in edits if b.number)
    running = sum(1 for b in edits if b.number and b.skipped is None)
    parts = [count(running, "change")]
    if n_edits > running:
        parts.append(f"{count(n_edits - running, 'conflicting change')} commented out")
    parts += [count(n_checks, "read-only check"), count(len(manual), "manual step")]
    if held:
        parts.append(f"{count(len(held), 'step')} held back (the move must be cold)")
    synopsis = ", ".join(parts) + f", answering {count(_blocks_findings(blocks), 'finding')}"
    notes = [
        "Read-only checks run first, also with -WhatIf, and only warn when they fail. Changes follow:",
        "each one asks with -Confirm and only says what it would do with -WhatIf. Manual steps are",
        "instructions for a person and never run.",
    ]
    if disruptive_file:
        notes += [
            "Steps that stop, move, upgrade or restart VMs or the host are NOT in this script: they are in",
            f"{disruptive_file}, which asks for each VM on its own. Run it after this one, in a planned window.",
        ]
    lines = [*w.top, *_header(report, w.title, synopsis, w.where, run_as, blocks, filename, notes),
             *_preamble(False), *w.guard]
    if checks:
        lines += _section("Read-only checks: they only read, run even with -WhatIf, and change nothing.",
                          _section_rights("check", checks, w.host))
        for b in checks:
            lines += _check_block(b, n_checks)
    if edits:
        lines += _section("Changes: -WhatIf previews them, -Confirm asks before each one.",
                          _section_rights("change", edits, w.host))
        for b in edits:
            lines += _change_block(b, n_edits, w.target)
    if manual:
        lines += _section("Manual steps: a person decides these. Nothing below runs.",
                          _section_rights("manual step", manual, w.host))
        for b in manual:
            lines += _manual_block(b, len(manual))
    if held:
        lines += _section("Held back: these only matter for a live move, and the same move must be cold. Nothing "
                          "below runs.")
        for b in held:
            lines += _held_block(b)
    done = f"hvlm: {count(running, 'change')} processed, {count(n_checks, 'read-only check')} run."
    lines.append(f"Write-Verbose {_ps_string(done)}")
    if manual:
        todo = f"{count(len(manual), 'manual step')} at the end of this script: for you to do by hand."
        lines.append(f"Write-Warning {_ps_string(todo)}")
    if disruptive_file:
        apart = f"Steps that stop, move or restart VMs are not in this script: see {disruptive_file}."
        lines.append(f"Write-Warning {_ps_string(apart)}")
    text = _crlf(lines)
    return FixScript(filename, w.kind, w.target, text, running, _blocks_findings(blocks), n_checks, len(manual))


def _disruptive_script(report: dict[str, Any], w: _Where, steps: list[_Block], filename: str,
                       default_file: str | None) -> FixScript:
    run_as = _rights_header([("step", b) for b in steps], w.host)
    running = sum(1 for b in steps if b.skipped is None)
    vms = _distinct([str(v) for b in steps if b.skipped is None for v in b.change.fix.get("vms") or ()])
    synopsis = f"{count(running, 'disruptive step')}"
    if vms:
        synopsis += f" on {count(len(vms), 'VM')}"
    synopsis += f", answering {count(_blocks_findings(steps), 'finding')}"
    notes = [
        "Every step here stops, moves, upgrades or restarts VMs or the host. The script asks before each",
        "VM on its own (ConfirmImpact High): answer Yes only for VMs whose downtime is planned.",
        "A VM that one step acted on is not acted on again by a later step: audit again afterwards.",
    ]
    if default_file:
        notes.append(f"Run {default_file} first: it makes the changes that need no downtime.")
    title = w.title.replace("hvlm remediation", "hvlm remediation, disruptive steps", 1)
    lines = [*w.top, *_header(report, title, synopsis, w.where, run_as, steps, filename, notes),
             *_preamble(True), *w.guard]
    lines += _section("Disruptive steps: each VM is confirmed on its own; -WhatIf lists them all.",
                      _section_rights("step", steps, w.host))
    for b in steps:
        lines += _disruptive_block(b, len(steps), w.host)
    done = f"hvlm: {count(running, 'disruptive step')} processed."
    lines.append(f"Write-Verbose {_ps_string(done)}")
    text = _crlf(lines)
    return FixScript(filename, w.kind, w.target, text, running, _blocks_findings(steps), disruptive=True)


def build_scripts(report: dict[str, Any], *, include_warnings: bool = True) -> list[FixScript]:
    """The scripts for a report: hosts in inventory order, then AD, session and elsewhere scripts;
    each location's disruptive steps in a script of their own, right after its default script."""
    per_script = _collect(report, include_warnings)
    inventory = list(report["inventory"]["hosts"])
    hosts = [k for k in per_script if k[0] == "host"]
    hosts.sort(key=lambda k: (inventory.index(k[1]) if k[1] in inventory else len(inventory), k[1]))
    used: set[str] = set()

    def unique(base: str) -> str:
        name, n = f"{base}.ps1", 1
        while name.casefold() in used:  # Windows file names are case-insensitive
            n += 1
            name = f"{base}-{n}.ps1"
        used.add(name.casefold())
        return name

    out: list[FixScript] = []
    cold = _cold_moves(report)
    order = [*hosts, ("ad", ""), ("session", ""), ("elsewhere", "")]
    bases = {"ad": AD_FILE[:-4], "session": SESSION_FILE[:-4], "elsewhere": ELSEWHERE_FILE[:-4]}
    for kind, host in order:
        changes = per_script.get((kind, host))
        if not changes:
            continue
        w = _where(kind, host, changes)
        held: list[_Block] = []
        for c in changes:  # a live-only fix of a move that must be cold anyway: said, not run
            why = _held_back(c, cold)
            if why is not None:
                held.append(_Block(c, "held", _code(c.fix), skipped=why))
        changes = [c for c in changes if all(b.change is not c for b in held)]
        checks, edits, manual, disruptive = _plan(changes, host if kind == "host" else "")
        base = f"fix-host-{safe_filename(host)}" if kind == "host" else bases[kind]
        default_file = unique(base) if checks or edits or manual or held else None
        disruptive_file = unique(f"{base}-disruptive") if disruptive else None
        if default_file:
            out.append(_default_script(report, w, checks, edits, manual, default_file, disruptive_file, held))
        if disruptive_file:
            out.append(_disruptive_script(report, w, disruptive, disruptive_file, default_file))
    return out
