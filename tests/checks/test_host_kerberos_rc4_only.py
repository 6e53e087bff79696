"""host-kerberos-rc4-only: a computer account must advertise AES, not RC4 alone."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.support.checking import break_fact, only, run_check
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
    assert f.fix.powershell \
        == "Set-ADComputer -Identity 'HV01' -Server 'corp.contoso.com' -KerberosEncryptionType 'AES128', 'AES256'"


def test_fail_not_set_is_a_low_warning() -> None:
    f = only(run_check("host-kerberos-rc4-only", doc(None)), host=H)
    assert f.status is Status.WARNING and f.severity is Severity.LOW


def test_missing_computer_object_is_an_error() -> None:
    d = doc()
    break_fact(d, "domains", DOM, "computers")
    assert only(run_check("host-kerberos-rc4-only", d), host=H).status is Status.ERROR


def test_missing_attribute_from_an_older_snapshot_is_an_error() -> None:
    d = doc()
    del d["domains"][DOM]["computers"]["value"][0]["msDS-SupportedEncryptionTypes"]
    assert only(run_check("host-kerberos-rc4-only", d), host=H).status is Status.ERROR
