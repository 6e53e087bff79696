"""An Ansible inventory (INI or YAML) as an hvlm inventory (TOML): `hvlm inventory from-ansible`.

What is read, and nothing else:

- hosts: every host of the inventory, in the order first seen, by its inventory name;
  host ranges (`hv[01:20].corp.example`, `hv[a:c]`, with an optional stride `[0:10:2]`) expand;
- host variables `ansible_host` (the hvlm `address`) and `ansible_port` (the hvlm `port`), given on
  the host's own line (INI) or under the host (YAML); group variables are not read (a note says so
  when they set either), since which group wins is Ansible's precedence, not hvlm's;
- groups: every group but `all` and `ungrouped` becomes an hvlm group of its hosts, a parent group
  (`:children` / `children:`) of the hosts of its children as Ansible counts them. hvlm plans every
  ordered pair inside each group; with no group at all, every ordered pair (hvlm's default).

Anything unreadable is an InputError naming the file and the line or the YAML path.
"""

from __future__ import annotations

import json
import re
import shlex
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hvlm.audit.errors import InputError
from hvlm.audit.inventory import parse_inventory
from hvlm.audit.jsonio import read_text

__all__ = ["AnsibleInventory", "expand_hosts", "guess_format", "parse_ansible", "read_ansible", "to_toml"]

_IMPLICIT = ("all", "ungrouped")
_RANGE = re.compile(r"\[([0-9a-zA-Z]+):([0-9a-zA-Z]+)(?::(\d+))?\]")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class _Group:
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)


@dataclass
class AnsibleInventory:
    """What hvlm takes from an Ansible inventory."""

    hosts: dict[str, dict[str, Any]]  # name -> {"address": ..., "port": ...}, in order
    groups: dict[str, list[str]]  # flattened, without all/ungrouped
    notes: list[str] = field(default_factory=list)


# -- host patterns --------------------------------------------------------------------------------


def expand_hosts(pattern: str) -> list[str]:
    """Ansible's host ranges: `hv[01:03]` -> hv01, hv02, hv03; `db-[a:c]` -> db-a, db-b, db-c."""
    match = _RANGE.search(pattern)
    if match is None:
        return [pattern]
    start, end, stride_text = match.group(1), match.group(2), match.group(3)
    stride = int(stride_text) if stride_text else 1
    if stride < 1:
        raise ValueError(f"range {match.group(0)}: the stride must be at least 1")
    head, tail = pattern[: match.start()], pattern[match.end():]
    if start.isdigit() and end.isdigit():
        width = len(start) if start.startswith("0") and len(start) > 1 else 0
        if int(start) > int(end):
            raise ValueError(f"range {match.group(0)} runs backwards")
        items = [str(i).zfill(width) for i in range(int(start), int(end) + 1, stride)]
    elif len(start) == 1 and len(end) == 1 and start in string.ascii_letters and end in string.ascii_letters:
        if start > end:
            raise ValueError(f"range {match.group(0)} runs backwards")
        items = [chr(c) for c in range(ord(start), ord(end) + 1, stride)]
    else:
        raise ValueError(f"range {match.group(0)} is neither numeric nor one letter to another")
    return [h for item in items for h in expand_hosts(head + item + tail)]


# -- INI ----------------------------------------------------------------------------------------------


def _value(text: str) -> Any:
    """An INI variable's value as Ansible reads it on a host line: a number stays a number."""
    try:
        return int(text)
    except ValueError:
        return text


