"""Turn every way a host can fail into an error kind and a message an administrator can act on.

Kinds: unreachable, name_resolution, tls, authentication, access_denied, timeout, protocol,
probe_error (plus not_found for a section whose cmdlet or class is missing, and interrupted).
The mapping follows what pypsrp 0.9 raises for each failure (see ../shared/docs/test-lab.md 2);
Kerberos failures (no ticket, expired, unknown SPN, clock skew, KDC unreachable) are read from the
GSSAPI error by audit/collect/kerberos.py.
"""

from __future__ import annotations

import socket
import ssl

import requests
from pypsrp.exceptions import (
    AuthenticationError,
    InvalidPSRPOperation,
    WinRMError,
    WinRMTransportError,
    WSManFaultError,
)

from hvlm.audit.collect.chain import causes
from hvlm.audit.collect.kerberos import explain, find_failure
from hvlm.audit.collect.probe import ProbeOutputError
from hvlm.audit.collect.targets import HostTarget
from hvlm.audit.psquote import ps_quote

__all__ = ["DeadlineExceeded", "ProbeFailed", "classify", "section_hint"]

WSMAN_ACCESS_DENIED = 5
WSMAN_OPERATION_TIMEOUT = 2150858793
_HYPERV_SECTIONS = frozenset({"vmhost", "migration_networks", "vm_switches", "supported_versions", "vms"})


