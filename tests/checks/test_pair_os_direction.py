"""pair-os-direction: a planned move between OS releases is possible for the source's VMs."""

from __future__ import annotations

from hvlm.audit.model import Status
from tests.support.checking import break_fact, drop_fact, only, run_check
from tests.support.fleet import HostModel, VMModel, build_snapshot


def pair(src_build: int, dst_build: int, *vms: VMModel, **src: object) -> tuple[dict, HostModel, HostModel]:
    s = HostModel("HV01", index=1, build=src_build, vms=list(vms), **src)  # type: ignore[arg-type]
    d = HostModel("HV02", index=2, build=dst_build)
    return build_snapshot([s, d], pairs=[(s.fqdn, d.fqdn)]), s, d


def forward(findings: list, s: HostModel, d: HostModel):
    return only(findings, f"{s.fqdn} -> {d.fqdn}")


def test_pass_upgrade_when_destination_runs_every_vm() -> None:
    doc, s, d = pair(14393, 20348, VMModel("app02", "8.0"), VMModel("app03", "8.0"))
    f = forward(run_check("pair-os-direction", doc), s, d)
    assert f.status is Status.PASS
    assert f.evidence["direction"] == "to a newer release"
    assert "move back" in f.message  # upgrading the VMs later would block the way back


def test_pass_5_0_vms_from_2012r2_to_2016() -> None:
    doc, s, d = pair(9600, 14393, VMModel("sql01", "5.0"))
    assert forward(run_check("pair-os-direction", doc), s, d).status is Status.PASS


def test_pass_downgrade_when_older_destination_runs_every_vm() -> None:
    doc, s, d = pair(17763, 14393, VMModel("web02", "8.0"))
    f = forward(run_check("pair-os-direction", doc), s, d)
    assert f.status is Status.PASS and f.evidence["direction"] == "to an older release"


def test_pass_downgrade_with_a_vm_the_older_release_cannot_run_names_it() -> None:
    # the pair is supported; the blocked VM is vm-config-version's failure, not a second one here
    doc, s, d = pair(17763, 14393, VMModel("web01", "9.0"), VMModel("web02", "8.0"))
    f = forward(run_check("pair-os-direction", doc), s, d)
    assert f.status is Status.PASS and f.fix is None
    assert "1 of 2 VMs" in f.message and "web01 (9.0)" in f.message and "web02" not in f.message
    assert "vm-config-version" in f.message  # the per-VM detail is the other check's
    assert f.evidence["blocked"] == [{"Name": "web01", "Version": "9.0"}]


def test_pass_2019_to_2022_however_many_vms_are_blocked() -> None:
    vms = [VMModel(f"old{i:02}", "7.0") for i in range(12)]
    doc, s, d = pair(17763, 20348, *vms)
    f = forward(run_check("pair-os-direction", doc), s, d)
    assert f.status is Status.PASS and "supported pair" in f.message and "12 of 12 VMs" in f.message
    # and 2022 -> 2019 with VMs too new for 2019: the releases still share 8.0-9.0
    doc, s, d = pair(20348, 17763, *[VMModel(f"new{i}", "10.0") for i in range(5)])
    f = forward(run_check("pair-os-direction", doc), s, d)
    assert f.status is Status.PASS and f.evidence["shared_versions"] == ["8.0", "8.1", "8.2", "8.3", "9.0"]


def test_fail_releases_that_share_no_version_even_without_vms() -> None:
    doc, s, d = pair(20348, 9600)
    f = forward(run_check("pair-os-direction", doc), s, d)
    assert f.status is Status.FAIL and "share no VM configuration version" in f.message
    # the reverse direction (2012 R2 -> 2022), when planned, shares none either
    doc["inventory"]["pairs"].append([d.fqdn, s.fqdn])
    assert only(run_check("pair-os-direction", doc), f"{d.fqdn} -> {s.fqdn}").status is Status.FAIL


def test_fail_outside_the_documented_matrix_is_a_warning() -> None:
    doc, s, d = pair(9200, 9600, VMModel("print01", "4.0"), supported_versions=["4.0"])
    f = forward(run_check("pair-os-direction", doc), s, d)
    assert f.status is Status.WARNING and "Windows Server 2012 is outside" in f.message
    assert f.fix is not None and "@('print01')" in f.fix.powershell and "Compare-VM" in f.fix.powershell


def test_pass_falls_back_to_the_documented_table() -> None:
    doc, s, d = pair(9600, 14393, VMModel("sql01", "5.0"))
    drop_fact(doc, "hosts", s.fqdn, "supported_versions")
    drop_fact(doc, "hosts", d.fqdn, "supported_versions")
    f = forward(run_check("pair-os-direction", doc), s, d)
    assert f.status is Status.PASS
    assert "documented table" in f.evidence["destination"]["basis"]


def test_missing_source_vms_still_judges_the_releases() -> None:
    doc, s, d = pair(14393, 20348, VMModel("app01", "5.0"))
    break_fact(doc, "hosts", s.fqdn, "vms")
    f = forward(run_check("pair-os-direction", doc), s, d)
    assert f.status is Status.PASS and "were not collected" in f.message
    doc, s, d = pair(20348, 9600)
    break_fact(doc, "hosts", s.fqdn, "vms")
    assert forward(run_check("pair-os-direction", doc), s, d).status is Status.FAIL


def test_missing_destination_os_is_an_error() -> None:
    doc, s, d = pair(14393, 20348, VMModel("app01", "5.0"))
    drop_fact(doc, "hosts", d.fqdn, "operating_system")
    f = forward(run_check("pair-os-direction", doc), s, d)
    assert f.status is Status.ERROR and "operating_system" in f.message