def _parse_ini(text: str, name: str) -> dict[str, _Group]:
    groups: dict[str, _Group] = {"all": _Group(), "ungrouped": _Group()}
    host_vars: dict[str, dict[str, Any]] = {}
    section, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), start=1):
        where = f"line {number}"
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise InputError(name, f"unclosed section header {line!r}", where)
            header = line[1:-1].strip()
            section, _, kind = header.partition(":")
            kind = kind or "hosts"
            if not section or kind not in ("hosts", "vars", "children"):
                raise InputError(name, f"unknown section [{header}] (expected [group], [group:vars] or "
                                 "[group:children])", where)
            groups.setdefault(section, _Group())
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise InputError(name, f"cannot split the line: {exc}", where) from None
        if not words:
            continue
        group = groups[section]
        if kind == "children":
            group.children.append(words[0])
            groups.setdefault(words[0], _Group())
        elif kind == "vars":
            key, eq, value = line.partition("=")
            if not eq:
                raise InputError(name, f"expected key=value under [{section}:vars]", where)
            group.vars[key.strip()] = value.strip()
        else:
            variables: dict[str, Any] = {}
            for word in words[1:]:
                key, eq, value = word.partition("=")
                if not eq or not key:
                    raise InputError(name, f"expected key=value after the host name, not {word!r}", where)
                variables[key] = _value(value)
            try:
                names = expand_hosts(words[0])
            except ValueError as exc:
                raise InputError(name, f"host pattern {words[0]!r}: {exc}", where) from None
            for host in names:
                group.hosts.append(host)
                host_vars.setdefault(host, {}).update(variables)
                _check_vars(host_vars[host], name, where)
    groups["all"].vars["__host_vars__"] = host_vars
    return groups


# -- YAML ---------------------------------------------------------------------------------------------


def _parse_yaml(data: Any, name: str) -> dict[str, _Group]:
    if not isinstance(data, dict):
        raise InputError(name, "an Ansible YAML inventory is a mapping of groups (usually all:)", "/")
    groups: dict[str, _Group] = {"all": _Group(), "ungrouped": _Group()}
    host_vars: dict[str, dict[str, Any]] = {}

    def group(gname: str, body: Any, where: str) -> None:
        g = groups.setdefault(gname, _Group())
        if body is None:
            return
        if not isinstance(body, dict):
            raise InputError(name, "a group is a mapping of hosts, vars and children", where)
        for key in body:
            if key not in ("hosts", "vars", "children"):
                raise InputError(name, f"unknown key {key!r} in a group (hosts, vars, children)", f"{where}/{key}")
        hosts = body.get("hosts") or {}
        if not isinstance(hosts, dict):
            raise InputError(name, "hosts is a mapping of host names to their variables", f"{where}/hosts")
        for pattern, variables in hosts.items():
            if variables is not None and not isinstance(variables, dict):
                raise InputError(name, "a host's variables are a mapping", f"{where}/hosts/{pattern}")
            try:
                names = expand_hosts(str(pattern))
            except ValueError as exc:
                raise InputError(name, f"host pattern {pattern!r}: {exc}", f"{where}/hosts/{pattern}") from None
            for host in names:
                g.hosts.append(host)
                host_vars.setdefault(host, {}).update(variables or {})
                _check_vars(host_vars[host], name, f"{where}/hosts/{pattern}")
        variables = body.get("vars") or {}
        if not isinstance(variables, dict):
            raise InputError(name, "vars is a mapping", f"{where}/vars")
        g.vars.update(variables)
        children = body.get("children") or {}
        if not isinstance(children, dict):
            raise InputError(name, "children is a mapping of group names", f"{where}/children")
        for child, child_body in children.items():
            g.children.append(str(child))
            group(str(child), child_body, f"{where}/children/{child}")

    for gname, body in data.items():
        group(str(gname), body, f"/{gname}")
    groups["all"].vars["__host_vars__"] = host_vars
    return groups


# -- both ---------------------------------------------------------------------------------------------


