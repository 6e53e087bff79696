"""The shipped example shows the VM field blockers of issue 14, each with a fix that parses and names its VM."""

from __future__ import annotations

import pytest

from hvlm.audit.commands.audit_cmd import example_snapshot_path
from hvlm.audit.engine import evaluate
from hvlm.audit.model import Finding, Status
from hvlm.audit.snapshot import Snapshot
from tests.support.checking import get_check
from tests.support.powershell import assert_parses

SNAPSHOT = Snapshot.load(example_snapshot_path())
EXPECTED = {  # check -> (VM, move, status) the example must show
    "vm-gpu-partition": ("vdi01", "hv05.corp.contoso.com -> hv06.lab.fabrikam.com", Status.FAIL),
    "vm-storage-fits": ("db01", "hv04.corp.contoso.com -> hv05.corp.contoso.com", Status.FAIL),
    "vm-media-attached": ("web01", "hv03.corp.contoso.com -> hv04.corp.contoso.com", Status.WARNING),
    "vm-smb-storage": ("files02", "hv02.corp.contoso.com -> hv03.corp.contoso.com", Status.FAIL),
}


def problems(check_id: str) -> list[Finding]:
    return [f for f in evaluate(SNAPSHOT, [get_check(check_id)]) if f.status in (Status.FAIL, Status.WARNING)]


@pytest.mark.parametrize("check_id", sorted(EXPECTED))
def test_example_shows_the_blocker_with_a_fix(check_id: str) -> None:
    vm, move, status = EXPECTED[check_id]
    hits = [f for f in problems(check_id) if f.subject.vm == vm and f.subject.label.endswith(move)]
    assert [f.status for f in hits] == [status], [(f.subject.label, f.status) for f in problems(check_id)]
    fix = hits[0].fix
    assert fix is not None
    assert_parses(fix.powershell)
    assert vm in hits[0].message and (vm in fix.summary or vm in fix.powershell)


def test_example_gpu_and_smb_findings_say_what_to_do() -> None:
    gpu = problems("vm-gpu-partition")[0]
    assert "set to 8 partitions" in gpu.message and gpu.fix is not None
    assert "Set-VMHostPartitionableGpu -Name '\\\\?\\PCI#VEN_10DE&DEV_25B6" in gpu.fix.powershell
    smb = {f.subject.label.split(" on ", 1)[1]: f for f in problems("vm-smb-storage")}
    assert smb["hv02.corp.contoso.com -> hv04.corp.contoso.com"].status is Status.WARNING  # delegation there: verify
    failed = smb["hv02.corp.contoso.com -> hv03.corp.contoso.com"]
    assert failed.fix is not None and "Set-ADComputer -Identity 'HV03'" in failed.fix.powershell