class DeadlineExceeded(Exception):
    """The host did not finish within its overall deadline."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer within {seconds:g} s")
        self.seconds = seconds


class ProbeFailed(Exception):
    """The probe ran but produced no usable document (it threw, or wrote only errors)."""


def _has(exc: BaseException, *types: type[BaseException]) -> BaseException | None:
    return next((c for c in causes(exc) if isinstance(c, types)), None)


def _mentions(exc: BaseException, *needles: str) -> bool:
    text = " ".join(str(c) for c in causes(exc)).lower()
    return any(n in text for n in needles)


def _test_wsman(t: HostTarget) -> str:
    ssl_flag = " -UseSSL" if t.transport == "https" else ""
    port_flag = f" -Port {t.port}" if t.port not in (5985, 5986) else ""
    return f"Test-WSMan -ComputerName {ps_quote(t.address)}{port_flag}{ssl_flag}"


def _listener_hint(t: HostTarget) -> str:
    if t.transport == "https":
        return (
            f"check {_test_wsman(t)} from here, and on the host Enable-PSRemoting plus an HTTPS listener "
            f"(winrm quickconfig -transport:https) and a firewall rule for TCP {t.port}"
        )
    return f"check {_test_wsman(t)} from here, and on the host Enable-PSRemoting and a firewall rule for TCP {t.port}"


def _tls(exc: BaseException, t: HostTarget) -> tuple[str, str]:
    detail = next((str(c) for c in causes(exc) if isinstance(c, ssl.SSLError)), str(exc))
    detail = detail if len(detail) < 300 else detail[:300] + "..."
    if isinstance(_has(exc, ssl.SSLCertVerificationError), ssl.SSLCertVerificationError) or _mentions(
        exc, "certificate verify failed"
    ):
        if _mentions(exc, "hostname mismatch", "doesn't match", "not valid for", "ip address mismatch"):
            return "tls", (
                f"the TLS certificate of {t.where} does not name {t.address} ({detail}); connect with a name the "
                "certificate holds (address in the inventory) or reissue the listener's certificate"
            )
        return "tls", (
            f"the TLS certificate of {t.where} is not trusted ({detail}); give your CA's certificate with "
            "--ca-bundle FILE or ca_bundle in the inventory (--no-verify-tls only in a test lab)"
        )
    return "tls", (
        f"TLS handshake with {t.where} failed ({detail}); check the HTTPS listener and its certificate on the host "
        "(winrm enumerate winrm/config/listener)"
    )


def _auth_hint(t: HostTarget) -> str:
    who = t.username or "the current Kerberos ticket"
    hints = {
        "basic": "Basic must be allowed on the service (WSMan:\\localhost\\Service\\Auth\\Basic) "
        "and works for local accounts only",
        "kerberos": "Kerberos needs the host's FQDN as its name (not an IP address) and a ticket (kinit)",
        "credssp": "CredSSP must be enabled on the service (Enable-WSManCredSSP -Role Server)",
        "ntlm": "a local account other than Administrator also needs LocalAccountTokenFilterPolicy = 1",
        "negotiate": "negotiate tries Kerberos, then NTLM; use the host's FQDN and a domain account",
    }
    return (
        f"authentication as {who} with {t.auth} failed on {t.where}; check the username (inventory or "
        f"HVLM_USERNAME) and the password (HVLM_PASSWORD, keyring or prompt); {hints.get(t.auth, '')}"
    )


def classify(exc: BaseException, t: HostTarget) -> tuple[str, str]:
    """(kind, message) for a failure to collect host `t`."""
    if isinstance(exc, DeadlineExceeded):
        return "timeout", (
            f"no complete answer from {t.where} within the per-host deadline of {exc.seconds:g} s; "
            f"check that WinRM answers ({_test_wsman(t)}) or allow more time with --host-timeout"
        )
    if isinstance(exc, ProbeFailed):
        return "probe_error", f"the probe failed on {t.host_label}: {exc}"
    if isinstance(exc, ProbeOutputError):
        return "probe_error", f"the probe's output from {t.host_label} is unusable: {exc}"
    if t.auth in ("kerberos", "negotiate"):
        failure = find_failure(exc)
        if failure is not None:  # pypsrp asks for WSMAN/<inventory name> (see psrp._wsman)
            return "authentication", explain(failure, t.where, f"WSMAN/{t.name}")
    if isinstance(exc, AuthenticationError):
        return "authentication", _auth_hint(t)
    if isinstance(exc, WSManFaultError):
        code, reason = exc.code, (exc.reason or str(exc)).strip()
        if code == WSMAN_ACCESS_DENIED or str(code) == str(WSMAN_ACCESS_DENIED):
            who = t.username or "the account"
            member = ps_quote(t.username) if t.username else "<account>"
            return "access_denied", (
                f"access denied on {t.host_label}: {who} authenticated but may not open a PowerShell session; "
                f"add it to the local Administrators group on {t.name} "
                f"(Add-LocalGroupMember -SID 'S-1-5-32-544' -Member {member})"
            )
        if str(code) == str(WSMAN_OPERATION_TIMEOUT):
            return "timeout", f"WinRM on {t.host_label} timed out the operation ({reason}); retry with a larger --host-timeout"
        return "protocol", (
            f"WinRM on {t.host_label} refused the request: {reason} (WSMan fault {code}); check the WinRM service "
            "and its quotas (winrm get winrm/config)"
        )
    if isinstance(exc, WinRMTransportError):
        code = exc.code
        if code in (502, 503, 504):
            return "unreachable", (
                f"WinRM on {t.where} answered HTTP {code} (service unavailable); the WinRM service may be stopping "
                f"or overloaded: check Get-Service WinRM on {t.name} and retry"
            )
        if code == 404:
            return "protocol", f"no WinRM endpoint at {t.endpoint} (HTTP 404); {_listener_hint(t)}"
        return "protocol", f"WinRM on {t.where} answered HTTP {code}; check the listener and the WinRM service"
    if isinstance(exc, InvalidPSRPOperation):
        return "protocol", (
            f"the PowerShell runspace pool on {t.host_label} could not be used ({exc}); check the Microsoft.PowerShell "
            "session configuration (Get-PSSessionConfiguration) and the shell memory quota (MaxMemoryPerShellMB)"
        )
    if isinstance(exc, requests.exceptions.SSLError) or isinstance(_has(exc, ssl.SSLError), ssl.SSLError):
        return _tls(exc, t)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "unreachable", (
            f"no answer from {t.where} within {t.connect_timeout:g} s: the host is down or a firewall drops "
            f"WinRM ({t.transport.upper()} {t.port}); {_listener_hint(t)}"
        )
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "timeout", (
            f"{t.where} accepted the connection but stopped answering; WinRM or the host may be overloaded: "
            f"check Get-Service WinRM on {t.name}, or allow more time with --host-timeout"
        )
    if isinstance(exc, requests.exceptions.ConnectionError | OSError):
        if isinstance(_has(exc, socket.gaierror), socket.gaierror) or _mentions(
            exc, "name or service not known", "nodename nor servname", "failed to resolve", "getaddrinfo failed",
            "temporary failure in name resolution", "no address associated",
        ):
            return "name_resolution", (
                f"cannot resolve {t.address}: check the name, your DNS servers, or set address in the inventory"
            )
        if _has(exc, ConnectionRefusedError) or _mentions(exc, "connection refused"):
            return "unreachable", (
                f"WinRM {t.transport.upper()} listener not reachable on {t.where} (connection refused); {_listener_hint(t)}"
            )
        if _has(exc, ConnectionResetError) or _mentions(exc, "reset by peer", "connection aborted", "remotedisconnected"):
            return "unreachable", (
                f"the connection to {t.where} was reset: a firewall or proxy may block WinRM, or the listener failed; "
                f"{_listener_hint(t)}"
            )
        return "unreachable", f"cannot connect to {t.where} ({type(exc).__name__}); {_listener_hint(t)}"
    if type(exc).__module__.startswith("spnego"):
        return "authentication", _auth_hint(t) + f" ({type(exc).__name__})"
    if isinstance(exc, WinRMError):
        return "protocol", f"WinRM error from {t.host_label}: {exc}"
    if isinstance(exc, ValueError):
        return "protocol", f"cannot talk to {t.where}: {exc}"
    return "protocol", f"unexpected error talking to {t.where} ({type(exc).__name__}: {exc})"


def section_hint(host: str, section: str, kind: str, message: str) -> str:
    """Advice for a section the probe could not read."""
    if kind == "not_found" and section == "supported_versions":
        return message + " (Get-VMHostSupportedVersion exists from Windows Server 2016; 2012 R2 runs version 5.0 only)"
    if kind == "not_found" and section in _HYPERV_SECTIONS:
        return message + (
            f" (is the Hyper-V PowerShell module installed on {host}? Install-WindowsFeature -Name Hyper-V-PowerShell)"
        )
    if kind == "access_denied":
        return message + f" (run hvlm with an account in the local Administrators group of {host})"
    return message
