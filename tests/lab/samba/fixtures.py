"""pytest fixtures for the Samba AD lab: ``samba_dc`` and ``samba_forest`` (session scope).

Use them from a conftest.py (the root one, or the one of the test folder that needs them)::

    pytest_plugins = ["tests.lab.samba.fixtures"]

or import them into a conftest: ``from tests.lab.samba.fixtures import samba_dc, samba_forest``.
Then::

    @pytest.mark.lab
    def test_delegation(samba_dc):
        samba_dc.add_computer("HV01", allowed_to_delegate_to=["cifs/hv02.lab.test"])
        conn = samba_dc.admin_connection()          # LDAPS, lab CA validated

- ``samba_dc``: LAB.TEST, NetBIOS LAB, dc1.lab.test on 127.0.0.2, Administrator /
  ``samba_dc.admin_password``, ``ldap server require strong auth = yes`` (simple binds only over
  LDAPS/StartTLS). One DC per session, shared by every test: seed objects under names of your own
  (e.g. a test-specific prefix) and do not expect an empty directory. Its DNS forwards names outside
  lab.test to 127.0.0.3, where ``samba_forest`` puts LAB2.TEST.
- ``samba_forest``: a :class:`~tests.lab.samba.forest.SambaForest`: ``.dc1`` is ``samba_dc``,
  ``.dc2`` is LAB2.TEST (dc2.lab2.test, 127.0.0.3), with a validated two-way forest trust. The
  trust is deleted at the end of the session.

A fixture that cannot start its DC fails the tests that use it with the reason (missing packages:
run ``.ci/install-samba.sh`` as root); it never skips, in CI (``CI`` set) or elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import NoReturn

import pytest

from ._proc import LabError
from .dc import SambaDC
from .forest import FOREST2_IP, SambaForest


def _attempt(start: Callable[[], None]) -> BaseException | None:
    """Run ``start``; return its lab error instead of raising (so the failure reads cleanly)."""
    try:
        start()
    except (LabError, OSError) as exc:
        return exc
    return None


def _fail(what: str, exc: BaseException) -> NoReturn:
    where = "in CI" if os.environ.get("CI") else "on this machine"
    pytest.fail(
        f"{what} could not start {where}: {exc}\n(the Samba lab needs root and the packages of .ci/install-samba.sh)",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def samba_dc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaDC]:
    """A running LAB.TEST domain controller on 127.0.0.2 for the whole session."""
    dc = SambaDC(tmp_path_factory.mktemp("samba-lab-dc1"), dns_forwarder=FOREST2_IP)
    error = _attempt(dc.start)
    if error is not None:
        _fail("the Samba AD DC (LAB.TEST on 127.0.0.2)", error)
    try:
        yield dc
    finally:
        dc.stop()


@pytest.fixture(scope="session")
def samba_forest(samba_dc: SambaDC, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaForest]:
    """LAB.TEST (``samba_dc``) and LAB2.TEST on 127.0.0.3 with a two-way forest trust."""
    forest = SambaForest(samba_dc, tmp_path_factory.mktemp("samba-lab-dc2"))
    error = _attempt(forest.start)
    if error is not None:
        _fail("the second forest (LAB2.TEST on 127.0.0.3) or its trust", error)
    try:
        yield forest
    finally:
        forest.stop()
