"""Collection: probe every host in parallel, then the directory, and merge into one snapshot.

A host that fails never stops the others: its failure becomes error facts (one per section, with
the classified reason) and the snapshot stays valid. A section the probe could not read costs that
section only. Ctrl-C keeps what was collected and marks the rest `interrupted`, the snapshot
`complete: false`. The result is validated against the snapshot schema before anyone sees it.
"""

from __future__ import annotations

import importlib
import inspect
import ipaddress
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from hvlm.audit.collect import management
from hvlm.audit.collect.classify import DeadlineExceeded, classify, section_hint
from hvlm.audit.collect.credentials import Secret, redact
from hvlm.audit.collect.probe import (
    HOST_SECTIONS,
    SECTION_COMMANDS,
    ProbeDocument,
    ProbeOutputError,
    decode_probe_bytes,
    fact_problem,
    parse_probe_text,
    probe_script,
    section_facts,
)
from hvlm.audit.collect.progress import Progress
from hvlm.audit.collect.psrp import ProbeRun, run_probe
from hvlm.audit.collect.runner import Job, Outcome, run_jobs
from hvlm.audit.collect.targets import HostTarget
from hvlm.audit.errors import InputError
from hvlm.audit.inventory import Inventory, parse_inventory
from hvlm.audit.jsonio import DEFAULT_MAX_BYTES
from hvlm.audit.snapshot import Snapshot, error_fact, new_snapshot_document, now_iso, value_fact

__all__ = [
    "DEFAULT_CONCURRENCY",
    "Collection",
    "ProbeFunction",
    "collect",
    "collect_from_probe_outputs",
    "directory_module",
    "host_domains",
    "read_probe_outputs",
]

# Hosts probed at the same time. A real probe keeps its host busy some 3 s (twenty-odd cmdlets) while
# the collector waits: 64 at once collect 500 hosts in 8 waves (about 25 s) for about 20 ms of client
# CPU per probe (some 40% of one core at that pace) and about 130 KiB of memory each; 128 at once
# already made the 2-core test machine, which also ran the simulated hosts, the limit
# (benchmarks/bench_scan.py; the README's "Scan throughput").
DEFAULT_CONCURRENCY = 64
DOMAIN_SECTIONS = ("info", "domain_controllers", "computers", "trusts")
ProbeFunction = Callable[[HostTarget, Secret | None, str], ProbeRun]
log = logging.getLogger(__name__)
_ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


@dataclass
class Collection:
    """A collected snapshot document and whether Ctrl-C cut it short."""

    document: dict[str, Any]
    interrupted: bool = False

    @property
    def snapshot(self) -> Snapshot:
        return Snapshot(self.document, "<collected>")

    @property
    def has_errors(self) -> bool:
        return bool(self.snapshot.uncollected())


# -- hosts -------------------------------------------------------------------------------------


def _failed_host(target: HostTarget, kind: str, message: str) -> dict[str, dict[str, Any]]:
    """Every section of a host that could not be probed carries the reason, so each check says why."""
    when = now_iso()
    facts = {"connection": error_fact(kind, message, "psrp", target.name, target.endpoint, when)}
    for section in HOST_SECTIONS:
        facts[section] = error_fact(kind, message, "psrp", target.name, SECTION_COMMANDS[section], when)
    return facts


def _identity(doc: ProbeDocument) -> dict[str, Any]:
    return {
        "probe_version": doc.probe_version,
        "powershell": doc.powershell,
        "computer_name": doc.computer_name,
        "fqdn": doc.fqdn,
    }


def _probed_host(target: HostTarget, run: ProbeRun, secrets: list[Secret | None]) -> dict[str, dict[str, Any]]:
    when = now_iso()

    def hint(section: str, kind: str, message: str) -> str:
        return redact(section_hint(target.name, section, kind, message), secrets)

    facts = section_facts(run.document, collector="psrp", host=target.name, when=when, hint=hint)
    connection = {
        "endpoint": target.endpoint,
        "transport": target.transport,
        "auth": target.auth,
        "username": target.username,
        "tls_verified": target.transport == "https" and target.verify_tls,
        **_identity(run.document),
        "elapsed_seconds": round(run.elapsed, 3),
        "probe_errors": [redact(w, secrets) for w in run.warnings],
    }
    return {"connection": value_fact(connection, "psrp", target.name, target.endpoint, when), **facts}


