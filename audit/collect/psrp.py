"""Run the probe on one host over PowerShell Remoting (pypsrp: WSMan + one RunspacePool).

Timeouts are derived from the host's deadline so that no single WSMan request can wait longer
than the host is allowed to take. pypsrp's own defaults (read timeout 30 s, Receive retried 5
times with exponential backoff) let a hung host cost about 5 minutes; the orchestrator still
enforces the deadline itself, because a request already in flight cannot be cut short.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import dataclass
from typing import Any

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from hvlm.audit.collect.classify import ProbeFailed
from hvlm.audit.collect.credentials import Secret
from hvlm.audit.collect.probe import ProbeDocument, ProbeOutputError, parse_probe_text
from hvlm.audit.collect.psrp_tuning import ntlm_password, tune_pool, tune_session
from hvlm.audit.collect.targets import HostTarget

__all__ = ["ProbeRun", "Timeouts", "run_probe", "timeouts_for"]

log = logging.getLogger(__name__)
RECONNECTION_BACKOFF = 0.5


@dataclass(frozen=True)
class Timeouts:
    """Whole seconds, as pypsrp takes them."""

    connect: int
    read: int
    operation: int  # WSMan OperationTimeout: the server answers a Receive within this, with data or a fault


@dataclass(frozen=True)
class ProbeRun:
    document: ProbeDocument
    warnings: tuple[str, ...]  # non-terminating errors the probe wrote (Write-Error)
    elapsed: float


def timeouts_for(target: HostTarget) -> Timeouts:
    """Operation timeout below the read timeout, both within the host's deadline."""
    deadline = target.deadline
    operation = int(max(1, min(20, deadline // 4)))
    read = int(max(operation + 2, min(operation + 10, math.ceil(deadline))))
    connect = max(1, math.ceil(min(target.connect_timeout, deadline)))
    return Timeouts(connect=connect, read=read, operation=operation)


def _wsman(target: HostTarget, password: Secret | None) -> WSMan:
    t = timeouts_for(target)
    cert_validation: Any = (target.ca_bundle or True) if target.verify_tls else False
    extra: dict[str, Any] = {}
    secret: str | None = None
    if password is not None:
        secret = ntlm_password(password) if target.auth == "ntlm" else password.reveal()
    if target.address != target.name and target.auth in ("negotiate", "kerberos"):
        extra["negotiate_hostname_override"] = target.name  # the Kerberos SPN is WSMAN/<name>, not the address
    return WSMan(
        target.address,
        port=target.port,
        username=target.username,
        password=secret,
        ssl=target.transport == "https",
        auth=target.auth,
        cert_validation=cert_validation,
        connection_timeout=t.connect,
        read_timeout=t.read,
        operation_timeout=t.operation,
        # HTTP only ever with message encryption; over HTTPS TLS protects the messages.
        encryption="always" if target.transport == "http" else "auto",
        no_proxy=True,  # as PowerShell Remoting: no proxy unless configured for WinRM
        reconnection_retries=0,
        reconnection_backoff=RECONNECTION_BACKOFF,
        **extra,
    )


def _record_text(record: Any) -> str:
    """The message of a PSRP ErrorRecord as pypsrp deserialises it."""
    exception = getattr(record, "exception", None)
    for holder in (getattr(exception, "adapted_properties", None), getattr(exception, "extended_properties", None)):
        if isinstance(holder, dict) and holder.get("Message"):
            return str(holder["Message"])
    for attr in ("details_message", "message"):
        value = getattr(record, attr, None)
        if value:
            return str(value)
    return str(record)


def _quietly(close: Any, target: HostTarget) -> None:
    """Closing is best effort: a failure here must not hide the result or the real error."""
    try:
        close()
    except Exception as exc:
        log.debug("%s: closing failed: %s", target.name, type(exc).__name__)


def run_probe(target: HostTarget, password: Secret | None, script: str) -> ProbeRun:
    """Open one runspace pool, run the probe, close the pool. Raises on any failure."""
    started = time.monotonic()
    log.debug("%s: connecting to %s (auth %s, user %s, TLS validation %s)", target.name, target.endpoint,
              target.auth, target.username or "(Kerberos ticket)", "on" if target.verify_tls else "OFF")
    with warnings.catch_warnings():
        # We warned loudly once when validation is off; urllib3 would repeat it per request.
        warnings.simplefilter("ignore")
        wsman = _wsman(target, password)
        try:
            tune_session(wsman.transport)  # the same session pypsrp would build, cheaper per request
            pool = RunspacePool(wsman)
            tune_pool(pool)
            pool.open()
            try:
                ps = PowerShell(pool)
                ps.add_script(script)
                output = ps.invoke()
                errors = tuple(_record_text(r) for r in ps.streams.error)
                had_errors = bool(ps.had_errors)
            finally:
                _quietly(pool.close, target)
        finally:
            _quietly(wsman.close, target)
    texts = [o for o in output if isinstance(o, str) and o.strip()]
    if had_errors and not texts:
        raise ProbeFailed("; ".join(errors) or "the probe stopped with a terminating error")
    if not texts:
        detail = f": {'; '.join(errors)}" if errors else ""
        raise ProbeFailed(f"the probe wrote no output{detail}")
    try:
        document = parse_probe_text(texts[-1])
    except ProbeOutputError:
        if errors:
            raise ProbeFailed("; ".join(errors)) from None
        raise
    elapsed = time.monotonic() - started
    log.debug("%s: probe %s finished in %.2f s", target.name, document.probe_version, elapsed)
    return ProbeRun(document=document, warnings=errors, elapsed=elapsed)
