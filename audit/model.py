"""The data model shared by collectors, checks, the engine and the renderers.

Kept free of I/O so that every other module can import it cheaply.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FIX_KINDS",
    "SEVERITY_ORDER",
    "Finding",
    "Fix",
    "Outcome",
    "Severity",
    "Status",
    "Subject",
    "SubjectKind",
]


class Status(enum.StrEnum):
    """What a check concluded about one subject. Separate from severity on purpose."""

    PASS = "pass"  # noqa: S105 - a status, not a password
    FAIL = "fail"
    WARNING = "warning"
    ERROR = "error"
    NOT_APPLICABLE = "not_applicable"


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


SEVERITY_ORDER: dict[Severity, int] = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class SubjectKind(enum.StrEnum):
    """What a finding is about; it decides which facts a check can see."""

    HOST = "host"
    PAIR = "pair"  # ordered source -> destination
    VM = "vm"  # one VM on the source, moving to the destination
    OPERATOR = "operator"  # the operator account on one host
    DOMAIN = "domain"


@dataclass(frozen=True, slots=True)
class Subject:
    kind: SubjectKind
    host: str | None = None  # HOST and OPERATOR
    source: str | None = None  # PAIR and VM
    destination: str | None = None  # PAIR and VM
    vm: str | None = None  # VM name
    vm_id: str | None = None
    domain: str | None = None  # DOMAIN
    operator: str | None = None  # OPERATOR

    @property
    def label(self) -> str:
        """A short human label, also used to group and sort findings."""
        if self.kind is SubjectKind.HOST:
            return f"{self.host}"
        if self.kind is SubjectKind.PAIR:
            return f"{self.source} -> {self.destination}"
        if self.kind is SubjectKind.VM:
            if self.vm is None:  # a VM check's verdict on the move as a whole (VMs not collected)
                return f"the VMs of {self.source} -> {self.destination}"
            return f"VM {self.vm} on {self.source} -> {self.destination}"
        if self.kind is SubjectKind.OPERATOR:
            return f"{self.operator} on {self.host}"
        return f"domain {self.domain}"

    @property
    def hosts(self) -> tuple[str, ...]:
        """Every host this subject touches, for grouping by host."""
        names = (self.host, self.source, self.destination)
        return tuple(n for n in names if n)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "label": self.label}
        for key in ("host", "source", "destination", "vm", "vm_id", "domain", "operator"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Subject:
        return cls(
            kind=SubjectKind(data["kind"]),
            **{
                k: data.get(k)
                for k in ("host", "source", "destination", "vm", "vm_id", "domain", "operator")
            },
        )


FIX_KINDS = ("change", "check", "disruptive", "manual")


@dataclass(frozen=True, slots=True)
class Fix:
    """How to remedy a finding: what, where, the exact PowerShell, the GUI path, the docs."""

    summary: str
    run_on: str  # a host name, or a description such as "a machine with the ActiveDirectory module"
    run_as: str  # who must run it, e.g. "member of Domain Admins"
    powershell: str  # names already quoted with audit.psquote
    gui: str | None = None
    docs: tuple[str, ...] = ()
    target: str = "host"  # "host" (run on run_on) or "ad" (Active Directory change)
    requires_vm_off: bool = False
    # What running `powershell` does, for the fix scripts (reports/fixscript.py):
    #   "change"     changes configuration (the default);
    #   "check"      only reads (Get-*, Compare-VM, Test-NetConnection, w32tm /query, ...): runs outside -WhatIf;
    #   "disruptive" stops, moves, upgrades or restarts VMs or the host: never in the default script;
    #   "manual"     a human must decide something first: printed as a commented instruction, never run.
    # A disruptive fix that acts on several VMs loops over them with `foreach ($name in ...) {` so that the
    # script can ask for each VM on its own.
    kind: str = "change"
    vms: tuple[str, ...] = ()  # the VMs a disruptive fix stops, moves or upgrades
    sets: tuple[tuple[str, str], ...] = ()  # host settings it sets on run_on, e.g. ("MaximumVirtualMachineMigrations", "2")
    # Other hosts where a part of this step is done (a certificate exported on run_on, imported there): their
    # fix scripts carry the step too, as a manual step that says so.
    also_on: tuple[str, ...] = ()
    # A blocker of live migration: why the finding's subject (a pair, or a VM on it) can only move cold, shut
    # down, while the finding stands ("" when it does not force that).
    cold_move: str = ""
    # The fix only matters for a live move: the fix scripts hold it back when another failure of the same move
    # (cold_move) says that move must be cold anyway.
    live_only: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "run_on": self.run_on,
            "run_as": self.run_as,
            "target": self.target,
            "powershell": self.powershell,
            "gui": self.gui,
            "docs": list(self.docs),
            "requires_vm_off": self.requires_vm_off,
            "kind": self.kind,
            "vms": list(self.vms),
            "sets": [list(pair) for pair in self.sets],
            "also_on": list(self.also_on),
            "cold_move": self.cold_move,
            "live_only": self.live_only,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fix:
        return cls(
            summary=data["summary"],
            run_on=data["run_on"],
            run_as=data["run_as"],
            powershell=data["powershell"],
            gui=data.get("gui"),
            docs=tuple(data.get("docs", ())),
            target=data.get("target", "host"),
            requires_vm_off=bool(data.get("requires_vm_off", False)),
            kind=data.get("kind", "change"),
            vms=tuple(data.get("vms", ())),
            sets=tuple((str(k), str(v)) for k, v in data.get("sets", ())),
            also_on=tuple(str(h) for h in data.get("also_on", ())),
            cold_move=str(data.get("cold_move") or ""),
            live_only=bool(data.get("live_only", False)),
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a check function returns for one subject; the engine turns it into a Finding."""

    status: Status
    message: str
    fix: Fix | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    subject: Subject | None = None  # override, e.g. a VM subject yielded by a pair check
    severity: Severity | None = None  # override of the check's default, e.g. info notes


@dataclass(frozen=True, slots=True)
class Finding:
    check_id: str
    title: str
    subject: Subject
    status: Status
    severity: Severity
    message: str
    evidence: dict[str, Any]
    facts_used: tuple[dict[str, Any], ...] = ()
    fix: Fix | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "title": self.title,
            "subject": self.subject.to_dict(),
            "status": self.status.value,
            "severity": self.severity.value,
            "message": self.message,
            "evidence": self.evidence,
            "facts_used": list(self.facts_used),
            "fix": self.fix.to_dict() if self.fix else None,
        }
