"""host-kerberos-rc4-only: a computer account must advertise AES, not RC4 alone."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.support.checking import break_fact, get_check, only, run_check
from tests.support.fleet import ComputerModel, HostModel, build_snapshot

H = "hv01.corp.contoso.com"
DOM = "corp.contoso.com"


def doc(enc: int | None = 0x1C) -> dict:
    h = HostModel("HV01")
    return build_snapshot([h], computers={DOM: [ComputerModel(h, "S-1-5-21-1-2-3-2101", encryption_types=enc)]})


def test_pass_aes_advertised() -> None:
    f = only(run_check("host-kerberos-rc4-only", doc(0x18)), host=H)
    assert f.status is Status.PASS and "AES128, AES256" in f.message


def test_fail_rc4_only() -> None:
    f = only(run_check("host-kerberos-rc4-only", doc(0x4)), host=H)
    # a risk with a date (RC4 still works where the domain allows it), not a blocked move: a high warning
    assert f.status is Status.WARNING and f.severity is Severity.HIGH and "only RC4" in f.message
    assert f.fix is not None and f.fix.target == "ad"
    lines = f.fix.powershell.splitlines()
    code = [line for line in lines if not line.startswith("#")]
    assert code == ["Set-ADComputer -Identity 'HV01' -Server 'corp.contoso.com' -KerberosEncryptionType 'AES128', 'AES256'",
                    "Invoke-Command -ComputerName 'hv01.corp.contoso.com' -ScriptBlock { klist -li 0x3e7 purge }"]
    # the host's policy first (it writes the attribute back), then the attribute, then the tickets
    policy = f.fix.summary.index("Configure encryption types allowed for Kerberos")
    assert policy < f.fix.summary.index("Set the attribute") < f.fix.summary.index("klist -li 0x3e7 purge")
    assert "Configure encryption types" in lines[0] and lines.index(code[0]) < lines.index(code[1])
    assert "Restart the host" not in f.fix.summary and "no AES keys" in f.fix.summary


def test_fail_des_only_fails_and_does_not_promise_rc4() -> None:
    f = only(run_check("host-kerberos-rc4-only", doc(0x3)), host=H)
    assert f.status is Status.FAIL and f.severity is Severity.HIGH and "DES-CBC-CRC, DES-CBC-MD5" in f.message
    assert "while the domain still issues RC4" not in f.message and "off by default" in f.message


def test_catalogue_severity_matches_its_worst_finding() -> None:
    meta = get_check("host-kerberos-rc4-only").meta
    assert meta.severity is Severity.HIGH and "fails" in meta.rationale and "DES" in meta.rationale


def test_fail_not_set_is_a_low_warning() -> None:
    for value in (None, 0):
        f = only(run_check("host-kerberos-rc4-only", doc(value)), host=H)
        assert f.status is Status.WARNING and f.severity is Severity.LOW


def test_missing_computer_object_is_an_error() -> None:
    d = doc()
    break_fact(d, "domains", DOM, "computers")
    assert only(run_check("host-kerberos-rc4-only", d), host=H).status is Status.ERROR


def test_missing_attribute_from_an_older_snapshot_is_an_error() -> None:
    d = doc()
    del d["domains"][DOM]["computers"]["value"][0]["msDS-SupportedEncryptionTypes"]
    assert only(run_check("host-kerberos-rc4-only", d), host=H).status is Status.ERROR