def _outcome_facts(
    target: HostTarget, outcome: Outcome[dict[str, dict[str, Any]]], secrets: list[Secret | None]
) -> tuple[dict[str, dict[str, Any]], str]:
    """Facts for one host and a one-line summary for progress."""
    if outcome.interrupted:
        message = f"collection was interrupted (Ctrl-C) before {target.name} answered"
        return _failed_host(target, "interrupted", message), message
    if outcome.value is not None:
        facts = outcome.value
        bad = [s for s in HOST_SECTIONS if "error" in facts[s]]
        detail = f"{outcome.elapsed:.1f} s" + (f", {len(bad)} section(s) unreadable: {', '.join(bad)}" if bad else "")
        return facts, detail
    exc: BaseException = DeadlineExceeded(target.deadline) if outcome.timed_out else (outcome.error or RuntimeError())
    kind, message = classify(exc, target)
    message = redact(message, secrets)
    log.info("%s: %s: %s", target.name, kind, message)
    log.debug("%s: underlying %s", target.name, type(exc).__name__)
    return _failed_host(target, kind, message), f"{kind}: {message}"


def collect_hosts(
    targets: Sequence[HostTarget],
    passwords: Mapping[str, Secret | None],
    concurrency: int,
    progress: Progress,
    probe: ProbeFunction = run_probe,
) -> tuple[dict[str, dict[str, Any]], bool]:
    """Probe every host; returns facts by host and whether Ctrl-C interrupted the run."""
    script = probe_script()
    by_name = {t.name: t for t in targets}
    secrets = list(passwords.values())
    facts: dict[str, dict[str, Any]] = {}

    def job(t: HostTarget) -> Job[dict[str, dict[str, Any]]]:
        secret = passwords.get(t.username) if t.username else None

        def work() -> dict[str, dict[str, Any]]:
            # Parsing and schema checks run here, in the worker, not in the thread that shows progress.
            return _probed_host(t, probe(t, secret, script), secrets)

        return Job(t.name, t.deadline, work)

    def done(outcome: Outcome[dict[str, dict[str, Any]]]) -> None:
        host_facts, detail = _outcome_facts(by_name[outcome.name], outcome, secrets)
        facts[outcome.name] = host_facts
        progress.host_done(outcome.name, outcome.ok, detail)

    progress.start(len(targets))
    result = run_jobs(
        [job(t) for t in targets], concurrency, on_start=progress.host_started, on_done=done, on_tick=progress.tick
    )
    for name, outcome in result.outcomes.items():
        if name not in facts:  # interrupted before its on_done
            facts[name] = _outcome_facts(by_name[name], outcome, secrets)[0]
    progress.finish()
    return {t.name: facts[t.name] for t in targets}, result.interrupted


# -- probe outputs (hosts hvlm could not reach) -------------------------------------------------


def _match_host(inventory: Inventory, doc: ProbeDocument, file: str) -> str:
    keys = {k.lower() for k in (doc.fqdn, doc.computer_name) if k}
    short = {k.split(".", 1)[0] for k in keys}
    exact, by_short = [], []
    for name in inventory.host_names:
        address = str(inventory.connection(name).get("address") or "").lower()
        if name.lower() in keys or address in keys:
            exact.append(name)
        elif name.split(".", 1)[0].lower() in short:
            by_short.append(name)
    # hv01.corp.example and hv01.branch.example share a short name: the full name decides first
    matches = exact or by_short
    if len(matches) != 1:
        who = doc.fqdn or doc.computer_name or "an unnamed host"
        problem = "matches no inventory host" if not matches else f"matches several hosts ({', '.join(matches)})"
        raise InputError(file, f"the probe output of {who} {problem}")
    return matches[0]


