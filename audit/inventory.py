"""The inventory: which hosts, which operator account, which planned migrations.

A TOML file. Hosts may be plain names or tables with per-host connection settings. Planned
migrations are every ordered pair among the hosts unless groups or explicit pairs are given.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hvlm.audit.errors import InputError
from hvlm.audit.jsonio import read_text

__all__ = ["CONNECTION_KEYS", "HostEntry", "Inventory", "load_inventory", "parse_inventory"]

CONNECTION_KEYS = frozenset(
    {"address", "port", "transport", "auth", "username", "ca_bundle", "verify_tls", "timeout", "domain"}
)
_TRANSPORTS = {"https", "http"}
_AUTHS = {"negotiate", "kerberos", "ntlm", "credssp", "basic"}


@dataclass(frozen=True)
class HostEntry:
    name: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Inventory:
    path: str | None
    hosts: tuple[HostEntry, ...]
    operator: str | None
    pairs: tuple[tuple[str, str], ...]
    groups: dict[str, tuple[str, ...]]
    defaults: dict[str, Any]
    ad: dict[str, Any]
    include_return: bool = False
    waivers: str | None = None  # the waivers file (top-level `waivers = "path"`, relative to the inventory)
    # the inventory host moves are started from (top-level `management_host = "hv01..."`), if it is one
    management_host: str | None = None

    @property
    def host_names(self) -> list[str]:
        return [h.name for h in self.hosts]

    def host(self, name: str) -> HostEntry:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    def connection(self, name: str) -> dict[str, Any]:
        """Connection settings for a host: its own over the defaults."""
        return {**self.defaults, **self.host(name).settings}

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "operator": self.operator,
            "hosts": self.host_names,
            "pairs": [list(p) for p in self.pairs],
            "groups": {k: list(v) for k, v in self.groups.items()},
            **({"include_return": True} if self.include_return else {}),
        }


def load_inventory(path: str | Path) -> Inventory:
    name = str(path)
    text = read_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(name, f"invalid TOML: {exc}") from None
    return parse_inventory(data, name)


def _check_settings(settings: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    for key, value in settings.items():
        if "password" in key.lower():
            raise InputError(name, "passwords never go in the inventory; use HVLM_PASSWORD or a prompt", where)
        if key not in CONNECTION_KEYS:
            raise InputError(name, f"unknown setting {key!r} (known: {', '.join(sorted(CONNECTION_KEYS))})", where)
        if key == "transport" and value not in _TRANSPORTS:
            raise InputError(name, f"transport must be one of {sorted(_TRANSPORTS)}", f"{where}.transport")
        if key == "auth" and value not in _AUTHS:
            raise InputError(name, f"auth must be one of {sorted(_AUTHS)}", f"{where}.auth")
        if key == "port" and (not isinstance(value, int) or not 0 < value < 65536):
            raise InputError(name, "port must be an integer from 1 to 65535", f"{where}.port")
    return dict(settings)


def _host_name(value: Any, name: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(name, "a host name must be a non-empty string", where)
    host = str(value).strip()
    if any(c.isspace() or ord(c) < 32 for c in host) or len(host) > 253:
        raise InputError(name, f"{host!r} is not a valid host name", where)
    return host


def parse_inventory(data: dict[str, Any], name: str = "<inventory>") -> Inventory:
    raw_hosts = data.get("hosts")
    if not isinstance(raw_hosts, list) or not raw_hosts:
        raise InputError(name, "the inventory needs a non-empty 'hosts' list", "hosts")
    hosts: list[HostEntry] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw_hosts):
        where = f"hosts[{i}]"
        if isinstance(item, str):
            entry = HostEntry(_host_name(item, name, where))
        elif isinstance(item, dict):
            settings = {k: v for k, v in item.items() if k != "name"}
            entry = HostEntry(_host_name(item.get("name"), name, f"{where}.name"), _check_settings(settings, name, where))
        else:
            raise InputError(name, "each host is a name or a table with a 'name'", where)
        key = entry.name.lower()
        if key in seen:
            raise InputError(name, f"host {entry.name!r} is named twice (also hosts[{seen[key]}])", where)
        seen[key] = i
        hosts.append(entry)
    names = {h.name.lower(): h.name for h in hosts}

    def resolve(value: Any, where: str) -> str:
        host = _host_name(value, name, where)
        if host.lower() not in names:
            raise InputError(name, f"{host!r} is not one of the inventory's hosts", where)
        return str(names[host.lower()])

    groups: dict[str, tuple[str, ...]] = {}
    raw_groups = data.get("groups", {})
    if not isinstance(raw_groups, dict):
        raise InputError(name, "'groups' must be a table of name = [hosts]", "groups")
    for gname, members in raw_groups.items():
        if not isinstance(members, list):
            raise InputError(name, "a group is a list of host names", f"groups.{gname}")
        groups[gname] = tuple(resolve(m, f"groups.{gname}[{j}]") for j, m in enumerate(members))

    pairs: list[tuple[str, str]] = []
    raw_migrations = data.get("migrations", [])
    if not isinstance(raw_migrations, list):
        raise InputError(name, "'migrations' must be an array of {source, destination} tables", "migrations")
    for i, mig in enumerate(raw_migrations):
        where = f"migrations[{i}]"
        if not isinstance(mig, dict):
            raise InputError(name, "a migration is a table with source and destination", where)
        src = resolve(mig.get("source"), f"{where}.source")
        dst = resolve(mig.get("destination"), f"{where}.destination")
        if src == dst:
            raise InputError(name, "source and destination are the same host", where)
        pairs.append((src, dst))
    for members in groups.values():
        pairs.extend(itertools.permutations(members, 2))
    if not raw_migrations and not groups:
        pairs.extend(itertools.permutations([h.name for h in hosts], 2))
    unique = tuple(dict.fromkeys(pairs))

    operator = data.get("operator", {})
    if isinstance(operator, str):
        account: str | None = operator
    elif isinstance(operator, dict):
        account = operator.get("account")
        if account is not None and not isinstance(account, str):
            raise InputError(name, "operator.account must be a string", "operator.account")
    else:
        raise InputError(name, "'operator' must be a table with 'account'", "operator")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise InputError(name, "'defaults' must be a table", "defaults")
    ad = data.get("ad", {})
    if not isinstance(ad, dict):
        raise InputError(name, "'ad' must be a table", "ad")
    management_host = resolve(data["management_host"], "management_host") if "management_host" in data else None
    include_return = data.get("include_return", False)
    if not isinstance(include_return, bool):
        raise InputError(name, "include_return must be true or false", "include_return")
    waivers = data.get("waivers")
    if waivers is not None:
        if not isinstance(waivers, str) or not waivers.strip():
            raise InputError(name, "waivers must be the path of a waivers file (TOML)", "waivers")
        if not name.startswith("<"):
            waivers = str(Path(name).parent / waivers.strip())
    return Inventory(
        path=None if name.startswith("<") else name,
        hosts=tuple(hosts),
        operator=account,
        pairs=unique,
        groups=groups,
        defaults=_check_settings(defaults, name, "defaults"),
        ad=dict(ad),
        include_return=include_return,
        waivers=waivers,
        management_host=management_host,
    )


# Above this many hosts, "every ordered pair" (the default without groups or migrations) stops
# describing a plan: 31 hosts are 930 moves, 200 hosts 39,800.
ALL_PAIRS_ADVICE_HOSTS = 30


def pairing_advice(hosts: list[str], pairs: list[tuple[str, str]] | list[list[str]], groups: dict[str, Any]) -> str | None:
    """A note for stderr when a large inventory plans every ordered pair only by default."""
    n = len(hosts)
    if n <= ALL_PAIRS_ADVICE_HOSTS or groups or len(pairs) != n * (n - 1):
        return None
    return (
        f"the inventory has {n} hosts and no [groups] or [[migrations]], so every ordered pair is planned "
        f"({n * (n - 1):,} moves). Name the moves you plan: [groups] (every pair inside each group, "
        'e.g. prod-a = ["hv01", "hv02"]) or [[migrations]] source/destination tables; see the README.'
    )