def _check_vars(variables: dict[str, Any], name: str, where: str) -> None:
    port = variables.get("ansible_port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
        raise InputError(name, f"ansible_port must be a port number from 1 to 65535, not {port!r}", where)
    address = variables.get("ansible_host")
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise InputError(name, f"ansible_host must be a host name or address, not {address!r}", where)


def _members(groups: dict[str, _Group], gname: str, seen: tuple[str, ...] = ()) -> list[str]:
    if gname in seen:
        raise ValueError(" -> ".join((*seen, gname)))
    g = groups[gname]
    out = list(g.hosts)
    for child in g.children:
        out.extend(_members(groups, child, (*seen, gname)))
    return list(dict.fromkeys(out))


def _convert(groups: dict[str, _Group], name: str) -> AnsibleInventory:
    host_vars: dict[str, dict[str, Any]] = groups["all"].vars.pop("__host_vars__")
    notes: list[str] = []
    flattened: dict[str, list[str]] = {}
    for gname in groups:
        try:
            members = _members(groups, gname)
        except ValueError as exc:
            raise InputError(name, f"group {gname} contains itself ({exc})") from None
        if gname not in _IMPLICIT and members:
            flattened[gname] = members
        ignored = sorted(k for k in groups[gname].vars if k in ("ansible_host", "ansible_port"))
        if ignored:
            notes.append(f"group {gname} sets {', '.join(ignored)} as a group variable, which hvlm does not read: "
                         "set it per host, or under [defaults] in the hvlm inventory")
    hosts: dict[str, dict[str, Any]] = {}
    for host in host_vars:
        settings: dict[str, Any] = {}
        variables = host_vars[host]
        if variables.get("ansible_host") and str(variables["ansible_host"]).strip() != host:
            settings["address"] = str(variables["ansible_host"]).strip()
        if variables.get("ansible_port") is not None:
            settings["port"] = int(variables["ansible_port"])
        hosts[host] = settings
    if not hosts:
        raise InputError(name, "the Ansible inventory has no hosts")
    return AnsibleInventory(hosts, flattened, notes)


def guess_format(name: str) -> str:
    """As Ansible decides: its yaml plugin takes .yml, .yaml and .json files, the ini plugin the rest."""
    return "yaml" if Path(name).suffix.lower() in (".yml", ".yaml", ".json") else "ini"


def parse_ansible(text: str, name: str, fmt: str | None = None) -> AnsibleInventory:
    """INI or YAML: `fmt`, else by the file's extension as Ansible does."""
    if (fmt or guess_format(name)) == "yaml":
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise InputError(name, f"invalid YAML: {problem}", where) from None
        return _convert(_parse_yaml(data, name), name)
    return _convert(_parse_ini(text, name), name)


def read_ansible(path: str, fmt: str | None = None) -> AnsibleInventory:
    return parse_ansible(read_text(path), path, fmt)


# -- TOML -------------------------------------------------------------------------------------------


def _key(text: str) -> str:
    return text if _BARE_KEY.match(text) else json.dumps(text)


def _inline(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {json.dumps(v)}" for k, v in settings.items())


def to_toml(inventory: AnsibleInventory, source: str) -> str:
    """The hvlm inventory, checked by hvlm's own inventory parser before it is returned."""
    lines = [f"# hvlm inventory made by `hvlm inventory from-ansible` from {json.dumps(source)}",
             "# Add operator = \"DOMAIN\\\\user\" and connection [defaults] (transport, auth, username, ...).", "",
             "hosts = ["]
    for host, settings in inventory.hosts.items():
        if settings:
            lines.append(f"  {{ name = {json.dumps(host)}, {_inline(settings)} }},")
        else:
            lines.append(f"  {json.dumps(host)},")
    lines.append("]")
    if inventory.groups:
        lines += ["", "# every ordered pair of hosts inside a group is a planned move", "[groups]"]
        lines += [f"{_key(g)} = [{', '.join(json.dumps(h) for h in members)}]" for g, members in inventory.groups.items()]
    text = "\n".join(lines) + "\n"
    try:
        parse_inventory(tomllib.loads(text), "<converted>")
    except InputError as exc:
        raise InputError(source, f"cannot become an hvlm inventory: {exc.detail}", exc.where) from None
    return text
