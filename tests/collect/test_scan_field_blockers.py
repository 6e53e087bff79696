"""`hvlm scan` against the WinRM lab (and, for delegation, the Samba DC): the field blockers of issue 14.

Each check below fails (or warns) on a simulated host with exactly that fault and passes on a healthy
one, through the real collection path: the shipped probe's sections as the simulated hosts answer them
(tests/lab/hostsim.py, older releases included), pypsrp over WS-Management, the snapshot schema, the
engine and the JSON report.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.collect.labkit import PASSWORD, USER, assert_facts_equal_model, run_cli, toml_str, write_inventory
from tests.directory.labsetup import host_spns
from tests.lab.hostsim import SimHost
from tests.lab.samba import SambaDC
from tests.lab.samba.seed import ComputerSpec
from tests.lab.winrm import WinRMLab
from tests.support.fleet import CheckpointModel, DiskModel, GiB, HostModel, VMModel, delegation_entries

pytestmark = pytest.mark.lab
pytest_plugins = ["tests.lab.samba.fixtures"]  # samba_dc

A16 = "\\\\?\\PCI#VEN_10DE&DEV_25B6&SUBSYS_157E10DE&REV_A1#4&2e3b5d9&0&0010#{064092b3-625e-43bf-9eb5-dc845897dd59}"
L4 = "\\\\?\\PCI#VEN_10DE&DEV_27B8&SUBSYS_16CA10DE&REV_A1#4&1f2e3d4&0&0010#{064092b3-625e-43bf-9eb5-dc845897dd59}"
CHECKS = ("vm-gpu-partition", "vm-storage-fits", "vm-media-attached", "vm-passthrough-devices",
          "pair-mac-range-overlap", "vm-smb-storage")


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HVLM_PASSWORD", PASSWORD)
    monkeypatch.delenv("HVLM_USERNAME", raising=False)


def statuses(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(check id, subject label) -> status, for findings and passed subjects alike."""
    out = {(g["check_id"], m["subject"]["label"]): g["status"] for g in report["findings"] for m in g["members"]}
    for entry in report["passed"]:
        for label in entry["subjects"]:
            out[(entry["check_id"], label)] = entry["status"]
    return out


def vm_label(vm: str, src: HostModel, dst: HostModel) -> str:
    return f"VM {vm} on {src.fqdn} -> {dst.fqdn}"


def fleet(domain: str = "corp.contoso.com") -> dict[str, HostModel]:
    """A healthy pair (OK1 -> OK2), a broken pair (BAD1 -> BAD2) and a 2012 R2 pair (OLD1 -> OLD2)."""
    gpu_vm = VMModel("vdi01", version="12.0", gpu_partitions=[(A16, True)])
    ok1 = HostModel("OK1", domain=domain, index=41, build=26100, gpus=[(A16, 4, [1, 2, 4, 8])],
                    vms=[gpu_vm, VMModel("app01", version="12.0",
                                         checkpoints=[CheckpointModel("before-patch", state_bytes=2 * GiB)])])
    ok2 = HostModel("OK2", domain=domain, index=42, build=26100, gpus=[(A16, 4, [1, 2, 4, 8])])
    cloned = ("00155D00AA00", "00155D00AAFF")
    bad1 = HostModel("BAD1", domain=domain, index=43, build=26100, gpus=[(A16, 4, [1, 2, 4, 8])], mac_range=cloned,
                     vms=[VMModel("vdi02", version="12.0", gpu_partitions=[(A16, True)]),
                          VMModel("db01", version="10.0",
                                  disks=[DiskModel(size=600 * GiB, file_size=600 * GiB, vhd_type="Fixed")]),
                          VMModel("web01", version="10.0", iso="C:\\ISO\\en-us_windows_server_2022.iso"),
                          VMModel("sql01", version="10.0", disks=[DiskModel(), DiskModel(disk_number=2)])])
    bad2 = HostModel("BAD2", domain=domain, index=44, build=20348, gpus=[(L4, 8, [1, 2, 4, 8])], mac_range=cloned,
                     volumes=[("C:\\", 200 * GiB, 120 * GiB), ("D:\\", 1024 * GiB, 500 * GiB)])
    # 2012 R2: no GPU partitioning cmdlets (the model's adapter is not reported), no Get-VMHostSupportedVersion
    old1 = HostModel("OLD1", domain=domain, index=45, build=9600,
                     vms=[VMModel("legacy01", version="5.0", gpu_partitions=[(A16, True)],
                                  checkpoints=[CheckpointModel("pre-upgrade")])])
    old2 = HostModel("OLD2", domain=domain, index=46, build=9600)
    return {m.name: m for m in (ok1, ok2, bad1, bad2, old1, old2)}


