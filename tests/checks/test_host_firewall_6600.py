"""host-firewall-6600: the live-migration firewall rule (TCP 6600) is enabled."""

from __future__ import annotations

from hvlm.audit.model import Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import HostModel, build_snapshot

H = "hv01.corp.contoso.com"


def doc(**kw: object) -> dict:
    return build_snapshot([HostModel("HV01", **kw)], pairs=[])  # type: ignore[arg-type]


def test_pass_rule_enabled() -> None:
    assert only(run_check("host-firewall-6600", doc()), H).status is Status.PASS


def test_fail_rule_disabled() -> None:
    f = only(run_check("host-firewall-6600", doc(firewall_enabled=False)), H)
    assert f.status is Status.FAIL and "disabled" in f.message
    assert f.fix is not None and f.fix.run_on == H
    assert f.fix.powershell == "Enable-NetFirewallRule -Name 'VIRT-MIGL-In-TCP-NoScope'"


def test_fail_rule_blocks() -> None:
    d = doc()
    d["hosts"][H]["firewall_rules"]["value"][0]["Action"] = "Block"
    f = only(run_check("host-firewall-6600", d), H)
    assert f.status is Status.FAIL and f.fix is not None and "-Action Allow" in f.fix.powershell


def test_fail_rule_absent_is_a_warning() -> None:
    d = doc()
    d["hosts"][H]["firewall_rules"]["value"] = []
    f = only(run_check("host-firewall-6600", d), H)
    assert f.status is Status.WARNING
    assert f.fix is not None and "New-NetFirewallRule -Name 'VIRT-MIGL-In-TCP-NoScope'" in f.fix.powershell


def test_missing_firewall_rules_is_an_error() -> None:
    d = doc()
    break_fact(d, "hosts", H, "firewall_rules")
    assert only(run_check("host-firewall-6600", d), H).status is Status.ERROR
