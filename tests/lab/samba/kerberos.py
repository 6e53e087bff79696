"""Kerberos for the WinRM lab: computer accounts with WinRM SPNs, their keytab, and kinit.

A Windows host's computer account carries the SPNs clients ask the KDC for: pypsrp (like
PowerShell) builds ``WSMAN/<name in the URL>``, other HTTP clients ``HTTP/<name>``, and
``HOST/<name>`` covers the rest. :func:`register_winrm_hosts` adds such accounts for simulated
hosts, with the FQDN and the short name, and exports their keys with ``samba-tool domain
exportkeytab`` into one keytab the WinRM lab's acceptor reads (see tests/lab/winrm/kerberos.py).

Kept apart from the general seeding (seeding.py) on purpose: these accounts exist to accept
Kerberos, and their names start with a prefix of the caller's choosing so they never collide with
the directory tests' computers.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ._proc import LabError
from .seed import ComputerSpec

WINRM_SERVICES = ("WSMAN", "HTTP", "HOST")


class _DC(Protocol):
    realm: str
    dns_domain: str
    krb5_conf: Path

    def add_computers_bulk(self, specs: Iterable[ComputerSpec]) -> list[str]: ...

    def samba_tool(self, *args: str, admin: bool = False, namespaced: bool = False) -> str: ...


@dataclass(frozen=True)
class KerberosHosts:
    """Simulated hosts the KDC knows: short name -> FQDN, and the keytab holding their keys."""

    keytab: Path
    fqdns: dict[str, str]


def winrm_spns(short: str, fqdn: str) -> tuple[str, ...]:
    """The SPNs of a WinRM host's computer account: each service with the FQDN and the short name."""
    return tuple(f"{service}/{name}" for service in WINRM_SERVICES for name in (fqdn, short.upper()))


def register_winrm_hosts(dc: _DC, names: Iterable[str], keytab: Path) -> KerberosHosts:
    """Add one enabled computer account per name (``NAME$``, dNSHostName ``name.<domain>``) with
    :func:`winrm_spns`, and export their keys into ``keytab`` (appended when it exists)."""
    fqdns = {name: f"{name.lower()}.{dc.dns_domain}" for name in names}
    if not fqdns:
        raise ValueError("no host names")
    dc.add_computers_bulk(
        ComputerSpec(name=name, dns_host_name=fqdn, spns=winrm_spns(name, fqdn)) for name, fqdn in fqdns.items()
    )
    for name in fqdns:
        dc.samba_tool("domain", "exportkeytab", str(keytab), f"--principal={name.upper()}$")
    if not keytab.is_file():
        raise LabError(f"samba-tool wrote no keytab at {keytab}")
    return KerberosHosts(keytab=keytab, fqdns=fqdns)


def kinit(
    dc: _DC, user: str, password: str, ccache: Path, *, lifetime: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``kinit user@REALM`` into the FILE ccache ``ccache`` against the lab KDC (password on stdin,
    never on the command line). ``lifetime`` is kinit's ``-l`` (e.g. ``"3s"``)."""
    command = ["kinit", *(["-l", lifetime] if lifetime else []), f"{user}@{dc.realm}"]
    env = dict(os.environ, KRB5_CONFIG=str(dc.krb5_conf), KRB5CCNAME=f"FILE:{ccache}")
    proc = subprocess.run(command, input=password + "\n", text=True, capture_output=True, env=env, timeout=30,
                          check=False)
    if proc.returncode != 0:
        raise LabError(f"kinit {user}@{dc.realm} failed: {proc.stderr.replace(password, '********').strip()}")
    return proc
