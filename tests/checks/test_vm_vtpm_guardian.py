"""vm-vtpm-guardian: the destination must hold the guardian that protects a vTPM VM's key."""

from __future__ import annotations

from dataclasses import replace

from hvlm.audit.model import Severity, Status
from tests.support.checking import break_fact, drop_fact, only, run_check
from tests.support.fleet import HostModel, VMModel, build_snapshot, guardian_thumbprints
from tests.support.powershell import assert_parses

S, D = "hv01.corp.contoso.com", "hv02.corp.contoso.com"
HGS = "https://hgs.corp.contoso.com/KeyProtection"


def doc(*vms: VMModel, **dst: object) -> dict:
    s = HostModel("HV01", index=1, build=20348, vms=list(vms))
    d = replace(HostModel("HV02", index=2, build=20348), **dst)  # type: ignore[arg-type]
    return build_snapshot([s, d], pairs=[(s.fqdn, d.fqdn)])


def test_pass_no_vtpm() -> None:
    assert only(run_check("vm-vtpm-guardian", doc(VMModel("app01"))), vm="app01").status is Status.PASS


def test_pass_destination_holds_the_source_guardian() -> None:
    f = only(run_check("vm-vtpm-guardian", doc(VMModel("db02", tpm=True), guardians_from=["HV01"])), vm="db02")
    assert f.status is Status.PASS and guardian_thumbprints("HV01")[0] in f.message


def test_fail_destination_lacks_the_guardian_with_an_export_import_fix() -> None:
    f = only(run_check("vm-vtpm-guardian", doc(VMModel("db02", tpm=True))), vm="db02")
    assert f.status is Status.FAIL and f.severity is Severity.HIGH
    enc, sig = guardian_thumbprints("HV01")
    # every Local-mode host's guardian is named UntrustedGuardian: the message names whose, and its thumbprint
    assert "could not be unwrapped" in f.message and D in f.message
    assert f"does not hold HV01's UntrustedGuardian (encryption certificate thumbprint {enc})" in f.message
    assert "the guardian 'UntrustedGuardian'" not in f.message
    assert f.fix is not None and f.fix.kind == "manual" and f.fix.run_on == S
    ps = f.fix.powershell
    assert f"@('{enc}', '{sig}')" in ps and "Export-PfxCertificate" in ps and "Import-PfxCertificate" in ps
    assert "-CertStoreLocation 'Cert:\\LocalMachine\\Shielded VM Local Certificates'" in ps
    assert "Read-Host -AsSecureString" in ps and "-Password $password" in ps and "ConvertTo-SecureString" not in ps
    # the PFX files go in a new Administrators-only folder (nothing inherited), never in C:\, deleted after use
    acl = "icacls $folder /inheritance:r /grant:r '*S-1-5-32-544:(OI)(CI)F' '*S-1-5-18:(OI)(CI)F' | Out-Null"
    assert "C:\\" not in ps and ps.count(acl) == 2 and ps.count("if ($LASTEXITCODE -ne 0) { throw") == 2
    assert ps.count("Remove-Item -LiteralPath $folder -Recurse") == 1 and "'hvlm-guardian-transfer') -Recurse" in ps
    assert ps.index(acl) < ps.index("Export-PfxCertificate") and ps.rindex(acl) < ps.index("Import-PfxCertificate")
    assert f.fix.also_on == (D,)  # the destination's script carries the import step too
    assert_parses(ps)


def test_fail_certificate_without_private_key() -> None:
    f = only(run_check("vm-vtpm-guardian", doc(VMModel("db02", tpm=True), guardians_from=["HV01"],
                                               guardian_private_keys=False)), vm="db02")
    assert f.status is Status.FAIL and "not its private key" in f.message


def test_a_guardian_named_by_the_key_protector_that_is_not_the_owner_host() -> None:
    """The VM came from HV03 once: its key protector names HV03's guardian, which HV02 holds."""
    d = doc(VMModel("db02", tpm=True, guardian="HV03"), guardians_from=["HV03"])
    assert only(run_check("vm-vtpm-guardian", d), vm="db02").status is Status.PASS
    d = doc(VMModel("db02", tpm=True, guardian="HV03"), guardians_from=["HV01"])
    assert only(run_check("vm-vtpm-guardian", d), vm="db02").status is Status.FAIL


def test_fail_shielded_vm_to_a_host_in_local_mode() -> None:
    f = only(run_check("vm-vtpm-guardian", doc(VMModel("hgs01", tpm=True, shielded=True), guardians_from=["HV01"])),
             vm="hgs01")
    assert f.status is Status.FAIL and "shielded VM" in f.message and "Local mode" in f.message
    assert f.fix is not None and f.fix.kind == "manual"


