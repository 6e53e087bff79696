"""Which end of a move a host (or operator) check concerns, for move verdicts and `hvlm diagnose`.

A host finding counts for a move only where it can stop it: the destination's incoming settings
(firewall, migration networks) do not stop moves away from that host, and the source's delegation
does not stop moves to it.
"""

from __future__ import annotations

__all__ = ["BOTH", "ROLES", "affects"]

BOTH = frozenset({"source", "destination"})
SRC = frozenset({"source"})
DST = frozenset({"destination"})
# Which host of a move a host (or operator) check concerns. Facts document sections 2 and 3:
# incoming settings (firewall, migration networks) are the destination's; delegation (and the
# operator's delegability) is the source's, which hands the operator's identity on; the role, the
# service, live migration itself, the OS, the domain and local rights are needed on both. A check
# not listed here (a third party's) is kept on both hosts: hvlm cannot tell its direction.
ROLES: dict[str, frozenset[str]] = {
    "host-any-network": DST,
    "host-dns-forward-reverse": DST,  # tickets are asked for the destination's name
    "host-domain-member": BOTH,
    "host-firewall-6600": DST,
    "host-hyperv-role": BOTH,
    "host-kcd-any-protocol": SRC,
    "host-logon-as-service": DST,  # the planned VM logs on at the destination (0x80070569)
    "host-migration-enabled": BOTH,  # "incoming and outgoing live migrations"
    "host-migration-subnet-private": DST,  # the traffic uses the destination's migration subnets
    "host-migration-subnets": DST,
    "host-os-supported": BOTH,
    "host-policy-file": DST,  # a corrupt Registry.pol disables the destination's migration listener
    "host-simultaneous-migrations": BOTH,
    "host-unconstrained-delegation": SRC,
    "operator-delegable": SRC,
    "operator-local-admin": BOTH,
}


def affects(check_id: str, role: str) -> bool:
    """Whether a host check's finding on a move's `role` ("source" or "destination") bears on that move."""
    return role in ROLES.get(check_id, BOTH)
