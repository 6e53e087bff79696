"""vm-smb-storage: a VM on an SMB share needs cifs/<file server> delegation on both hosts, and share
permissions hvlm can only ask to verify (a warning at best, never a pass)."""

from __future__ import annotations

from typing import Any

from hvlm.audit.model import Severity, Status
from tests.checks._identity import CORP, H1, H2, assert_safe, doc
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import DiskModel, HostModel, VMModel, delegation_entries
from tests.support.powershell import HOSTILE, assert_parses, command_names, delegation_adds

SHARE = "\\\\fs01\\vms"
OK = ["cifs/FS01", f"cifs/fs01.{CORP}"]


def smb_doc(vm: VMModel, c1: list[str] | None = None, c2: list[str] | None = None, **kw: Any) -> dict[str, Any]:
    h2 = HostModel("HV02", index=2)
    base = delegation_entries(h2)
    d = doc({"vms": [vm], **kw.get("h1", {})}, kw.get("h2"),
            c1={"delegate_to": base + (OK if c1 is None else c1)},
            c2={"delegate_to": delegation_entries(HostModel("HV01", index=1)) + (OK if c2 is None else c2)})
    d["inventory"]["pairs"] = [[H1, H2]]
    return d


def on_share(name: str = "app01", **kw: Any) -> VMModel:
    return VMModel(name, disks=[DiskModel(path=f"{SHARE}\\{name}\\{name}.vhdx")], config_path=f"{SHARE}\\{name}", **kw)


def test_pass_without_files_on_a_share() -> None:
    f = only(run_check("vm-smb-storage", smb_doc(VMModel("local01"))), vm="local01")
    assert f.status is Status.PASS and "no file on an SMB share" in f.message


def test_warning_never_pass_when_delegation_is_complete() -> None:
    f = only(run_check("vm-smb-storage", smb_doc(on_share())), vm="app01")
    assert f.status is Status.WARNING and f.severity is Severity.LOW
    assert "hvlm cannot read the share permissions" in f.message and "HV01$ and HV02$" in f.message
    assert f.fix is not None and f.fix.kind == "check" and f.fix.run_on == "fs01"
    assert "Get-SmbShareAccess -Name 'vms'" in f.fix.powershell
    assert "(Get-Acl -LiteralPath '\\\\fs01\\vms\\app01').Access" in f.fix.powershell
    assert_parses(f.fix.powershell)


def test_fail_when_a_host_lacks_cifs_to_the_file_server() -> None:
    f = only(run_check("vm-smb-storage", smb_doc(on_share(), c2=[])), vm="app01")
    assert f.status is Status.FAIL and f.severity is Severity.MEDIUM
    assert f"{H2} lacks cifs/fs01" in f.message and H1 + " lacks" not in f.message
    assert f.fix is not None and f.fix.target == "ad"
    # both names of the file service, each added only if HV02 lacks it when the script runs
    assert delegation_adds(f.fix.powershell) == [("HV02", ["cifs/FS01", f"cifs/fs01.{CORP}"])]
    assert f"Get-ADComputer -Identity 'HV02' -Server '{CORP}' -Properties 'msDS-AllowedToDelegateTo'" in f.fix.powershell
    assert "Get-SmbShareAccess" in f.fix.powershell  # the manual verification, commented
    assert_safe(f.fix.powershell)


def test_fqdn_path_needs_the_fqdn_entry() -> None:
    vm = VMModel("db01", disks=[DiskModel(path=f"\\\\fs01.{CORP}\\sql\\db01.vhdx")])
    f = only(run_check("vm-smb-storage", smb_doc(vm, c1=["cifs/FS01"], c2=OK)), vm="db01")
    assert f.status is Status.FAIL and f"{H1} lacks cifs/fs01.{CORP}" in f.message


