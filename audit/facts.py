"""What a check sees: only the facts it declared, resolved for its subject.

Resolution turns "source.ad_computer" into the destination-domain computer object of the source
host, "destination.dns" into its DNS records, and so on. A fact that errored or was never collected
resolves to a FactError; the engine never runs a check whose required facts are unavailable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from hvlm.audit.catalogue import catalogue
from hvlm.audit.model import Subject, SubjectKind
from hvlm.audit.snapshot import FactError, Snapshot

__all__ = ["FactResolver", "Facts", "HostRef", "RoleFacts", "UndeclaredFactError"]

T = TypeVar("T")



class UndeclaredFactError(KeyError):
    """A check read a fact it did not declare: a bug in the check."""


@dataclass(frozen=True)
class HostRef:
    """Names of a host as checks need them in messages and fixes."""

    name: str  # inventory name
    fqdn: str
    short: str  # NetBIOS-style, upper case
    domain: str | None


class FactResolver:
    """Resolves fact names for subjects. One resolver serves one evaluation of one snapshot, so
    it caches what every subject asks again (host names, the computer-object index, values
    derived from the whole inventory): a fleet of hundreds of hosts has tens of thousands of
    subjects."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._refs: dict[str, HostRef] = {}
        self._computers: dict[int, dict[str, dict[str, Any]]] = {}
        self._by_host: dict[tuple[str, str], tuple[str, dict[str, Any] | FactError]] = {}
        self.memo: dict[str, Any] = {}
        # host views of domain sections, from the fact catalogue: "ad_computer" -> "computers", ...
        self._views = catalogue().domain_views

    def resolve_host(self, host: str, fact_name: str) -> tuple[str, dict[str, Any] | FactError]:
        """A host fact ("vmhost", "ad_computer", "dns", ...) of one host, resolved once per run."""
        key = (host, fact_name)
        hit = self._by_host.get(key)
        if hit is None:
            hit = self._by_host[key] = self.resolve(Subject(SubjectKind.HOST, host=host), f"host.{fact_name}")
        return hit

    def host_ref(self, host: str) -> HostRef:
        ref = self._refs.get(host)
        if ref is None:
            s = self.snapshot
            ref = self._refs[host] = HostRef(host, s.host_fqdn(host), s.host_short(host), s.host_domain(host))
        return ref

    def role_host(self, subject: Subject, role: str) -> str | None:
        if role == "host":
            return subject.host
        if role == "source":
            return subject.source
        if role == "destination":
            return subject.destination
        return None

    def resolve(self, subject: Subject, name: str) -> tuple[str, dict[str, Any] | FactError]:
        """Return (snapshot path, fact dict or FactError) for one declared fact name."""
        s = self.snapshot
        if name == "operator":
            path = "operator"
            fact = s.raw_fact("operator")
            if fact is None:
                reason = (
                    "the inventory names no operator account"
                    if not s.operator_name
                    else f"operator {s.operator_name} was not looked up in Active Directory"
                )
                return path, FactError(path, "not_collected", reason)
            return path, _checked(path, fact)
        if name == "management":
            fact = s.raw_fact("management")
            if fact is None:
                return name, FactError(name, "not_collected", "the machine hvlm collected from was not described "
                                       "(a snapshot from an older hvlm, or not made by hvlm collect)")
            return name, _checked(name, fact)
        role, _, fact_name = name.partition(".")
        if role == "domain":
            dom = subject.domain or ""
            path = f"domains/{dom}/{fact_name}"
            fact = s.raw_fact("domains", dom, fact_name)
            return path, _missing(path) if fact is None else _checked(path, fact)
        host = self.role_host(subject, role)
        if host is None:
            raise UndeclaredFactError(name)
        if fact_name == "dns":
            path = f"dns/{host}"
            fact = s.raw_fact("dns", host)
            return path, _missing(path) if fact is None else _checked(path, fact)
        section = self._views.get(fact_name)
        if section is not None:
            domain = s.host_domain(host)
            if domain is None:
                path = f"hosts/{host}/computer_system"
                return path, FactError(path, "not_collected", f"the domain of {host} is not known")
            path = f"domains/{domain}/{section}"
            fact = s.raw_fact("domains", domain, section)
            if fact is None:
                return path, _missing(path)
            checked = _checked(path, fact)
            if fact_name != "ad_computer" or isinstance(checked, FactError):
                return path, checked
            return self._computer(host, path, checked)
        path = f"hosts/{host}/{fact_name}"
        fact = s.raw_fact("hosts", host, fact_name)
        return path, _missing(path) if fact is None else _checked(path, fact)

    def _computer(self, host: str, path: str, fact: dict[str, Any]) -> tuple[str, dict[str, Any] | FactError]:
        ref = self.host_ref(host)
        index = self._computers.get(id(fact))
        if index is None:
            index = {}
            for obj in reversed(fact["value"]):  # the first object wins, as a linear search would
                if obj.get("dNSHostName"):
                    index[f"dns:{str(obj['dNSHostName']).lower()}"] = obj
                index[f"sam:{str(obj['sAMAccountName']).lower()}"] = obj
            self._computers[id(fact)] = index
        obj = index.get(f"dns:{ref.fqdn}") or index.get(f"sam:{ref.short.lower()}$")
        if obj is not None:
            return path, {**fact, "value": obj}
        return path, FactError(
            path, "not_found", f"no computer object for {ref.short} ({ref.fqdn}) among the collected AD objects"
        )


