"""Issue 11 verdicts for the delegation checks: one finding per missing thing, who must run the fix,
RBCD through a group, NetBIOS names of long hosts, hosts outside a domain."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.checks._identity import CORP, CORP_SID, FAB, H1, PAIR, assert_safe, doc, finding, operator
from tests.support.checking import run_check
from tests.support.fleet import ComputerModel, HostModel, build_snapshot

MS = "Microsoft Virtual System Migration Service"
X = f"{H1} -> hv02.{FAB}"
KCD = ("pair-kcd-migration-service", "pair-kcd-cifs")
DA = {"tokenGroups": [f"{CORP_SID}-513", f"{CORP_SID}-512"]}
GROUP = {"rbcd": [(f"{CORP_SID}-3001", "CORP\\HV-Hosts")]}


def test_fail_cross_domain_missing_rbcd_is_one_finding() -> None:
    # one resource-based entry serves both services: the migration service check reports it, cifs does not repeat it
    d = doc(h2={"domain": FAB})
    ms, cifs = (finding(c, d, X) for c in KCD)
    assert ms.status is Status.FAIL and "serves the migration service and cifs alike" in ms.message
    assert cifs.status is Status.NOT_APPLICABLE and "pair-kcd-migration-service reports it" in cifs.message
    # running the fix twice adds the source once: already listed, it is left alone
    assert ms.fix is not None and "if (@($current) -notcontains $source.DistinguishedName) {" in ms.fix.powershell


def test_pass_cross_domain_rbcd_warns_once() -> None:
    d = doc(h2={"domain": FAB}, c2={"rbcd": [(f"{CORP_SID}-2101", "CORP\\HV01$")]})
    ms, cifs = (finding(c, d, X) for c in KCD)
    assert ms.status is Status.WARNING and "UNCONFIRMED" in ms.message
    assert cifs.status is Status.PASS and cifs.message != ms.message


def test_fail_both_services_missing_are_worded_apart() -> None:
    d = doc(c1={"delegate_to": []})
    ms, cifs = (finding(c, d, PAIR) for c in KCD)
    assert ms.status is Status.FAIL and cifs.status is Status.FAIL
    assert "migration service" in ms.message and "cifs" not in ms.message.split(".")[0]
    assert "file service (cifs)" in cifs.message and "migration service (" not in cifs.message
    assert "every Kerberos move" in ms.message and "carry storage" in cifs.message
    assert ms.message != cifs.message
    assert ms.fix is not None and cifs.fix is not None and ms.fix.summary != cifs.fix.summary


def test_fail_fix_says_the_operator_is_not_a_domain_admin() -> None:
    f = finding("pair-kcd-migration-service", doc(c1={"delegate_to": []}), PAIR)
    assert f.fix is not None
    assert f.fix.run_as == ("a member of Domain Admins of corp.contoso.com; the operator CORP\\hvadmin is not a "
                            "Domain Admin of corp.contoso.com, so someone who is must run it")
    f = finding("pair-kcd-cifs", doc(c1={"delegate_to": []}, op=DA), PAIR)
    assert f.fix is not None and f.fix.run_as.endswith("(the operator CORP\\hvadmin is one)")


def test_fail_cross_domain_fix_names_who_in_the_destination_domain() -> None:
    f = finding("pair-kcd-migration-service", doc(h2={"domain": FAB}), X)
    assert f.fix is not None and "Domain Admins of lab.fabrikam.com" in f.fix.run_as
    assert "is not a Domain Admin of lab.fabrikam.com" in f.fix.run_as


def test_missing_operator_fact_names_the_role_only() -> None:
    d = doc(c1={"delegate_to": []})
    del d["operator"]
    f = finding("pair-kcd-migration-service", d, PAIR)
    assert f.status is Status.FAIL and f.fix is not None
    assert f.fix.run_as == "a member of Domain Admins of corp.contoso.com"


def test_fail_rbcd_to_a_group_is_not_absent() -> None:
    # same domain, classic entries missing, RBCD lists a group: maybe HV01 is in it
    f = finding("pair-kcd-migration-service", doc(c1={"delegate_to": []}, c2=GROUP), PAIR)
    assert f.status is Status.WARNING and f.severity is Severity.MEDIUM
    assert "could not be resolved" in f.message and "CORP\\HV-Hosts" in f.message
    assert f.fix is not None and f"Get-ADGroupMember -Identity '{CORP_SID}-3001'" in f.fix.powershell
    assert_safe(f.fix.powershell)
    # across domains, where RBCD is the only route
    f = finding("pair-kcd-migration-service", doc(h2={"domain": FAB}, c2=GROUP), X)
    assert f.status is Status.WARNING and "could not be resolved" in f.message
    assert f.fix is not None and "-PrincipalsAllowedToDelegateToAccount" in f.fix.powershell
    assert_safe(f.fix.powershell)


def _long_directory_only() -> tuple[dict, str, str]:
    """A directory-only snapshot (no host facts) with a host whose DNS label is longer than 15 characters."""
    a = HostModel("HYPERV-NODE-PROD-01", index=1)  # 19 characters: NetBIOS name HYPERV-NODE-PRO
    b = HostModel("HYPERV-NODE-PROD-02", index=2)
    entries = [f"{svc}/{n}" for svc in (MS, "cifs") for n in ("HYPERV-NODE-PRO", b.fqdn)]
    objs = [ComputerModel(a, f"{CORP_SID}-2101", entries), ComputerModel(b, f"{CORP_SID}-2102", [])]
    d = build_snapshot([a, b], computers={CORP: objs}, pairs=[(a.fqdn, b.fqdn)])
    for comp in d["domains"][CORP]["computers"]["value"]:  # what AD holds: 15-character names
        comp["sAMAccountName"] = comp["sAMAccountName"][:15] + "$"
        comp["servicePrincipalName"] = [s.replace("HYPERV-NODE-PROD-01", "HYPERV-NODE-PRO")
                                        .replace("HYPERV-NODE-PROD-02", "HYPERV-NODE-PRO") for s in
                                        comp["servicePrincipalName"]]
    d["hosts"] = {h: {} for h in d["hosts"]}
    return d, a.fqdn, b.fqdn


def test_pass_long_host_names_use_the_netbios_name() -> None:
    d, a, b = _long_directory_only()
    for check_id in (*KCD, "pair-destination-spn"):
        f = next(f for f in run_check(check_id, d) if f.subject.source == a)
        assert f.status is Status.PASS, (check_id, f.message)
    f = next(f for f in run_check("pair-kcd-migration-service", d) if f.subject.source == b)
    assert f.status is Status.FAIL and f.fix is not None
    assert "-Identity 'HYPERV-NODE-PRO'" in f.fix.powershell and f"'{MS}/HYPERV-NODE-PRO'" in f.fix.powershell
    assert "HYPERV-NODE-PROD" not in f.fix.powershell.replace("hyperv-node-prod", "")


def _workgroup() -> dict:
    a = HostModel("HV01", index=1)
    b = HostModel("HV02", index=2, part_of_domain=False, domain_role=2)
    return build_snapshot([a, b], computers={CORP: [ComputerModel(a, f"{CORP_SID}-2101", [])]},
                          pairs=[(a.fqdn, b.fqdn)], operator=operator())


def test_pass_workgroup_host_makes_delegation_checks_not_applicable() -> None:
    d = _workgroup()
    for check_id in (*KCD, "pair-destination-spn", "operator-domain-admins"):
        found = run_check(check_id, d)
        assert found and {f.status for f in found} == {Status.NOT_APPLICABLE}, (check_id, [f.message for f in found])
        assert all("host-domain-member" in f.message for f in found)
