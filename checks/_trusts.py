"""trustedDomain objects as the trust checks read them (MS-ADTS 6.1.6.7.9 trustDirection, 6.1.6.7.10
trustAttributes): which object describes the trust between two domains, and which way it carries
accounts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

INBOUND, OUTBOUND = 1, 2  # trustDirection bits, relative to the domain holding the object
FOREST_TRANSITIVE = 0x8
CROSS_ORGANIZATION = 0x10  # selective authentication
WITHIN_FOREST = 0x20
ALLOWED_TO_AUTHENTICATE = "68b1d179-0d15-4d4f-ab71-46152e79a7bc"  # the extended right's rightsGuid


def covers(trust: Mapping[str, Any], other: str) -> bool:
    """Does this trustedDomain object describe a trust with `other` (directly or through a forest trust)?"""
    partner = str(trust["trustPartner"]).lower().rstrip(".")
    other = other.lower()
    if partner == other:
        return True
    return bool(trust["trustAttributes"] & FOREST_TRANSITIVE) and other.endswith("." + partner)


def trusting(holder_trusts: list[Mapping[str, Any]], accounts_of: str) -> list[Mapping[str, Any]]:
    """The objects by which the holding domain trusts `accounts_of`'s domain (outbound from the holder):
    the ones whose attributes govern how that domain's accounts may authenticate in the holder."""
    return [t for t in holder_trusts if covers(t, accounts_of) and t["trustDirection"] & OUTBOUND]
