"""Drift between two runs: findings new, fixed, changed and unchanged between two reports (by
member id: check + hash of the subject, the same in every run), or the facts that changed between
two snapshots (a delegation entry removed, a VM's version upgraded, a host added), path by path.

Also the baseline of `audit --baseline OLD_REPORT`: each member of the new report is marked
`baseline_state` new, unchanged or updated, and the old report's members now absent are listed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from hvlm.audit import __version__
from hvlm.audit.errors import InputError
from hvlm.audit.jsonio import read_json_file, validate_document
from hvlm.audit.snapshot import now_iso

__all__ = [
    "DIFF_VERSION",
    "apply_baseline",
    "diff_documents",
    "diff_reports",
    "diff_snapshots",
    "load_document",
    "load_report",
]

DIFF_VERSION = 1


# --- reading the two documents ---------------------------------------------------------------------


def document_kind(doc: Any) -> str | None:
    """ "report", "snapshot" or None, from the document's shape."""
    if isinstance(doc, dict):
        if "report_version" in doc and "findings" in doc:
            return "report"
        if "schema_version" in doc and "hosts" in doc and "inventory" in doc:
            return "snapshot"
    return None


def load_document(path: str) -> tuple[str, dict[str, Any]]:
    """Read an hvlm report or snapshot, validated against its schema; anything else is an InputError."""
    doc = read_json_file(path)
    kind = document_kind(doc)
    if kind is None:
        raise InputError(path, "neither an hvlm report (--format json / --json) nor an hvlm facts snapshot")
    if kind == "report" and doc.get("report_version") != 2:
        raise InputError(path, f"report version {doc.get('report_version')!r}: hvlm {__version__} compares version 2 "
                               "reports; audit the snapshot again to get one", "/report_version")
    validate_document(doc, kind, path)
    return kind, doc


def load_report(path: str) -> dict[str, Any]:
    """A baseline: an hvlm version 2 report and nothing else."""
    kind, doc = load_document(path)
    if kind != "report":
        raise InputError(path, "a facts snapshot, not an hvlm report: give the JSON report of an earlier run "
                               "(hvlm audit --json FILE)")
    return doc


# --- findings ------------------------------------------------------------------------------------


