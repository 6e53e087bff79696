"""pair-mac-range-overlap: two hosts must not hand out the same dynamic MAC addresses."""

from __future__ import annotations

from hvlm.audit.model import Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import HostModel, build_snapshot

S, D = "hv01.corp.contoso.com", "hv02.corp.contoso.com"


def doc(src: tuple[str, str] | None = None, dst: tuple[str, str] | None = None) -> dict:
    s, d = HostModel("HV01", index=1, mac_range=src), HostModel("HV02", index=2, mac_range=dst)
    return build_snapshot([s, d], pairs=[(s.fqdn, d.fqdn)])


def test_pass_default_ranges_differ() -> None:
    assert only(run_check("pair-mac-range-overlap", doc()), source=S, destination=D).status is Status.PASS


def test_fail_cloned_ranges_warn_with_a_free_range() -> None:
    same = ("00155D000B00", "00155D000BFF")
    f = only(run_check("pair-mac-range-overlap", doc(same, same)), source=S, destination=D)
    assert f.status is Status.WARNING
    assert f.fix is not None and f.fix.run_on == D
    assert f.fix.powershell == "Set-VMHost -MacAddressMinimum '00155DFE0000' -MacAddressMaximum '00155DFE00FF'"
    assert ("MacAddressMinimum", "00155DFE0000") in f.fix.sets


def test_fail_partial_overlap_and_the_proposal_avoids_used_ranges() -> None:
    f = only(run_check("pair-mac-range-overlap", doc(("00155DFE0000", "00155DFE01FF"), ("00155DFE0100", "00155DFE01FF"))),
             source=S, destination=D)
    assert f.status is Status.WARNING and f.fix is not None
    assert "'00155DFE0200'" in f.fix.powershell


def test_missing_vmhost_is_an_error() -> None:
    d = doc()
    break_fact(d, "hosts", D, "vmhost")
    assert only(run_check("pair-mac-range-overlap", d), source=S, destination=D).status is Status.ERROR


def test_missing_mac_range_field_is_an_error() -> None:
    d = doc()
    d["hosts"][S]["vmhost"]["value"]["MacAddressMinimum"] = None
    assert only(run_check("pair-mac-range-overlap", d), source=S, destination=D).status is Status.ERROR
