"""Seeding shared by the directory lab tests: once per session, in the session's lab DC.

The DC itself (samba_dc, samba_forest) comes from tests.lab.samba.fixtures, which every lab test
module here registers with ``pytest_plugins`` (one plugin, so one DC per session whoever asks).
"""

from __future__ import annotations

import pytest

from tests.directory import labsetup as lab
from tests.directory.labsetup import OPERATOR_PASSWORD, Seeded
from tests.lab.samba import SambaDC


@pytest.fixture(scope="session")
def seeded(samba_dc: SambaDC) -> Seeded:
    """The seven delegation set-ups of issue 5, two computers each (labsetup.SETUPS)."""
    return lab.seed_setups(samba_dc)


@pytest.fixture(scope="session")
def operators(samba_dc: SambaDC) -> dict[str, str]:
    """Operators: in Domain Admins directly, through two nested groups, not at all, in Protected
    Users, and "sensitive and cannot be delegated"."""
    dc = samba_dc
    for name in ("dxopdirect", "dxopnested", "dxopnone", "dxopprot"):
        dc.add_user(name, OPERATOR_PASSWORD)
    dc.add_user("dxopsens", OPERATOR_PASSWORD, sensitive_not_delegated=True)
    dc.add_group("DXHyperVOps")
    dc.add_group("DXTier0")
    dc.add_member("Domain Admins", "dxopdirect")
    dc.add_member("DXTier0", "DXHyperVOps")
    dc.add_member("Domain Admins", "DXTier0")
    dc.add_member("DXHyperVOps", "dxopnested")
    dc.add_member("Protected Users", "dxopprot")
    return {"netbios": dc.netbios_domain}