def _members(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every member of a report by id, with its group's check, status, severity and direction."""
    out: dict[str, dict[str, Any]] = {}
    for group in report["findings"]:
        for m in group["members"]:
            out[m["id"]] = {
                "id": m["id"],
                "check_id": group["check_id"],
                "title": group["title"],
                "status": group["status"],
                "severity": group["severity"],
                "direction": group["direction"],
                "subject": m["subject"]["label"],
                "message": m["message"],
                "waived": bool(m.get("waiver")),
                "subject_fields": m["subject"],
            }
    return out


def _public(member: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in member.items() if k != "subject_fields"}


def _scope(report: dict[str, Any]) -> Callable[[dict[str, Any]], str | None]:
    """What a report evaluated: a function that says why a member of another report was not
    evaluated in this one (None when it was). A finding of the other report that this one lacks is
    "fixed" only if this report ran its check on its subject: its check in run.checks_run, its host
    among the report's hosts, its move among the moves the check judges, its domain among
    run.domains, and no error of the check covering the whole move (a VM check that could not list
    the move's VMs judged none of them)."""
    run = report["run"]
    ran = set(run["checks_run"])
    skipped = set(run.get("checks_skipped", ()))
    meta = {c["id"]: c for c in report.get("checks", ())}
    hosts = set(report.get("hosts", {}))
    moves = {(m["source"], m["destination"]): bool(m["planned"]) for m in report.get("moves", ())}
    domains = {d.lower() for d in run["domains"]} if "domains" in run else None
    whole_move_errors = {
        (g["check_id"], m["subject"].get("source"), m["subject"].get("destination"))
        for g in report["findings"] if g["status"] == "error"
        for m in g["members"] if m["subject"]["kind"] == "vm" and "vm" not in m["subject"]
    }

    def why_not(member: dict[str, Any]) -> str | None:
        check_id, s = member["check_id"], member["subject_fields"]
        if check_id not in ran:
            return "check skipped (--skip)" if check_id in skipped else "check not run"
        kind = s.get("kind")
        if kind in ("host", "operator"):
            return None if s.get("host") in hosts else f"host {s.get('host')} not in this run"
        if kind == "domain":
            return None if domains is None or str(s.get("domain", "")).lower() in domains else \
                f"domain {s.get('domain')} not in this run"
        if kind in ("pair", "vm"):
            move = (s.get("source"), s.get("destination"))
            planned = moves.get(move)
            judged = planned or (planned is not None and kind == "pair" and bool(meta.get(check_id, {}).get("rollback")))
            if not judged:
                return f"move {move[0]} -> {move[1]} not evaluated by this check in this run"
            if kind == "vm" and "vm" in s and (check_id, *move) in whole_move_errors:
                return f"the check could not judge the VMs of {move[0]} -> {move[1]} in this run"
        return None

    return why_not


def apply_baseline(report: dict[str, Any], old: dict[str, Any], name: str) -> None:
    """Mark each member's baseline_state and list the old report's members now absent (fixed), and
    apart those this run did not evaluate (check not run, host or move not covered)."""
    before = _members(old)
    seen: set[str] = set()
    counts = {"new": 0, "unchanged": 0, "updated": 0}
    for group in report["findings"]:
        for m in group["members"]:
            prev = before.get(m["id"])
            seen.add(m["id"])
            if prev is None:
                state = "new"
            elif (prev["status"], prev["severity"]) != (group["status"], group["severity"]):
                state = "updated"
            else:
                state = "unchanged"
            m["baseline_state"] = state
            counts[state] += 1
    why_not = _scope(report)
    absent: list[dict[str, Any]] = []
    not_evaluated: list[dict[str, Any]] = []
    for k, v in before.items():
        if k not in seen:
            reason = why_not(v)
            if reason is None:
                absent.append(_public(v))
            else:
                not_evaluated.append({**_public(v), "reason": reason})
    report["baseline"] = {
        "file": name,
        "started": old["run"]["started"],
        "snapshot": old["run"]["snapshot"],
        **counts,
        "absent": absent,
        "not_evaluated": not_evaluated,
    }


def diff_reports(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Findings new, fixed, changed and unchanged; an old finding the new report lacks because the
    new run did not evaluate it (its check not run, its host or move not covered) is "not_evaluated"
    with the reason, never fixed."""
    a, b = _members(old), _members(new)
    changed = []
    unchanged = []
    for key, now in b.items():
        was = a.get(key)
        if was is None:
            continue
        if (was["status"], was["severity"]) != (now["status"], now["severity"]):
            changed.append({**_public(now), "old": {"status": was["status"], "severity": was["severity"]}})
        else:
            unchanged.append(_public(now))
    why_not = _scope(new)
    fixed: list[dict[str, Any]] = []
    not_evaluated: list[dict[str, Any]] = []
    for key, was in a.items():
        if key in b:
            continue
        reason = why_not(was)
        if reason is None:
            fixed.append(_public(was))
        else:
            not_evaluated.append({**_public(was), "reason": reason})
    return {
        "new": [_public(v) for k, v in b.items() if k not in a],
        "fixed": fixed,
        "changed": changed,
        "unchanged": unchanged,
        "not_evaluated": not_evaluated,
    }


# --- facts ----------------------------------------------------------------------------------------

_LIST_KEYS = ("Name", "name", "dNSHostName", "sAMAccountName", "Id", "VMId", "SID", "sid", "InterfaceAlias",
              "DisplayName", "Subnet", "trustPartner", "flatName", "address")
_PROVENANCE = ("source", "collected_at")
# Readings that differ on every run whatever the estate does: a host's clock, how long its probe
# took, the DC's current time, and an object's whenChanged (which also moves when Windows rotates a
# computer's password). Clock skew is judged by its check, whose finding a report diff shows.
_READINGS = (("hosts", "*", "clock", "value", "UtcTime"), ("hosts", "*", "connection", "value", "elapsed_seconds"),
             ("domains", "*", "info", "value", "currentTime"), ("domains", "*", "computers", "*", "whenChanged"))


def _reading(path: str) -> bool:
    parts = path.split("/")
    return any(len(parts) == len(r) and all(w in ("*", p) for w, p in zip(r, parts, strict=True)) for r in _READINGS)


def _names_each(items: list[Any], key: str) -> bool:
    values = [i.get(key) if isinstance(i, dict) else None for i in items]
    return all(isinstance(v, str | int) and not isinstance(v, bool) for v in values) and len(set(values)) == len(values)


def _item_key(old: list[Any], new: list[Any]) -> str | None:
    """The field that names each object of both lists, if one does (present in all, unique in each)."""
    if not old or not new:
        return None
    for key in _LIST_KEYS:
        if _names_each(old, key) and _names_each(new, key):
            return key
    return None


def _scalar(v: Any) -> bool:
    return not isinstance(v, dict | list)


def _walk(old: Any, new: Any, path: str) -> Iterator[dict[str, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new), key=str):
            p = f"{path}/{k}"
            if k not in new:
                yield {"path": p, "change": "removed", "old": old[k]}
            elif k not in old:
                yield {"path": p, "change": "added", "new": new[k]}
            else:
                yield from _walk(old[k], new[k], p)
        return
    if isinstance(old, list) and isinstance(new, list):
        if all(_scalar(v) for v in old + new):
            for v in old:
                if v not in new:
                    yield {"path": path, "change": "removed", "old": v}
            for v in new:
                if v not in old:
                    yield {"path": path, "change": "added", "new": v}
            return
        key = _item_key(old, new)
        if key is not None:
            a = {i[key]: i for i in old}
            b = {i[key]: i for i in new}
            for k in list(a) + [k for k in b if k not in a]:
                p = f"{path}/[{key}={k}]"
                if k not in b:
                    yield {"path": p, "change": "removed", "old": a[k]}
                elif k not in a:
                    yield {"path": p, "change": "added", "new": b[k]}
                else:
                    yield from _walk(a[k], b[k], p)
            return
        for i in range(max(len(old), len(new))):
            p = f"{path}/{i}"
            if i >= len(new):
                yield {"path": p, "change": "removed", "old": old[i]}
            elif i >= len(old):
                yield {"path": p, "change": "added", "new": new[i]}
            else:
                yield from _walk(old[i], new[i], p)
        return
    if old != new or type(old) is not type(new):
        yield {"path": path, "change": "changed", "old": old, "new": new}


def _payload(fact: Any) -> Any:
    """A fact without its provenance: its value, or its error."""
    if isinstance(fact, dict) and ("value" in fact or "error" in fact):
        return {k: v for k, v in fact.items() if k not in _PROVENANCE}
    return fact


def _facts_diff(old: Any, new: Any, path: str) -> list[dict[str, Any]]:
    return [c for c in _walk(_payload(old), _payload(new), path) if not _reading(c["path"])]


def _entity(kind: str, name: str, state: str, changes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": kind, "name": name, "state": state, "changes": changes}


def _computers(fact: Any) -> dict[str, Any]:
    value = fact.get("value") if isinstance(fact, dict) else None
    if not isinstance(value, list):
        return {}
    out = {}
    for obj in value:
        if isinstance(obj, dict):
            name = obj.get("dNSHostName") or obj.get("sAMAccountName") or obj.get("distinguishedName")
            if isinstance(name, str):
                out[name.lower()] = obj
    return out


def diff_snapshots(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """The entities whose facts changed: hosts, computer objects, domains, DNS records, the operator."""
    entities: list[dict[str, Any]] = []
    oh, nh = old.get("hosts", {}), new.get("hosts", {})
    for host in sorted(set(oh) | set(nh)):
        if host not in nh:
            entities.append(_entity("host", host, "removed", [{"path": f"hosts/{host}", "change": "removed",
                                                                 "old": sorted(oh[host])}]))
        elif host not in oh:
            entities.append(_entity("host", host, "added", [{"path": f"hosts/{host}", "change": "added",
                                                               "new": sorted(nh[host])}]))
        else:
            changes = [c for fact in sorted(set(oh[host]) | set(nh[host]))
                       for c in _facts_diff(oh[host].get(fact), nh[host].get(fact), f"hosts/{host}/{fact}")]
            if changes:
                entities.append(_entity("host", host, "changed", changes))
    od, nd = old.get("domains", {}), new.get("domains", {})
    for dom in sorted(set(od) | set(nd)):
        a, b = od.get(dom, {}), nd.get(dom, {})
        if dom not in nd or dom not in od:
            state = "removed" if dom not in nd else "added"
            entities.append(_entity("domain", dom, state, [{"path": f"domains/{dom}", "change": state,
                                                             **({"old": sorted(a)} if a else {"new": sorted(b)})}]))
            continue
        changes = [c for key in sorted((set(a) | set(b)) - {"computers"})
                   for c in _facts_diff(a.get(key), b.get(key), f"domains/{dom}/{key}")]
        if changes:
            entities.append(_entity("domain", dom, "changed", changes))
        ca, cb = _computers(a.get("computers")), _computers(b.get("computers"))
        for comp in sorted(set(ca) | set(cb)):
            path = f"domains/{dom}/computers/{comp}"
            if comp not in cb:
                entities.append(_entity("computer", comp, "removed", [{"path": path, "change": "removed",
                                                                        "old": ca[comp]}]))
            elif comp not in ca:
                entities.append(_entity("computer", comp, "added", [{"path": path, "change": "added", "new": cb[comp]}]))
            else:
                changes = [c for c in _walk(ca[comp], cb[comp], path) if not _reading(c["path"])]
                if changes:
                    entities.append(_entity("computer", comp, "changed", changes))
        for key in ("computers",):
            ea, eb = (a.get(key) or {}).get("error"), (b.get(key) or {}).get("error")
            if ea != eb:
                entities.append(_entity("domain", dom, "changed", [{"path": f"domains/{dom}/{key}/error",
                                                                     "change": "changed", "old": ea, "new": eb}]))
    dns_a, dns_b = old.get("dns", {}), new.get("dns", {})
    for name in sorted(set(dns_a) | set(dns_b)):
        changes = _facts_diff(dns_a.get(name), dns_b.get(name), f"dns/{name}")
        if changes:
            entities.append(_entity("dns", name, "changed", changes))
    changes = _facts_diff(old.get("operator"), new.get("operator"), "operator")
    if changes:
        entities.append(_entity("operator", "operator", "changed", changes))
    inv = [c for key in ("hosts", "pairs", "groups", "operator", "include_return")
           for c in _walk(old["inventory"].get(key), new["inventory"].get(key), f"inventory/{key}")]
    if inv:
        entities.append(_entity("inventory", "inventory", "changed", inv))
    if old.get("complete", True) != new.get("complete", True):
        entities.append(_entity("snapshot", "snapshot", "changed", [{"path": "complete", "change": "changed",
                                                                     "old": old.get("complete", True),
                                                                     "new": new.get("complete", True)}]))
    return entities


# --- the diff document ---------------------------------------------------------------------------


def _side(kind: str, name: str, doc: dict[str, Any]) -> dict[str, Any]:
    if kind == "report":
        run = doc["run"]
        return {"file": name, "taken": run["started"], "snapshot": run["snapshot"], "exit_code": run["exit_code"]}
    return {"file": name, "taken": doc["created"], "snapshot": name, "exit_code": None}


def diff_documents(old_name: str, new_name: str) -> dict[str, Any]:
    """Load two reports or two snapshots and compare them (schema: diff)."""
    kind_a, old = load_document(old_name)
    kind_b, new = load_document(new_name)
    if kind_a != kind_b:
        raise InputError(new_name, f"a {kind_b}, but {old_name} is a {kind_a}: compare two reports or two snapshots")
    doc: dict[str, Any] = {
        "diff_version": DIFF_VERSION,
        "tool": {"name": "hvlm", "version": __version__},
        "created": now_iso(),
        "kind": kind_a,
        "old": _side(kind_a, old_name, old),
        "new": _side(kind_a, new_name, new),
    }
    if kind_a == "report":
        findings = diff_reports(old, new)
        doc["findings"] = findings
        doc["summary"] = {k: len(v) for k, v in findings.items()}
        doc["changed"] = bool(findings["new"] or findings["fixed"] or findings["changed"])
    else:
        entities = diff_snapshots(old, new)
        doc["entities"] = entities
        summary = {"added": 0, "removed": 0, "changed": 0, "facts": 0}
        for e in entities:
            summary[e["state"]] += 1
            summary["facts"] += len(e["changes"])
        doc["summary"] = summary
        doc["changed"] = bool(entities)
    return doc
