"""LDAP search filters built from inventory names, every value escaped per RFC 4515.

Host names come from an inventory file someone else may have written. A name such as
``hv01)(objectClass=*`` must stay a literal value, never become filter syntax, so every value goes
through escape_filter_value; nothing in this package formats a filter from raw text.

One OR filter fetches the computer objects of every inventory host of a domain in one paged
search. An LDAP request travels in one BER message; Active Directory refuses requests larger than
MaxReceiveBuffer (10,485,760 bytes by default) and Samba authenticated requests above 16 MiB. A
host contributes at most about 600 bytes (two terms of a 253-character name, escaped), so
MAX_HOSTS_PER_FILTER hosts stay under 1.2 MB, a tenth of the smaller limit. Larger fleets are split
into ceil(n / MAX_HOSTS_PER_FILTER) searches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "MAX_HOSTS_PER_FILTER",
    "HostName",
    "and_filter",
    "chunks",
    "computers_filter",
    "equals",
    "escape_filter_value",
    "or_filter",
]

MAX_HOSTS_PER_FILTER = 1000

_SPECIAL = {"\\": "\\5c", "*": "\\2a", "(": "\\28", ")": "\\29", "\0": "\\00"}


def escape_filter_value(value: str | bytes) -> str:
    """Escape an assertion value (RFC 4515 section 3).

    Text: backslash, ``*``, ``(``, ``)`` and NUL become ``\\xx`` as the RFC requires, and so do the
    other control characters, which no legitimate name holds and which would otherwise reach logs
    verbatim. Bytes (binary SIDs, GUIDs): every octet is escaped.
    """
    if isinstance(value, bytes):
        return "".join(f"\\{b:02x}" for b in value)
    out: list[str] = []
    for ch in value:
        if ch in _SPECIAL:
            out.append(_SPECIAL[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def equals(attribute: str, value: str | bytes) -> str:
    """``(attribute=value)`` with the value escaped. Attribute names are ours, never user input."""
    if not attribute.replace("-", "").replace(".", "").isalnum():
        raise ValueError(f"not an attribute name: {attribute!r}")
    return f"({attribute}={escape_filter_value(value)})"


def or_filter(terms: Iterable[str]) -> str:
    items = list(terms)
    return items[0] if len(items) == 1 else f"(|{''.join(items)})"


def and_filter(terms: Iterable[str]) -> str:
    items = list(terms)
    return items[0] if len(items) == 1 else f"(&{''.join(items)})"


@dataclass(frozen=True)
class HostName:
    """The two names an AD computer object is found by: its DNS name and its account name."""

    inventory: str  # the inventory's name for the host
    fqdn: str  # lower case
    sam: str  # NetBIOS name + "$", upper case

    @classmethod
    def of(cls, inventory_name: str, domain: str | None) -> HostName:
        """Derive both names. NetBIOS computer names hold at most 15 characters, and Windows
        truncates longer host names to 15 for sAMAccountName."""
        name = inventory_name.strip().rstrip(".")
        short = name.split(".", 1)[0]
        if "." in name:
            fqdn = name.lower()
        elif domain:
            fqdn = f"{name}.{domain}".lower()
        else:
            fqdn = name.lower()
        return cls(inventory_name, fqdn, short[:15].upper() + "$")


def computers_filter(hosts: Sequence[HostName]) -> str:
    """One filter matching the computer objects of all ``hosts`` by dNSHostName or sAMAccountName."""
    if not hosts:
        raise ValueError("no hosts to search for")
    terms: list[str] = []
    for h in hosts:
        terms.append(equals("dNSHostName", h.fqdn))
        terms.append(equals("sAMAccountName", h.sam))
    return and_filter([equals("objectCategory", "computer"), or_filter(dict.fromkeys(terms))])


def chunks(hosts: Sequence[HostName], size: int = MAX_HOSTS_PER_FILTER) -> list[Sequence[HostName]]:
    """Split a host list into filters of at most ``size`` hosts (see the module docstring)."""
    if size < 1:
        raise ValueError("chunk size must be positive")
    return [hosts[i : i + size] for i in range(0, len(hosts), size)]
