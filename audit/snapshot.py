"""The facts snapshot: one JSON document, validated against the shipped schema on load.

Collectors write it; the engine reads it. Facts are plain dicts shaped as the schema says so that
a snapshot made from real hosts maps one to one to what PowerShell and AD return.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hvlm.audit import __version__
from hvlm.audit.errors import InputError, UsageError
from hvlm.audit.jsonio import DEFAULT_MAX_BYTES, read_json_file, validate_document

__all__ = [
    "NON_BLOCKING_KINDS",
    "NOTE_KINDS",
    "PROBE_WARNING",
    "SCHEMA_VERSION",
    "FactError",
    "Snapshot",
    "error_fact",
    "new_snapshot_document",
    "now_iso",
    "value_fact",
]

SCHEMA_VERSION = 1
PROBE_WARNING = "probe_warning"
# Kinds of uncollected() entries that are notes, not missing facts: a report lists them but they
# never make a run incomplete (nor does not_found, a fact that does not exist on that host).
NOTE_KINDS = frozenset({PROBE_WARNING})
NON_BLOCKING_KINDS = frozenset({"not_found", *NOTE_KINDS})


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _source(collector: str, host: str | None, command: str | None) -> dict[str, Any]:
    return {"collector": collector, "host": host, "command": command}


def value_fact(
    value: Any, collector: str, host: str | None = None, command: str | None = None, when: str | None = None
) -> dict[str, Any]:
    return {"source": _source(collector, host, command), "collected_at": when or now_iso(), "value": value}


def error_fact(
    kind: str,
    message: str,
    collector: str,
    host: str | None = None,
    command: str | None = None,
    when: str | None = None,
) -> dict[str, Any]:
    return {
        "source": _source(collector, host, command),
        "collected_at": when or now_iso(),
        "error": {"kind": kind, "message": message},
    }


def new_snapshot_document(inventory: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "created": now_iso(),
        "complete": True,
        "tool": {"name": "hvlm", "version": __version__},
        "inventory": inventory,
        "hosts": {},
        "domains": {},
        "dns": {},
    }


@dataclass(frozen=True)
class FactError:
    """Why a fact is unavailable: it errored at collection, or it was never collected."""

    path: str
    kind: str
    message: str


class Snapshot:
    """A validated snapshot document with lookups by path ("hosts/HV01/vmhost")."""

    def __init__(self, doc: dict[str, Any], name: str = "<snapshot>") -> None:
        self.doc = doc
        self.name = name

    @classmethod
    def load(cls, path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Snapshot:
        name = str(path)
        doc = read_json_file(path, max_bytes)
        return cls.from_document(doc, name)

    @classmethod
    def from_document(cls, doc: Any, name: str = "<snapshot>") -> Snapshot:
        if not isinstance(doc, dict):
            raise InputError(name, "a snapshot must be a JSON object", "/")
        if "schema_version" not in doc:
            raise InputError(name, "missing schema_version (is this an hvlm snapshot?)", "/schema_version")
        if doc["schema_version"] != SCHEMA_VERSION:
            raise InputError(
                name,
                f"unsupported schema_version {doc['schema_version']!r}; this hvlm reads {SCHEMA_VERSION}",
                "/schema_version",
            )
        validate_document(doc, "snapshot", name)
        inv_hosts = doc["inventory"]["hosts"]
        if len(set(inv_hosts)) != len(inv_hosts):
            raise InputError(name, "inventory names a host twice", "/inventory/hosts")
        return cls(doc, name)

    def save(self, path: str | Path) -> None:
        """Write the snapshot; an unwritable path is a usage error naming it, never a traceback."""
        text = json.dumps(self.doc, indent=1, ensure_ascii=False) + "\n"
        try:
            Path(path).write_text(text, "utf-8", errors="backslashreplace")
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None

    # -- lookups ---------------------------------------------------------------------------

    @property
    def hosts(self) -> list[str]:
        return list(self.doc["inventory"]["hosts"])

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [(s, d) for s, d in self.doc["inventory"]["pairs"]]

    @property
    def operator_name(self) -> str | None:
        op = self.doc["inventory"].get("operator")
        return str(op) if op else None

    @property
    def complete(self) -> bool:
        return bool(self.doc.get("complete", True))

    def raw_fact(self, *keys: str) -> dict[str, Any] | None:
        node: Any = self.doc
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node if isinstance(node, dict) else None

    def host_domain(self, host: str) -> str | None:
        """The DNS domain of a host: what the host reports, else its FQDN's suffix."""
        cs = self.raw_fact("hosts", host, "computer_system")
        if cs and "value" in cs and cs["value"].get("PartOfDomain"):
            return str(cs["value"]["Domain"]).lower()
        if "." in host:
            return host.split(".", 1)[1].lower()
        return None

    def host_fqdn(self, host: str) -> str:
        cs = self.raw_fact("hosts", host, "computer_system")
        if cs and "value" in cs:
            v = cs["value"]
            if v.get("PartOfDomain") and v.get("DNSHostName"):
                return f"{v['DNSHostName']}.{v['Domain']}".lower()
        vh = self.raw_fact("hosts", host, "vmhost")
        if vh and "value" in vh and vh["value"].get("FullyQualifiedDomainName"):
            return str(vh["value"]["FullyQualifiedDomainName"]).lower()
        return host.lower()

    def host_short(self, host: str) -> str:
        cs = self.raw_fact("hosts", host, "computer_system")
        if cs and "value" in cs and cs["value"].get("Name"):
            return str(cs["value"]["Name"]).upper()
        return host.split(".", 1)[0].upper()

    def notes(self) -> list[dict[str, Any]]:
        """Non-terminating errors the probe caught on a host (Write-Error records: the host's facts
        were still read), kept in hosts/HOST/connection value probe_errors; one entry each, shaped
        as uncollected() entries, of kind "probe_warning" (NOTE_KINDS): listed, never incomplete."""
        out: list[dict[str, Any]] = []
        for host, sections in self.doc["hosts"].items():
            conn = sections.get("connection") if isinstance(sections, dict) else None
            if not isinstance(conn, dict) or not isinstance(conn.get("value"), dict):
                continue
            for message in conn["value"].get("probe_errors") or []:
                out.append({
                    "path": f"hosts/{host}/connection",
                    "kind": PROBE_WARNING,
                    "message": f"the probe reported an error it recovered from on {host}: {message}",
                    "source": conn["source"],
                })
        return out

    def uncollected(self, include_notes: bool = False) -> list[dict[str, Any]]:
        """Every fact that holds an error, for the report's "could not be collected" list; with
        include_notes, the notes() too (whose kinds, NOTE_KINDS, do not make a run incomplete)."""
        out: list[dict[str, Any]] = []

        def visit(prefix: str, node: dict[str, Any]) -> None:
            for key, fact in node.items():
                if isinstance(fact, dict) and "error" in fact and "source" in fact:
                    out.append({"path": f"{prefix}/{key}", **fact["error"], "source": fact["source"]})

        for host, sections in self.doc["hosts"].items():
            visit(f"hosts/{host}", sections)
        for dom, sections in self.doc["domains"].items():
            visit(f"domains/{dom}", sections)
        visit("dns", self.doc["dns"])
        if "operator" in self.doc:
            visit("", {"operator": self.doc["operator"]})
        if include_notes:
            out.extend(self.notes())
        return out
