"""--krb5-config / --krb5-ccache: one Kerberos set-up for WinRM and LDAP, set before any connection."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from hvlm.audit.collect.kerberos import add_kerberos_options, apply_kerberos_options, ccache_name, config_path
from hvlm.audit.errors import UsageError

from .labkit import run_cli


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_kerberos_options(parser)
    return parser.parse_args(list(argv))


def test_options_set_the_variables_mit_kerberos_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KRB5_CONFIG", raising=False)
    monkeypatch.delenv("KRB5CCNAME", raising=False)
    conf = tmp_path / "krb5.conf"
    conf.write_text("[libdefaults]\n    default_realm = CORP.EXAMPLE\n")
    apply_kerberos_options(parse("--krb5-config", str(conf), "--krb5-ccache", f"FILE:{tmp_path / 'cc'}"))
    assert config_path() == str(conf.resolve())
    assert ccache_name() == f"FILE:{tmp_path / 'cc'}"


def test_no_option_leaves_the_environment_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRB5_CONFIG", "/etc/hvlm/krb5.conf")
    monkeypatch.setenv("KRB5CCNAME", "KEYRING:persistent:0")
    apply_kerberos_options(parse())
    assert config_path() == "/etc/hvlm/krb5.conf" and ccache_name() == "KEYRING:persistent:0"


def test_a_missing_krb5_conf_is_a_usage_error_before_any_connection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UsageError, match=r"--krb5-config .*no such file"):
        apply_kerberos_options(parse("--krb5-config", str(tmp_path / "nope.conf")))
    inventory = tmp_path / "fleet.toml"
    inventory.write_text('hosts = ["hv01.corp.example"]\n')
    run = run_cli(capsys, "collect", "-i", str(inventory), "-o", str(tmp_path / "s.json"), "--only", "hosts",
                  "--auth", "kerberos", "--krb5-config", str(tmp_path / "nope.conf"))
    assert run.code == 2 and "--krb5-config" in run.err and "no such file" in run.err
    assert not (tmp_path / "s.json").exists()
