"""Where and how to connect to each host: the inventory's settings, overridden by the command line.

Secure by default, as administrators expect of pypsrp: HTTPS on 5986 with certificate
validation; HTTP on 5985 only with message encryption (so never with Basic); validation off only
when explicitly asked for, and then loudly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hvlm.audit.errors import UsageError
from hvlm.audit.inventory import Inventory

__all__ = [
    "AUTHS",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_DEADLINE",
    "DEFAULT_PORTS",
    "PASSWORD_AUTHS",
    "ConnectionOverrides",
    "HostTarget",
    "plan_targets",
    "tls_warnings",
]

DEFAULT_PORTS = {"https": 5986, "http": 5985}
AUTHS = ("negotiate", "kerberos", "ntlm", "credssp", "basic")
PASSWORD_AUTHS = frozenset({"ntlm", "credssp", "basic"})  # cannot fall back on a Kerberos ticket
DEFAULT_DEADLINE = 120.0
DEFAULT_CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class ConnectionOverrides:
    """Connection options given on the command line; None means "as the inventory says"."""

    transport: str | None = None
    port: int | None = None
    auth: str | None = None
    ca_bundle: str | None = None
    no_verify_tls: bool = False
    deadline: float | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT


@dataclass(frozen=True)
class HostTarget:
    """One host to probe. Holds no secret: the password travels separately."""

    name: str  # inventory name
    address: str  # what to connect to (the name unless the inventory sets address)
    port: int
    transport: str  # https | http
    auth: str
    username: str | None
    ca_bundle: str | None
    verify_tls: bool
    deadline: float  # seconds for the whole host: connect, probe, close
    connect_timeout: float

    @property
    def endpoint(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.transport}://{host}:{self.port}/wsman"

    @property
    def host_label(self) -> str:
        """The inventory name, with the address when the two differ: what a message should name."""
        return self.name if self.address == self.name else f"{self.name} ({self.address})"

    @property
    def where(self) -> str:
        if self.address == self.name:
            return f"{self.name}:{self.port}"
        return f"{self.name} ({self.address}:{self.port})"


def _positive(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise UsageError(f"{what} must be a positive number of seconds, not {value!r}")
    return float(value)


def _ca_path(value: Any, base: Path | None, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise UsageError(f"{what}: ca_bundle must be the path of a PEM file")
    path = Path(value).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    if not path.is_file():
        raise UsageError(f"{what}: CA bundle {path} does not exist")
    return str(path)


def _target(inventory: Inventory, name: str, o: ConnectionOverrides, env: Mapping[str, str]) -> HostTarget:
    settings = inventory.connection(name)
    where = f"host {name}"
    base = Path(inventory.path).parent if inventory.path else None
    transport = str(o.transport or settings.get("transport") or "https")
    auth = str(o.auth or settings.get("auth") or "negotiate")
    if transport not in DEFAULT_PORTS:
        raise UsageError(f"{where}: transport must be https or http")
    if auth not in AUTHS:
        raise UsageError(f"{where}: auth must be one of {', '.join(AUTHS)}")
    if auth == "basic" and transport != "https":
        raise UsageError(
            f"{where}: Basic authentication over HTTP would send the password readable and unencrypted; "
            "use transport https, or negotiate, kerberos, ntlm or credssp over HTTP (message encryption)"
        )
    port = o.port or settings.get("port") or DEFAULT_PORTS[transport]
    username = settings.get("username") or env.get("HVLM_USERNAME") or None
    if username is not None and not isinstance(username, str):
        raise UsageError(f"{where}: username must be a string")
    if auth in PASSWORD_AUTHS and not username:
        raise UsageError(
            f"{where}: {auth} authentication needs a username: set username in the inventory "
            "(per host or under [defaults]) or the HVLM_USERNAME environment variable"
        )
    ca_bundle = None
    if o.ca_bundle:
        ca_bundle = _ca_path(o.ca_bundle, None, "--ca-bundle")
    elif settings.get("ca_bundle"):
        ca_bundle = _ca_path(settings["ca_bundle"], base, where)
    verify = settings.get("verify_tls", True)
    if not isinstance(verify, bool):
        raise UsageError(f"{where}: verify_tls must be true or false")
    verify_tls = verify and not o.no_verify_tls
    if transport == "https" and not verify_tls and auth in ("basic", "credssp"):
        switch = "--no-verify-tls" if o.no_verify_tls else "verify_tls = false in the inventory"
        what = "the password, readable" if auth == "basic" else "your delegated credentials"
        raise UsageError(
            f"{where}: {auth} authentication with TLS certificate validation off ({switch}) would hand {what}, to "
            "whoever answers on the network path; give the CA of the hosts' certificates with --ca-bundle (or "
            "ca_bundle in the inventory), or in a test lab use negotiate, kerberos or ntlm"
        )
    deadline = o.deadline if o.deadline is not None else settings.get("timeout", DEFAULT_DEADLINE)
    address = settings.get("address") or name
    if not isinstance(address, str):
        raise UsageError(f"{where}: address must be a string")
    return HostTarget(
        name=name,
        address=address,
        port=int(port),
        transport=transport,
        auth=auth,
        username=username,
        ca_bundle=ca_bundle,
        verify_tls=verify_tls,
        deadline=_positive(deadline, f"{where}: timeout"),
        connect_timeout=_positive(o.connect_timeout, "--connect-timeout"),
    )


def plan_targets(
    inventory: Inventory, overrides: ConnectionOverrides, env: Mapping[str, str] | None = None
) -> list[HostTarget]:
    """Every inventory host's target; a setting that cannot be honoured safely is a usage error."""
    environ = os.environ if env is None else env
    return [_target(inventory, name, overrides, environ) for name in inventory.host_names]


def tls_warnings(targets: list[HostTarget]) -> list[str]:
    """The loud warnings owed for every HTTPS host whose certificate will not be checked."""
    unchecked = [t.name for t in targets if t.transport == "https" and not t.verify_tls]
    if not unchecked:
        return []
    shown = ", ".join(unchecked[:10]) + (f" and {len(unchecked) - 10} more" if len(unchecked) > 10 else "")
    return [
        "WARNING: TLS certificate validation is OFF for " + shown + ".",
        "WARNING: anyone on the network path can impersonate these hosts and capture the credentials "
        "you send them. Use --ca-bundle (or ca_bundle in the inventory) instead, outside a test lab.",
    ]
