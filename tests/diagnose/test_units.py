"""Small pieces: the live pair's inventory, finding ids shared with the reports, the message's name forms."""

from __future__ import annotations

import pytest

from hvlm.audit.diagnose.document import finding_id
from hvlm.audit.diagnose.live import pair_inventory
from hvlm.audit.engine import evaluate
from hvlm.audit.errors import InputError
from hvlm.audit.inventory import parse_inventory
from hvlm.audit.registry import load_registry
from hvlm.audit.snapshot import Snapshot
from hvlm.reports.aggregate import finding_ids
from tests.checks._identity import doc

INVENTORY = parse_inventory({
    "hosts": [{"name": "hv01.corp.contoso.com", "port": 15986}, "hv02.corp.contoso.com", "hv03.corp.contoso.com"],
    "operator": {"account": "CORP\\hvadmin"},
    "groups": {"prod": ["hv01.corp.contoso.com", "hv02.corp.contoso.com", "hv03.corp.contoso.com"]},
    "defaults": {"auth": "kerberos"},
    "ad": {"tls": "ldaps"},
}, "fleet.toml")


def test_the_live_inventory_is_the_pair_only() -> None:
    inv = pair_inventory(INVENTORY, "HV02", "hv01")
    assert inv.host_names == ["hv02.corp.contoso.com", "hv01.corp.contoso.com"]
    assert inv.pairs == (("hv02.corp.contoso.com", "hv01.corp.contoso.com"),) and inv.groups == {}
    assert inv.connection("hv01.corp.contoso.com") == {"auth": "kerberos", "port": 15986}
    assert inv.operator == "CORP\\hvadmin" and inv.ad == {"tls": "ldaps"}
    assert pair_inventory(INVENTORY, "hv01", "hv02", "CORP\\other").operator == "CORP\\other"


def test_the_live_inventory_without_a_file_uses_the_names_given() -> None:
    inv = pair_inventory(None, "hv01.corp.contoso.com", "10.0.0.12", "CORP\\hvadmin")
    assert inv.host_names == ["hv01.corp.contoso.com", "10.0.0.12"] and inv.operator == "CORP\\hvadmin"
    assert inv.pairs == (("hv01.corp.contoso.com", "10.0.0.12"),)


@pytest.mark.parametrize(("src", "dst", "text"), [
    ("hv01", "hv09", "is not a host of the inventory"),
    ("hv01", "HV01.corp.contoso.com", "same host"),
])
def test_the_live_inventory_refuses_unknown_hosts(src: str, dst: str, text: str) -> None:
    with pytest.raises(InputError, match=text):
        pair_inventory(INVENTORY, src, dst)


def test_finding_ids_are_the_reports_ids() -> None:
    findings = evaluate(Snapshot.from_document(doc(c1={"delegate_to": []})), list(load_registry()))
    report_ids = finding_ids([f.to_dict() for f in findings])
    assert len(set(report_ids)) == len(report_ids) > 50  # no check reports a subject twice here: no -2 suffixes
    assert [finding_id(f) for f in findings] == report_ids
