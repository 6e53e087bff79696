"""A live diagnosis collects only what one move needs: its two hosts and their directory, nothing else.

The inventory (when given) supplies connection settings, the [ad] table and the operator; it is
narrowed to the two hosts and the one direction, so the collectors probe two hosts, read two
computer objects and look up one operator. Without an inventory the two names are used as given,
with the command line's connection options.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hvlm.audit.errors import InputError
from hvlm.audit.inventory import Inventory, parse_inventory

__all__ = ["pair_inventory"]


def _match(inventory: Inventory, text: str, role: str) -> str:
    wanted = text.strip().casefold().rstrip(".")
    exact = [h for h in inventory.host_names if h.casefold() == wanted]
    hits = exact or [h for h in inventory.host_names if h.split(".", 1)[0].casefold() == wanted.split(".", 1)[0]
                     and ("." not in wanted or "." not in h)]
    if len(hits) == 1:
        return hits[0]
    where = inventory.path or "<inventory>"
    if hits:
        raise InputError(where, f"--{role} {text!r} matches several hosts: {', '.join(hits)}; give the full name", "hosts")
    shown = ", ".join(inventory.host_names[:12]) + (" ..." if len(inventory.host_names) > 12 else "")
    raise InputError(where, f"the {role} {text!r} is not a host of the inventory (its hosts: {shown})", "hosts")


def pair_inventory(
    inventory: Inventory | None, source: str, destination: str, operator: str | None = None
) -> Inventory:
    """The inventory of one move: its two hosts, the one direction, the operator (--operator wins)."""
    if inventory is None:
        data: dict[str, Any] = {"hosts": [source.strip(), destination.strip()],
                                "migrations": [{"source": source.strip(), "destination": destination.strip()}]}
        if operator:
            data["operator"] = operator
        return parse_inventory(data, "<diagnose --source/--destination>")
    src, dst = _match(inventory, source, "source"), _match(inventory, destination, "destination")
    if src == dst:
        raise InputError(inventory.path or "<inventory>", f"the source and the destination are the same host ({src})")
    return replace(inventory, hosts=(inventory.host(src), inventory.host(dst)), pairs=((src, dst),), groups={},
                   operator=operator or inventory.operator)