def _missing(path: str) -> FactError:
    return FactError(path, "not_collected", "this fact was not collected")


def _checked(path: str, fact: dict[str, Any]) -> dict[str, Any] | FactError:
    if "error" in fact:
        err = fact["error"]
        return FactError(path, str(err.get("kind", "error")), str(err.get("message", "")))
    return fact


class Facts:
    """The facts one check may read for one subject."""

    def __init__(
        self,
        subject: Subject,
        values: dict[str, Any],
        unavailable: dict[str, FactError],
        resolver: FactResolver,
        vm: dict[str, Any] | None = None,
    ) -> None:
        self.subject = subject
        self._values = values
        self._unavailable = unavailable
        self._resolver = resolver
        self.vm = vm  # the VM for VM subjects

    def __getitem__(self, name: str) -> Any:
        """A required fact's value. Raises for a fact the check did not declare."""
        if name in self._values:
            return self._values[name]
        if name in self._unavailable:
            return None
        raise UndeclaredFactError(f"fact {name!r} was not declared by this check")

    def optional(self, name: str) -> Any | None:
        """An optional fact's value, or None when it could not be had."""
        return self[name]

    def unavailable(self, name: str) -> FactError | None:
        if name not in self._values and name not in self._unavailable:
            raise UndeclaredFactError(f"fact {name!r} was not declared by this check")
        return self._unavailable.get(name)

    def provenance(self, name: str) -> dict[str, Any] | None:
        """Where and when a declared fact was collected: {"source": ..., "collected_at": ...}.

        None when the fact is unavailable. Checks that reason about collection time (clock skew)
        need it; reading it for an undeclared fact is a bug, as reading its value would be.
        """
        if self.unavailable(name) is not None:
            return None
        _, fact = self._resolver.resolve(self.subject, name)
        if isinstance(fact, FactError):
            return None
        return {"source": fact["source"], "collected_at": fact["collected_at"]}

    def across_inventory(self, name: str) -> dict[str, Any]:
        """A declared host fact ("destination.supported_versions") on every inventory host, by name.

        For fixes that name another host, such as a destination that runs a VM's configuration
        version. Hosts where the fact errored or was not collected are left out; callers list
        what they used in their evidence, since these values are not in facts_used.
        """
        self.unavailable(name)  # raises for an undeclared fact
        fact_name = name.partition(".")[2]

        def gather() -> dict[str, Any]:
            snap = self._resolver.snapshot
            found = {h: snap.raw_fact("hosts", h, fact_name) for h in snap.hosts}
            return {h: fact["value"] for h, fact in found.items() if fact is not None and "value" in fact}

        return self.derived(f"across_inventory:{fact_name}", gather)

    def partners(self) -> list[str]:
        """The hosts the inventory pairs with this subject's host, in either direction (the planned moves
        and their way back), sorted. For fixes that change what a host accepts from its peers."""
        host = self._resolver.role_host(self.subject, "host")
        pairs = self._resolver.snapshot.pairs
        return sorted({d for s, d in pairs if s == host} | {s for s, d in pairs if d == host} - {host})

    def derived(self, key: str, compute: Callable[[], T]) -> T:
        """A value derived from the whole snapshot, computed once per evaluation.

        Checks stay pure functions of facts; this only spares recomputing the same index (for
        example "which hosts run configuration version X") for every one of thousands of subjects.
        """
        memo = self._resolver.memo
        if key not in memo:
            memo[key] = compute()
        value: T = memo[key]
        return value

    def host(self, role: str = "host") -> HostRef:
        host = self._resolver.role_host(self.subject, role)
        if host is None:
            raise UndeclaredFactError(f"role {role!r} does not exist for a {self.subject.kind.value} subject")
        return self._resolver.host_ref(host)

    @property
    def operator_name(self) -> str | None:
        return self._resolver.snapshot.operator_name

    @property
    def is_vm(self) -> bool:
        return self.subject.kind is SubjectKind.VM


class RoleFacts:
    """What a class key sees of one end of a pair: the declared facts of that role, by bare name.

    `src["vmhost"]` is the source's Get-VMHost value, None when it could not be had (a required
    fact that is unavailable never reaches a key: the engine reports the error first). Reading a
    fact the check did not declare raises, as it does in the check itself.
    """

    __slots__ = ("_cache", "_facts", "_values", "ref")

    def __init__(self, values: dict[str, Any], ref: HostRef, facts: dict[str, Any] | None = None) -> None:
        self._values = values
        self.ref = ref
        self._cache: dict[str, Any] = {}
        self._facts = facts or {}

    def provenance(self, name: str) -> dict[str, Any] | None:
        """As Facts.provenance: {"source": ..., "collected_at": ...} of a declared fact, None if unavailable."""
        self[name]
        fact = self._facts.get(name)
        return None if fact is None else {"source": fact["source"], "collected_at": fact["collected_at"]}

    def derived(self, name: str, compute: Callable[[RoleFacts], T]) -> T:
        """A value computed from this end's facts once (the engine keeps one RoleFacts per check and
        host), so a key's per-host part (a set of delegation entries, parsed subnets) costs a lookup."""
        try:
            value: T = self._cache[name]
        except KeyError:
            value = self._cache[name] = compute(self)
        return value

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise UndeclaredFactError(f"fact {name!r} was not declared by this check for this role") from None