def migrations(models: dict[str, HostModel]) -> str:
    lines = []
    for src, dst in (("OK1", "OK2"), ("BAD1", "BAD2"), ("OLD1", "OLD2")):
        lines += ["[[migrations]]", f"source = {toml_str(models[src].fqdn)}",
                  f"destination = {toml_str(models[dst].fqdn)}"]
    return "\n".join(lines) + "\n"


def scan(tmp_path: Path, capsys: pytest.CaptureFixture[str], lab: WinRMLab, sims: list[SimHost],
         extra: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    inventory = write_inventory(tmp_path / "fleet.toml", lab, sims,
                                defaults={"auth": "basic", "username": USER, "ca_bundle": lab.ca_cert_path})
    text = inventory.read_text("utf-8")
    head, _, defaults = text.partition("[defaults]")
    inventory.write_text(head + migrations({s.model.name: s.model for s in sims}) + "[defaults]" + defaults + extra,
                         "utf-8")
    run = run_cli(capsys, "scan", "-i", str(inventory), "--format", "json", "--show-passed", "-q",
                  "--save-snapshot", str(tmp_path / "snap.json"))
    assert run.code in (1, 2, 3, 4), run.err
    snapshot = json.loads((tmp_path / "snap.json").read_text("utf-8"))
    return json.loads(run.out), snapshot


def test_scan_fails_each_field_blocker_on_the_broken_host_and_passes_the_healthy_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = fleet()
    sims = [SimHost(m) for m in models.values()]
    with WinRMLab([s.spec() for s in sims], scheme="https", auth="basic", users={USER: PASSWORD}) as lab:
        report, snapshot = scan(tmp_path, capsys, lab, sims)
    for sim in sims:  # the collected facts are exactly what each simulated host holds, release differences included
        assert_facts_equal_model(snapshot["hosts"][sim.name], sim)
    got = statuses(report)
    ok1, ok2, bad1, bad2, old1, old2 = models.values()
    # healthy pair: every blocker passes
    for vm in ("vdi01", "app01"):
        for check_id in ("vm-gpu-partition", "vm-storage-fits", "vm-media-attached", "vm-passthrough-devices",
                         "vm-smb-storage"):
            assert got[(check_id, vm_label(vm, ok1, ok2))] == "pass", (check_id, vm)
    assert got[("pair-mac-range-overlap", f"{ok1.fqdn} -> {ok2.fqdn}")] == "pass"
    # broken pair: each blocker on the VM that has it
    assert got[("vm-gpu-partition", vm_label("vdi02", bad1, bad2))] == "fail"
    assert got[("vm-storage-fits", vm_label("db01", bad1, bad2))] == "fail"
    assert got[("vm-media-attached", vm_label("web01", bad1, bad2))] == "warning"
    assert got[("vm-passthrough-devices", vm_label("sql01", bad1, bad2))] == "fail"
    assert got[("pair-mac-range-overlap", f"{bad1.fqdn} -> {bad2.fqdn}")] == "warning"
    for vm in ("db01", "web01", "sql01"):  # each fault stays with its own VM
        assert got[("vm-gpu-partition", vm_label(vm, bad1, bad2))] == "pass"
    assert got[("vm-media-attached", vm_label("db01", bad1, bad2))] == "pass"
    gpu = next(m for g in report["findings"] if g["check_id"] == "vm-gpu-partition" for m in g["members"])
    assert "Windows Server 2025 on both hosts" in gpu["message"] and "VEN_10DE&DEV_25B6" in gpu["message"]
    fits = next(m for g in report["findings"] if g["check_id"] == "vm-storage-fits" for m in g["members"])
    assert f"volume D:\\ of {bad2.fqdn} (500.0 GiB free)" in fits["message"]
    # 2012 R2: no GPU-P cmdlets, so no partition is reported and the VM passes; its checkpoint is sized
    assert snapshot["hosts"][old1.fqdn]["vm_gpu_partitions"]["value"] == []
    assert snapshot["hosts"][old1.fqdn]["partitionable_gpus"]["value"] == []
    assert got[("vm-gpu-partition", vm_label("legacy01", old1, old2))] == "pass"
    assert got[("vm-storage-fits", vm_label("legacy01", old1, old2))] == "pass"
    assert snapshot["hosts"][old1.fqdn]["vm_checkpoints"]["value"][0]["Name"] == "pre-upgrade"


# -- vm-smb-storage with the directory: delegation read from a real Samba DC --------------------------


@pytest.fixture(scope="module")
def smb_world(samba_dc: SambaDC) -> Iterator[tuple[SambaDC, dict[str, HostModel]]]:
    dc, domain = samba_dc, samba_dc.dns_domain
    share = "\\\\fs01\\vms"
    vm = VMModel("files01", version="10.0", disks=[DiskModel(path=f"{share}\\files01\\files01.vhdx")],
                 config_path=f"{share}\\files01")
    models = {
        "SOK1": HostModel("SOK1", domain=domain, index=51, build=20348, vms=[vm]),
        "SOK2": HostModel("SOK2", domain=domain, index=52, build=20348),
        "SNO1": HostModel("SNO1", domain=domain, index=53, build=20348, vms=[vm]),
        "SNO2": HostModel("SNO2", domain=domain, index=54, build=20348),
    }
    cifs_fs = ["cifs/FS01", f"cifs/fs01.{domain}"]
    specs = []
    for src, dst, with_fs in (("SOK1", "SOK2", True), ("SNO1", "SNO2", False)):
        a, b = models[src], models[dst]
        specs.append(ComputerSpec(a.name, spns=tuple(host_spns(a.name, domain)),
                                  allowed_to_delegate_to=tuple(delegation_entries(b) + (cifs_fs if with_fs else [])),
                                  trusted_to_auth_for_delegation=True))
        specs.append(ComputerSpec(b.name, spns=tuple(host_spns(b.name, domain)),
                                  allowed_to_delegate_to=tuple(delegation_entries(a) + cifs_fs),
                                  trusted_to_auth_for_delegation=True))
    dc.add_computers_bulk(specs)
    yield dc, models


def test_scan_with_the_directory_fails_missing_cifs_delegation_to_the_file_server(
    smb_world: tuple[SambaDC, dict[str, HostModel]], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dc, models = smb_world
    monkeypatch.setenv("HVLM_LDAP_PASSWORD", dc.admin_password)
    sims = [SimHost(m) for m in models.values()]
    ad = "\n".join(["[ad]", f"dns_servers = [{toml_str(dc.ip)}]", 'auth = "simple"', 'tls = "ldaps"',
                    f"ca_file = {toml_str(str(dc.ca_cert))}", f"username = {toml_str(dc.admin_upn)}"]) + "\n"
    with WinRMLab([s.spec() for s in sims], scheme="https", auth="basic", users={USER: PASSWORD}) as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims,
                                    defaults={"auth": "basic", "username": USER, "ca_bundle": lab.ca_cert_path})
        text = inventory.read_text("utf-8")
        head, _, defaults = text.partition("[defaults]")
        moves = "".join(f"[[migrations]]\nsource = {toml_str(models[s].fqdn)}\ndestination = {toml_str(models[d].fqdn)}\n"
                        for s, d in (("SOK1", "SOK2"), ("SNO1", "SNO2")))
        # moves start on SOK2 (not SNO1): the cifs delegation is then needed, and its absence fails
        start = f"management_host = {toml_str(models['SOK2'].fqdn)}\n"
        inventory.write_text(start + head + moves + "[defaults]" + defaults + ad, "utf-8")
        run = run_cli(capsys, "scan", "-i", str(inventory), "--format", "json", "--show-passed", "-q")
    report = json.loads(run.out)
    assert not [u for u in report["uncollected"] if "computers" in u["path"]], report["uncollected"]
    got = statuses(report)
    sok1, sok2, sno1, sno2 = models.values()
    # both hosts delegate to cifs/fs01: the share permissions remain a manual verification, never a pass
    assert got[("vm-smb-storage", vm_label("files01", sok1, sok2))] == "warning"
    assert got[("vm-smb-storage", vm_label("files01", sno1, sno2))] == "fail"
    failed = next(m for g in report["findings"] if g["check_id"] == "vm-smb-storage" and g["status"] == "fail"
                  for m in g["members"])
    assert f"{sno1.fqdn} lacks cifs/fs01" in failed["message"] and sno2.fqdn + " lacks" not in failed["message"]
    assert f"moves start on {sok2.fqdn}, not on the source" in failed["message"]
    fix = report["fixes"][failed["fix"]]
    assert "Set-ADComputer -Identity 'SNO1'" in fix["powershell"] and "'cifs/FS01'" in fix["powershell"]
    for secret in (PASSWORD, dc.admin_password):
        assert secret not in run.out + run.err