def read_probe_outputs(
    paths: Iterable[str], inventory: Inventory | None, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[Inventory, dict[str, dict[str, Any]]]:
    """Facts from probe outputs saved on the hosts; each output names the computer it ran on."""
    docs: list[tuple[str, ProbeDocument]] = []
    for path in paths:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise InputError(path, f"cannot read file: {exc.strerror or exc}") from None
        if len(raw) > max_bytes:
            raise InputError(path, f"file is over the {max_bytes // 1048576} MiB limit (HVLM_MAX_INPUT_MB)")
        try:
            docs.append((path, parse_probe_text(decode_probe_bytes(raw))))
        except UnicodeDecodeError as exc:
            raise InputError(path, f"not UTF-8 or UTF-16 text (invalid byte at offset {exc.start})") from None
        except ProbeOutputError as exc:
            raise InputError(path, f"not an hvlm probe output: {exc}") from None
    if inventory is None:
        names = []
        for path, doc in docs:
            name = doc.fqdn if doc.fqdn and "." in doc.fqdn else (doc.computer_name or doc.fqdn)
            if not name:
                raise InputError(path, "the probe output does not name its computer")
            names.append(name)
        inventory = parse_inventory({"hosts": list(dict.fromkeys(names))}, "<probe outputs>")
    facts: dict[str, dict[str, Any]] = {}
    files: dict[str, str] = {}
    for path, doc in docs:
        name = _match_host(inventory, doc, path)
        if name in files:
            raise InputError(path, f"a second probe output for {name} (the first is {files[name]})")
        files[name] = path
        when = doc.collected_at if doc.collected_at and _ISO_UTC.match(doc.collected_at) else now_iso()

        def hint(section: str, kind: str, message: str, host: str = name) -> str:
            return section_hint(host, section, kind, message)

        source = doc.fqdn or name
        host_facts = section_facts(doc, collector="probe-output", host=source, when=when, hint=hint)
        connection = {"file": Path(path).name, **_identity(doc)}
        facts[name] = {"connection": value_fact(connection, "probe-output", source, "hvlm probe-script", when), **host_facts}
    for name in inventory.host_names:
        if name not in facts:
            message = f"no probe output was given for {name}: run `hvlm probe-script` on it, or collect it remotely"
            facts[name] = {
                section: error_fact("not_collected", message, "probe-output", name, SECTION_COMMANDS.get(section))
                for section in ("connection", *HOST_SECTIONS)
            }
    return inventory, {name: facts[name] for name in inventory.host_names}


# -- the directory (LDAP + DNS, collected by audit.collect.directory) ----------------------------


def directory_module() -> ModuleType | None:
    """The directory collector, when this build has it."""
    try:
        return importlib.import_module("hvlm.audit.collect.directory")
    except ImportError as exc:
        if exc.name not in ("hvlm.audit.collect.directory", None):
            log.warning("the directory collector failed to import: %s", exc)
        return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def host_domains(inventory: Inventory, hosts: Mapping[str, Mapping[str, Any]]) -> dict[str, str | None]:
    """Each host's DNS domain: what the host reports, else the inventory's `domain`, else its FQDN."""
    out: dict[str, str | None] = {}
    for name in inventory.host_names:
        setting = inventory.connection(name).get("domain")
        configured = str(setting).lower() if setting else None
        cs = hosts.get(name, {}).get("computer_system")
        if isinstance(cs, dict) and isinstance(cs.get("value"), dict):
            value = cs["value"]
            out[name] = str(value["Domain"]).lower() if value.get("PartOfDomain") else configured
        elif configured:
            out[name] = configured
        elif "." in name and not _is_ip(name):
            out[name] = name.split(".", 1)[1].lower()
        else:
            out[name] = None
    return out


def _directory_errors(
    inventory: Inventory, domains: Mapping[str, str | None], kind: str, message: str
) -> dict[str, Any]:
    when = now_iso()
    part: dict[str, Any] = {
        "domains": {
            d: {s: error_fact(kind, message, "ldap", None, f"domain {s}", when) for s in DOMAIN_SECTIONS}
            for d in sorted({d for d in domains.values() if d})
        },
        "dns": {h: error_fact(kind, message, "dns", None, f"A/AAAA {h}; PTR", when) for h in inventory.host_names},
    }
    if inventory.operator:
        part["operator"] = error_fact(kind, message, "ldap", None, f"operator {inventory.operator}", when)
    return part


def collect_directory_part(
    inventory: Inventory,
    options: Any,
    domains: Mapping[str, str | None],
    progress: Progress,
    credentials: Any = None,
) -> tuple[dict[str, Any], bool]:
    """The directory's facts, or error facts that say why there are none; True when interrupted."""
    module = directory_module()
    if module is None or options is None:
        return _directory_errors(
            inventory, domains, "not_collected",
            "directory collection is not available in this hvlm build (audit.collect.directory is missing)",
        ), False
    progress.message("collecting the directory (LDAP and DNS)")
    try:
        extra: dict[str, Any] = {"credentials": credentials} if credentials is not None else {}
        if "on_domain" in inspect.signature(module.collect_directory).parameters:
            extra["on_domain"] = progress.directory_domain
        part = module.collect_directory(inventory, options, dict(domains), progress=progress.message, **extra)
    except KeyboardInterrupt:
        return _directory_errors(inventory, domains, "interrupted", "collection was interrupted (Ctrl-C)"), True
    except Exception as exc:
        log.warning("directory collection failed: %s", type(exc).__name__, exc_info=True)
        secret = getattr(credentials, "password", None)
        message = redact(f"directory collection failed: {type(exc).__name__}: {exc}", [secret])
        return _directory_errors(inventory, domains, "not_collected", message), False
    if not isinstance(part, dict):
        return _directory_errors(inventory, domains, "probe_error", "the directory collector returned no facts"), False
    return {k: part[k] for k in ("domains", "dns", "operator") if k in part}, False


# -- assembling the snapshot ---------------------------------------------------------------------


def _validate_host_facts(hosts: Mapping[str, Mapping[str, Any]]) -> None:
    """Host value facts were checked section by section when made (section_facts); the rest here.

    Validating every host's values a second time inside the whole document cost about 10 ms per
    host (2 s for 200 hosts) of single-threaded time at the end of a scan.
    """
    for host, facts in hosts.items():
        for section, fact in facts.items():
            if section == "connection" or "value" not in fact:
                problem = fact_problem(section, fact)
                if problem:
                    raise InputError("<collected snapshot>", problem, f"/hosts/{host}/{section}")


def _validate(doc: dict[str, Any]) -> None:
    """The whole document against the schema, with host sections stubbed (validated above) and
    the planned pairs sampled: they come from the parsed inventory, and a fleet of 200 hosts has
    39,800 ordered pairs whose re-validation alone took 1.5 s."""
    inventory = {**doc["inventory"], "pairs": doc["inventory"]["pairs"][:64]}
    stub = {**doc, "inventory": inventory, "hosts": {host: {} for host in doc["hosts"]}}
    Snapshot.from_document(stub, "<collected snapshot>")


def _assemble(
    inventory: Inventory,
    hosts: dict[str, dict[str, Any]],
    directory: dict[str, Any],
    interrupted: bool,
    domains: Mapping[str, str | None],
) -> Collection:
    doc = new_snapshot_document(inventory.to_snapshot())
    doc["hosts"] = hosts
    doc.update(directory)
    doc["management"] = management.collect_management(inventory)
    doc["complete"] = not interrupted
    _validate_host_facts(hosts)
    try:
        _validate(doc)
    except InputError as exc:
        if not exc.where.startswith(("/domains", "/dns", "/operator")):
            raise
        # A directory collector bug must not cost the hosts' facts: keep them, say what went wrong.
        log.warning("directory facts do not match the schema: %s", exc)
        for key in ("domains", "dns", "operator"):
            doc.pop(key, None)
        doc.update(
            _directory_errors(
                inventory, domains, "probe_error",
                f"the directory collector returned facts that do not match the snapshot schema: {exc.detail} "
                f"at {exc.where}",
            )
        )
        _validate(doc)
    return Collection(doc, interrupted)


def _finish(
    inventory: Inventory,
    hosts: dict[str, dict[str, Any]],
    interrupted: bool,
    *,
    directory: bool,
    directory_options: Any,
    progress: Progress,
    directory_credentials: Any = None,
) -> Collection:
    domains = host_domains(inventory, hosts)
    part: dict[str, Any] = {"domains": {}, "dns": {}}
    if directory and not interrupted:
        part, interrupted = collect_directory_part(
            inventory, directory_options, domains, progress, directory_credentials
        )
    elif directory:
        part = _directory_errors(inventory, domains, "interrupted", "collection was interrupted (Ctrl-C)")
    return _assemble(inventory, hosts, part, interrupted, domains)


def collect(
    inventory: Inventory,
    targets: Sequence[HostTarget],
    passwords: Mapping[str, Secret | None],
    progress: Progress,
    *,
    hosts: bool = True,
    directory: bool = True,
    directory_options: Any = None,
    directory_credentials: Any = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    probe: ProbeFunction = run_probe,
) -> Collection:
    """Collect the snapshot of an inventory: hosts (in parallel), then the directory.

    ``directory_credentials`` (audit.collect.ldap_conn.Credentials) carry the LDAP bind password
    read before any connection; without them the directory collector reads it when it binds."""
    host_facts: dict[str, dict[str, Any]] = {}
    interrupted = False
    if hosts:
        host_facts, interrupted = collect_hosts(targets, passwords, concurrency, progress, probe)
    return _finish(
        inventory, host_facts, interrupted, directory=directory, directory_options=directory_options,
        progress=progress, directory_credentials=directory_credentials,
    )


def collect_from_probe_outputs(
    paths: Sequence[str],
    inventory: Inventory | None,
    progress: Progress,
    *,
    directory: bool = False,
    directory_options: Any = None,
    directory_credentials: Any = None,
) -> Collection:
    """A snapshot from saved probe outputs (plus the directory, when asked and configured)."""
    inv, host_facts = read_probe_outputs(paths, inventory)
    return _finish(
        inv, host_facts, False, directory=directory, directory_options=directory_options, progress=progress,
        directory_credentials=directory_credentials,
    )