def test_hgs_mode_destination_not_attested_fails() -> None:
    f = only(run_check("vm-vtpm-guardian", doc(VMModel("db02", tpm=True), hgs_mode="HostGuardianService",
                                               kps_url=HGS)), vm="db02")
    assert f.status is Status.FAIL and "InsecureHostConfiguration" in f.message


def test_hgs_mode_same_hgs_passes_and_another_hgs_warns() -> None:
    s = HostModel("HV01", index=1, build=20348, vms=[VMModel("sh01", tpm=True, shielded=True)],
                  hgs_mode="HostGuardianService", guarded=True, kps_url=HGS)
    d = HostModel("HV02", index=2, build=20348, hgs_mode="HostGuardianService", guarded=True, kps_url=HGS + "/")
    snap = build_snapshot([s, d], pairs=[(s.fqdn, d.fqdn)])
    assert only(run_check("vm-vtpm-guardian", snap), vm="sh01").status is Status.PASS
    d.kps_url = "https://hgs.fabrikam.com/KeyProtection"
    f = only(run_check("vm-vtpm-guardian", build_snapshot([s, d], pairs=[(s.fqdn, d.fqdn)])), vm="sh01")
    assert f.status is Status.WARNING and f.fix is not None and f.fix.kind == "check"


def test_destination_without_hgs_client_fails() -> None:
    d = doc(VMModel("db02", tpm=True))
    d["hosts"][D]["hgs_client"]["value"].update(Installed=False, Mode=None, IsHostGuarded=None)
    f = only(run_check("vm-vtpm-guardian", d), vm="db02")
    assert f.status is Status.FAIL and "no Host Guardian client" in f.message


def test_missing_security_fact_is_an_error() -> None:
    d = doc(VMModel("db02", tpm=True))
    break_fact(d, "hosts", S, "vm_security")
    assert {f.status for f in run_check("vm-vtpm-guardian", d)} == {Status.ERROR}


def test_missing_row_for_the_vm_is_an_error() -> None:
    d = doc(VMModel("db02"))
    d["hosts"][S]["vm_security"]["value"] = []
    assert only(run_check("vm-vtpm-guardian", d), vm="db02").status is Status.ERROR


def test_missing_guardian_facts_are_errors_for_a_vtpm_vm_only() -> None:
    for host, section in ((S, "vm_key_protectors"), (D, "hgs_client"), (D, "hgs_guardians")):
        d = doc(VMModel("db02", tpm=True), VMModel("app01"))
        break_fact(d, "hosts", host, section)
        f = only(run_check("vm-vtpm-guardian", d), vm="db02")
        assert f.status is Status.ERROR and "could not check" in f.message and section in f.message, section
        assert only(run_check("vm-vtpm-guardian", d), vm="app01").status is Status.PASS
    d = doc(VMModel("db02", tpm=True))
    drop_fact(d, "hosts", D, "hgs_guardians")  # a snapshot from before these facts
    assert only(run_check("vm-vtpm-guardian", d), vm="db02").status is Status.ERROR


def test_unreadable_or_absent_key_protector_is_an_error() -> None:
    d = doc(VMModel("db02", tpm=True))
    d["hosts"][S]["vm_key_protectors"]["value"][0]["ReadError"] = "The operation is not supported."
    assert only(run_check("vm-vtpm-guardian", d), vm="db02").status is Status.ERROR
    d["hosts"][S]["vm_key_protectors"]["value"] = []
    assert only(run_check("vm-vtpm-guardian", d), vm="db02").status is Status.ERROR


def test_a_hostile_thumbprint_never_reaches_the_script() -> None:
    d = doc(VMModel("db02", tpm=True))
    d["hosts"][S]["vm_key_protectors"]["value"][0]["Owner"]["SigningCertificateThumbprint"] = "'; Remove-Item C:\\ #"
    f = only(run_check("vm-vtpm-guardian", d), vm="db02")
    assert f.fix is not None and "Remove-Item C:" not in f.fix.powershell


def test_without_the_source_certificates_the_guardian_is_named_by_its_thumbprint() -> None:
    d = doc(VMModel("db02", tpm=True))
    d["hosts"][S]["hgs_guardians"]["value"]["LocalCertificates"] = []
    f = only(run_check("vm-vtpm-guardian", d), vm="db02")
    enc, _ = guardian_thumbprints("HV01")
    assert f.status is Status.FAIL
    assert f"does not hold the guardian UntrustedGuardian of the key protector (encryption certificate thumbprint {enc})" \
        in f.message
