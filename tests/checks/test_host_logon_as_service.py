"""host-logon-as-service: NT VIRTUAL MACHINE\\Virtual Machines must keep "Log on as a service", in a GPO or locally."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import ALL_SERVICES, VIRTUAL_MACHINES, HostModel, build_snapshot
from tests.support.powershell import assert_parses

H = "hv01.corp.contoso.com"


def doc(**kw: object) -> dict:
    return build_snapshot([HostModel("HV01", **kw)])  # type: ignore[arg-type]


def test_pass_from_the_effective_lists_when_no_gpo_sets_the_rights() -> None:
    # secedit's export of the rights in force: Windows' and Hyper-V's local lists, both with *S-1-5-83-0
    f = only(run_check("host-logon-as-service", doc()), host=H)
    assert f.status is Status.PASS
    assert f.message == (f"On {H}, no GPO sets \"Log on as a service\" and its local list, in force, holds "
                         f"{VIRTUAL_MACHINES[0]}; no GPO sets \"Create symbolic links\" and its local list, in force, "
                         f"holds {VIRTUAL_MACHINES[0]}.")


def test_fail_when_the_effective_list_lacks_virtual_machines_without_any_gpo() -> None:
    # removed from the local policy by hand: no GPO to blame, the rights in force decide
    f = only(run_check("host-logon-as-service", doc(local_service_logon_vms=False)), host=H)
    assert f.status is Status.FAIL and f.severity is Severity.HIGH
    assert f.message == (f"On {H}, the local \"Log on as a service\" (no GPO sets it) does not hold "
                         f"{VIRTUAL_MACHINES[0]} (S-1-5-83-0): it holds *S-1-5-80-0: VMs cannot start there, and "
                         "moves to it fail with 0x80070569 (logon type not granted).")
    assert f.fix is not None and f.fix.kind == "manual" and f.fix.run_on == H
    assert f.fix.summary == f"On {H}, add {VIRTUAL_MACHINES[0]} back to the local \"Log on as a service\" in " \
        "Local Security Policy."
    ps = f.fix.powershell
    assert "User Rights Assignment >\n# Log on as a service > Add User or Group" in ps and "gpupdate" not in ps
    assert "Select-String -Path $inf -Pattern 'SeServiceLogonRight'" in ps and "[System.IO.File]::Delete($inf)" in ps
    assert_parses(ps)


def test_local_symbolic_links_without_virtual_machines_is_a_medium_warning() -> None:
    # only the logon right is documented to fail moves when it lacks them (facts 7.5): a warning, with the fix
    f = only(run_check("host-logon-as-service", doc(local_symlink_vms=False)), host=H)
    assert f.status is Status.WARNING and f.severity is Severity.MEDIUM
    assert "the local \"Create symbolic links\" (no GPO sets it) does not hold" in f.message
    assert "it holds *S-1-5-32-544" in f.message
    assert f.fix is not None and "Create symbolic links > Add User or Group" in f.fix.powershell


def test_warning_not_pass_when_the_effective_list_is_unreadable() -> None:
    # secedit failed (not elevated): "checked only Group Policy", with the read-only command to confirm it
    error = "the export of the user rights failed with exit code 5: Access is denied."
    f = only(run_check("host-logon-as-service", doc(effective_rights_error=error)), host=H)
    assert f.status is Status.WARNING and f.severity is Severity.LOW
    assert f.message.startswith(f"Checked only Group Policy on {H}: no GPO sets \"Log on as a service\"")
    assert f"(secedit: {error})" in f.message and "confirm locally" in f.message
    assert f.fix is not None and f.fix.kind == "manual" and f.fix.run_on == H  # a temp file: by hand, not run
    ps = f.fix.powershell
    assert "secedit /export /cfg $inf /areas USER_RIGHTS" in ps
    assert "Select-String -Path $inf -Pattern 'SeServiceLogonRight', 'SeCreateSymbolicLinkPrivilege'" in ps
    assert "[System.IO.File]::Delete($inf)" in ps and "Remove-Item" not in ps
    assert_parses(ps)


def _both_by_gpo(d: dict) -> dict:
    """A GPO also sets "Create symbolic links" with the virtual machines: both rights are then seen."""
    d["hosts"][H]["logon_rights"]["value"]["Rights"].append(
        {"UserRight": "SeCreateSymbolicLinkPrivilege", "Precedence": 1, "GPOID": None, "GPOName": "Baseline",
         "Accounts": [{"Name": "BUILTIN\\Administrators", "SID": "S-1-5-32-544"},
                      {"Name": VIRTUAL_MACHINES[0], "SID": VIRTUAL_MACHINES[1]}]})
    return d


def test_pass_gpo_keeps_virtual_machines() -> None:
    d = _both_by_gpo(doc(service_logon_gpo=("Server Baseline", [ALL_SERVICES, VIRTUAL_MACHINES])))
    f = only(run_check("host-logon-as-service", d), host=H)
    assert f.status is Status.PASS and "GPO 'Server Baseline'" in f.message


def test_one_right_by_gpo_the_other_unreadable_locally_is_a_warning() -> None:
    kw = {"service_logon_gpo": ("Server Baseline", [ALL_SERVICES, VIRTUAL_MACHINES]),
          "effective_rights_error": "Access is denied."}
    f = only(run_check("host-logon-as-service", doc(**kw)), host=H)
    assert f.status is Status.WARNING and "GPO 'Server Baseline'" in f.message
    assert "local list of \"Create symbolic links\"" in f.message
    assert f.fix is not None and "-Pattern 'SeCreateSymbolicLinkPrivilege'" in f.fix.powershell


def test_one_right_by_gpo_the_other_local_in_force_passes() -> None:
    f = only(run_check("host-logon-as-service", doc(service_logon_gpo=("Server Baseline", [ALL_SERVICES,
                                                                                           VIRTUAL_MACHINES]))), host=H)
    assert f.status is Status.PASS and "GPO 'Server Baseline' sets \"Log on as a service\" with" in f.message
    assert "no GPO sets \"Create symbolic links\" and its local list, in force, holds" in f.message


def test_pass_when_the_gpo_lists_the_sid_unresolved() -> None:
    kw = {"service_logon_gpo": ("Server Baseline", [ALL_SERVICES, ("*S-1-5-83-0", None)])}
    assert only(run_check("host-logon-as-service", _both_by_gpo(doc(**kw))), host=H).status is Status.PASS


def test_fail_gpo_overrides_the_right_without_virtual_machines() -> None:
    kw = {"service_logon_gpo": ("Server Hardening 'v2'", [ALL_SERVICES, ("CORP\\svc-backup", "S-1-5-21-1-2-3-1201")])}
    f = only(run_check("host-logon-as-service", doc(**kw)), host=H)
    assert f.status is Status.FAIL and f.severity is Severity.HIGH
    assert f.message.startswith(f"On {H}, GPO 'Server Hardening 'v2'' sets \"Log on as a service\" without")
    assert "0x80070569" in f.message
    assert f.fix is not None and f.fix.kind == "manual" and f.fix.run_on == H
    ps = f.fix.powershell
    assert "$gpoName = 'Server Hardening ''v2'''" in ps and "gpupdate /target:computer /force" in ps
    assert "User Rights Assignment > Log on as a service" in ps
    assert_parses(ps)


def test_the_gpo_that_wins_decides() -> None:
    d = _both_by_gpo(doc(service_logon_gpo=("Server Baseline", [ALL_SERVICES, VIRTUAL_MACHINES])))
    rights = d["hosts"][H]["logon_rights"]["value"]["Rights"]
    rights.append({**rights[0], "Precedence": 2, "GPOName": "Old Hardening", "Accounts": []})
    assert only(run_check("host-logon-as-service", d), host=H).status is Status.PASS
    rights[0]["Precedence"], rights[-1]["Precedence"] = 2, 1
    f = only(run_check("host-logon-as-service", d), host=H)
    assert f.status is Status.FAIL and "Old Hardening" in f.message


def test_fail_symbolic_links_right_without_virtual_machines() -> None:
    d = doc()
    d["hosts"][H]["logon_rights"]["value"]["Rights"].append(
        {"UserRight": "SeCreateSymbolicLinkPrivilege", "Precedence": 1, "GPOID": None, "GPOName": "Baseline",
         "Accounts": [{"Name": "BUILTIN\\Administrators", "SID": "S-1-5-32-544"}]})
    f = only(run_check("host-logon-as-service", d), host=H)
    assert f.status is Status.FAIL and "Create symbolic links" in f.message


def test_no_rsop_data_is_judged_from_the_rights_in_force() -> None:
    f = only(run_check("host-logon-as-service", doc(rsop_gpos=0)), host=H)
    assert f.status is Status.PASS and "no RSoP data" in f.message and "the lists in force decide" in f.message


def test_no_rsop_data_and_a_list_in_force_without_the_virtual_machines_fails() -> None:
    f = only(run_check("host-logon-as-service", doc(rsop_gpos=0, local_service_logon_vms=False)), host=H)
    assert f.status is Status.FAIL and "no RSoP data: which GPO sets it is unknown" in f.message
    assert f.fix is not None and "gpresult /scope computer /r" in f.fix.powershell


def test_no_rsop_data_and_no_list_in_force_is_an_error() -> None:
    f = only(run_check("host-logon-as-service", doc(rsop_gpos=0, effective_rights_error="Access is denied.")),
             host=H)
    assert f.status is Status.ERROR and "could not check" in f.message and "Access is denied." in f.message


def test_missing_logon_rights_is_an_error() -> None:
    d = doc()
    break_fact(d, "hosts", H, "logon_rights")
    assert only(run_check("host-logon-as-service", d), host=H).status is Status.ERROR
