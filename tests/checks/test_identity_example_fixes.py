"""Every fix the identity checks print for the shipped example parses and names the subject's real hosts."""

from __future__ import annotations

import pytest

from hvlm.audit.commands.audit_cmd import example_snapshot_path
from hvlm.audit.engine import evaluate
from hvlm.audit.model import Status
from hvlm.audit.snapshot import Snapshot
from tests.support.checking import get_check
from tests.support.powershell import assert_parses

IDS = (
    "host-domain-member", "pair-domain-trust", "host-dns-forward-reverse", "operator-local-admin",
    "operator-domain-admins", "operator-delegable", "pair-auth-type-match", "pair-kcd-migration-service",
    "pair-kcd-cifs", "host-kcd-any-protocol", "pair-destination-spn", "host-unconstrained-delegation",
    "pair-credssp", "pair-clock-skew",
)
SNAPSHOT = Snapshot.load(example_snapshot_path())


@pytest.mark.parametrize("check_id", IDS)
def test_example_fixes_parse_and_name_the_hosts(check_id: str) -> None:
    findings = [f for f in evaluate(SNAPSHOT, [get_check(check_id)]) if f.status in (Status.FAIL, Status.WARNING)]
    assert findings, f"{check_id} has no failure in the example"
    for f in findings:
        assert f.fix is not None, (check_id, f.subject.label)
        assert_parses(f.fix.powershell)
        text = f"{f.fix.run_on} {f.fix.run_as} {f.fix.summary} {f.fix.powershell}".lower()
        # the subject's own names: its hosts (FQDN or short), their domains, or the operator account
        names = {n for h in f.subject.hosts for n in (h.lower(), h.split(".")[0].lower(), h.split(".", 1)[-1].lower())}
        names |= {f.subject.operator.lower().split("\\")[-1]} if f.subject.operator else set()
        assert any(n in text for n in names), (check_id, f.subject.label, f.fix.powershell)
        assert "<" not in f.fix.powershell or "<test VM>" in f.fix.powershell, f.fix.powershell