def test_delegation_fix_adds_only_what_is_missing_when_it_runs() -> None:
    """HV01 has cifs/FS01 and lacks the FQDN: a literal `Set-ADComputer -Add` of both failed on the entry already
    there ("The specified value already exists") and stopped the AD script; the fix reads the attribute when it
    runs, keeps (and names) what is there, and adds the rest; a second run adds nothing."""
    vm = VMModel("db01", disks=[DiskModel(path=f"\\\\FS01.{CORP.upper()}\\sql\\db01.vhdx")])
    f = only(run_check("vm-smb-storage", smb_doc(vm, c1=["cifs/FS01"], c2=OK)), vm="db01")
    assert f.status is Status.FAIL and f.fix is not None
    ps = f.fix.powershell
    assert f"# The audit found {H1} lacking cifs/FS01.{CORP.upper()}." in ps
    # one spelling per entry: AD compares them case-insensitively and would refuse the second
    assert delegation_adds(ps) == [("HV01", ["cifs/FS01", f"cifs/fs01.{CORP}"])]
    assert "-Add @{'msDS-AllowedToDelegateTo'=@(" not in ps  # never a literal list of values to add
    assert "$toAdd = @($delegateTo | Where-Object { $present -notcontains $_ })" in ps  # -notcontains ignores case
    assert "if ($toAdd.Count -gt 0) {" in ps and "already delegates to (kept): " in ps
    assert "existing entries are kept" not in f.fix.summary and "only the entries each lacks" in f.fix.summary
    assert_safe(ps)


def test_credssp_on_both_needs_no_delegation_but_still_a_warning() -> None:
    f = only(run_check("vm-smb-storage", smb_doc(on_share(), c1=[], c2=[], h1={"auth": "CredSSP"},
                                                 h2={"auth": "CredSSP"})), vm="app01")
    assert f.status is Status.WARNING and "both hosts use CredSSP" in f.message


def test_hostile_share_and_vm_names_stay_quoted() -> None:
    vm = VMModel(HOSTILE, disks=[DiskModel(path=f"\\\\fs01\\{HOSTILE}\\x.vhdx")])
    f = only(run_check("vm-smb-storage", smb_doc(vm, c1=[])), vm=HOSTILE)
    assert f.status is Status.FAIL and f.fix is not None
    assert_safe(f.fix.powershell)
    ok = only(run_check("vm-smb-storage", smb_doc(vm)), vm=HOSTILE)
    assert ok.fix is not None
    assert_parses(ok.fix.powershell)
    assert "Remove-Item" not in command_names(ok.fix.powershell)


def test_missing_facts_are_errors() -> None:
    d = smb_doc(on_share())
    break_fact(d, "hosts", H1, "vm_files")
    assert {f.status for f in run_check("vm-smb-storage", d)} == {Status.ERROR}
    d = smb_doc(on_share())
    del d["domains"][CORP]["computers"]
    f = only(run_check("vm-smb-storage", d), vm="app01")
    assert f.status is Status.ERROR and "could not check" in f.message


def _started(d: dict[str, Any], value: dict[str, Any] | None) -> dict[str, Any]:
    """Where moves start, as collect/management.py records it (None: no management fact at all)."""
    if value is None:
        del d["management"]
    else:
        d["management"]["value"] = value
    return d


def test_fail_only_when_moves_start_on_another_machine() -> None:
    f = only(run_check("vm-smb-storage", smb_doc(on_share(), c2=[])), vm="app01")  # hvlm ran on admin01 (Windows)
    assert f.status is Status.FAIL and "moves start on admin01.corp.contoso.com, not on the source" in f.message
    named = {"computer": "runner", "platform": "Linux", "inventory_host": H2, "named_by": "inventory", "windows": None}
    f = only(run_check("vm-smb-storage", _started(smb_doc(on_share(), c2=[]), named)), vm="app01")
    assert f.status is Status.FAIL and f"moves start on {H2}" in f.message


def test_low_warning_when_moves_start_on_the_source_itself() -> None:
    here = {"computer": "runner", "platform": "Linux", "inventory_host": H1, "named_by": "inventory", "windows": None}
    f = only(run_check("vm-smb-storage", _started(smb_doc(on_share(), c2=[]), here)), vm="app01")
    assert f.status is Status.WARNING and f.severity is Severity.LOW
    assert f"moves start on {H1} itself" in f.message and "any other machine would fail" in f.message
    assert f.fix is not None and f.fix.kind == "check"  # nothing to change for moves started there


def test_medium_warning_naming_which_way_fails_when_the_start_is_unknown() -> None:
    for unknown in (None, {"computer": "runner", "platform": "Linux", "inventory_host": None, "named_by": None,
                           "windows": None}):
        f = only(run_check("vm-smb-storage", _started(smb_doc(on_share(), c2=[]), unknown)), vm="app01")
        assert f.status is Status.WARNING and f.severity is Severity.MEDIUM
        assert "a move started from another machine" in f.message and f"on {H1} itself works" in f.message
        assert f.fix is not None and f.fix.target == "ad"
