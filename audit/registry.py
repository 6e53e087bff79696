"""Check definitions and the registry that discovers them through entry points.

A check is a pure function of facts with its metadata beside it. Built-in checks live in the
`checks` package; third parties ship theirs in their own package and declare an entry point in
the `hvlm.checks` group pointing at a module or package. No check module touches a global
registry on import: the registry walks the modules and collects the `Check` objects it finds.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

from hvlm.audit.catalogue import catalogue, refresh_catalogue
from hvlm.audit.errors import CheckDefinitionError
from hvlm.audit.model import Outcome, Severity, SubjectKind

if TYPE_CHECKING:
    from hvlm.audit.facts import Facts, RoleFacts

__all__ = ["ENTRY_POINT_GROUP", "ROLES", "Check", "CheckMeta", "Registry", "check", "load_registry"]

ENTRY_POINT_GROUP = "hvlm.checks"
_ID_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")
ROLES: dict[SubjectKind, tuple[str, ...]] = {
    SubjectKind.HOST: ("host",),
    SubjectKind.OPERATOR: ("host",),
    SubjectKind.PAIR: ("source", "destination"),
    SubjectKind.VM: ("source", "destination"),
    SubjectKind.DOMAIN: ("domain",),
}

CheckFunc = Callable[["Facts"], Outcome | Iterable[Outcome]]
# The equivalence class of a pair (or of the pair part of a VM subject): two subjects with equal
# keys get the same statuses from the check, so the engine decides each class once (see engine.py).
PairKey = Callable[["RoleFacts", "RoleFacts"], Hashable]
VMKey = Callable[[Mapping[str, Any], "RoleFacts"], Hashable]  # (the VM, its source's facts)
# A separable pair key: (source part, destination part), each a function of one end's facts, so the
# engine computes it once per host and classes 38,000 directions with dictionary lookups alone.
PairParts = tuple[Callable[["RoleFacts"], Hashable], Callable[["RoleFacts"], Hashable]]


@dataclass(frozen=True)
class CheckMeta:
    id: str
    title: str
    severity: Severity
    subject: SubjectKind
    requires: tuple[str, ...]  # "role.fact", "operator", "management"; a trailing "?" marks an optional fact
    rationale: str
    references: tuple[str, ...]
    fix_hint: str  # one line: what the fix does, shown in `hvlm checks --verbose`
    module: str = ""
    # Judged for the return direction of a planned move too (what a rollback needs: delegation,
    # authentication, trust, networks). Only pair checks; VM checks judge planned moves alone.
    rollback: bool = False

    def validate(self) -> None:
        problems: list[str] = []
        if not _ID_RE.match(self.id):
            problems.append("id must be lower-case words joined by '-'")
        if not self.title.strip() or not self.rationale.strip() or not self.fix_hint.strip():
            problems.append("title, rationale and fix_hint must not be empty")
        if not self.references or not all(r.startswith("https://") for r in self.references):
            problems.append("references must be a non-empty list of https URLs")
        if not self.requires:
            problems.append("a check must declare the facts it needs")
        roles = ROLES[self.subject]
        facts = catalogue()  # each of these sets is built anew on every access: once per check, not per fact
        top, host, domain = facts.top_facts, facts.host_facts, facts.domain_facts
        for req in self.requires:
            name = req.rstrip("?")
            if name in top:
                continue
            role, _, fact = name.partition(".")
            allowed = domain if role == "domain" else host
            if role not in roles or fact not in allowed:
                problems.append(f"requires {req!r} does not fit a {self.subject.value} subject")
        if self.rollback and self.subject is not SubjectKind.PAIR:
            problems.append("only pair checks can be rollback checks")
        if problems:
            raise CheckDefinitionError(f"check {self.id!r} ({self.module}): " + "; ".join(problems))

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(r for r in self.requires if not r.endswith("?"))

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(r.rstrip("?") for r in self.requires if r.endswith("?"))


@dataclass(frozen=True)
class Check:
    meta: CheckMeta
    func: CheckFunc
    # Optional equivalence classes (engine.py): `key` maps a pair's declared facts to a value
    # that determines the check's statuses for the pair; `vm_key` does the same for one VM of
    # a VM check (the VM's own fields, and its rows in the source's per-VM tables such as disks or
    # media, never its name unless the verdict depends on it).
    # Without them every subject is judged on its own: correct, only slower on large fleets.
    key: PairKey | None = None
    vm_key: VMKey | None = None
    # Instead of `key`, when the key is a pair of per-host values: equal parts must mean equal statuses.
    parts: PairParts | None = None
    # For a VM check: true for the vm_key values whose statuses depend on the VM and its source alone (a VM
    # with no file on a share, say), so that class is judged once per source, not once per pair class.
    # Only for checks whose destination facts are all optional (checked below).
    vm_pair_free: Callable[[Hashable], bool] | None = None

    def __call__(self, facts: Facts) -> Outcome | Iterable[Outcome]:
        return self.func(facts)


def check(
    *,
    id: str,
    title: str,
    severity: Severity,
    subject: SubjectKind,
    requires: Iterable[str],
    rationale: str,
    references: Iterable[str],
    fix_hint: str,
    rollback: bool = False,
    key: PairKey | None = None,
    vm_key: VMKey | None = None,
    parts: PairParts | None = None,
    vm_pair_free: Callable[[Hashable], bool] | None = None,
) -> Callable[[CheckFunc], Check]:
    """Decorate a pure function of facts to make it a check."""

    def wrap(func: CheckFunc) -> Check:
        meta = CheckMeta(
            id=id,
            title=title,
            severity=severity,
            subject=subject,
            requires=tuple(requires),
            rationale=" ".join(rationale.split()),
            references=tuple(references),
            fix_hint=fix_hint,
            module=func.__module__,
            rollback=rollback,
        )
        meta.validate()
        if (key is not None or parts is not None) and subject not in (SubjectKind.PAIR, SubjectKind.VM):
            raise CheckDefinitionError(f"check {id!r} ({meta.module}): key and parts are for pair and VM checks")
        if key is not None and parts is not None:
            raise CheckDefinitionError(f"check {id!r} ({meta.module}): give key or parts, not both")
        if vm_key is not None and subject is not SubjectKind.VM:
            raise CheckDefinitionError(f"check {id!r} ({meta.module}): vm_key is for VM checks")
        if vm_pair_free is not None and (vm_key is None or any(
                r.startswith("destination.") and not r.endswith("?") for r in meta.requires)):
            raise CheckDefinitionError(f"check {id!r} ({meta.module}): vm_pair_free needs vm_key and only optional "
                                       "destination facts")
        return Check(meta, func, key, vm_key, parts, vm_pair_free)

    return wrap


class Registry:
    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def add(self, item: Check) -> None:
        existing = self._checks.get(item.meta.id)
        if existing is not None and existing is not item:
            raise CheckDefinitionError(
                f"duplicate check id {item.meta.id!r}: defined in {existing.meta.module} and {item.meta.module}"
            )
        self._checks[item.meta.id] = item

    def add_module(self, module: ModuleType) -> None:
        for mod in _walk(module):
            for value in vars(mod).values():
                if isinstance(value, Check) and value.meta.module == mod.__name__:
                    self.add(value)

    def __iter__(self) -> Iterator[Check]:
        return iter(sorted(self._checks.values(), key=lambda c: c.meta.id))

    def __len__(self) -> int:
        return len(self._checks)

    def __contains__(self, check_id: object) -> bool:
        return check_id in self._checks

    def get(self, check_id: str) -> Check:
        return self._checks[check_id]

    @property
    def ids(self) -> list[str]:
        return sorted(self._checks)


def _walk(module: ModuleType) -> Iterator[ModuleType]:
    yield module
    path = getattr(module, "__path__", None)
    if path is None:
        return
    for info in sorted(pkgutil.iter_modules(path), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        yield from _walk(importlib.import_module(f"{module.__name__}.{info.name}"))


def load_registry(include_entry_points: bool = True) -> Registry:
    """The built-in checks plus every `hvlm.checks` entry point.

    The fact catalogue is read again first, so a plug-in check may declare the facts that a
    plug-in collector (an `hvlm.facts` entry point) adds.
    """
    if include_entry_points:
        refresh_catalogue()
    registry = Registry()
    registry.add_module(importlib.import_module("hvlm.checks"))
    if include_entry_points:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.value == "hvlm.checks":
                continue
            try:
                module = ep.load()
            except Exception as exc:
                raise CheckDefinitionError(f"cannot load check plug-in {ep.name!r} ({ep.value}): {exc}") from exc
            if not isinstance(module, ModuleType):
                raise CheckDefinitionError(f"check plug-in {ep.name!r} must point at a module or package")
            registry.add_module(module)
    return registry
