"""Command-line and inventory options of the directory collector; where the password comes from."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

import pytest

from hvlm.audit.collect import directory
from hvlm.audit.collect.credentials import Secret
from hvlm.audit.collect.directory import DirectoryOptions, add_directory_options, directory_options_from_args
from hvlm.audit.errors import InputError, UsageError
from hvlm.audit.inventory import parse_inventory


def _parse(argv: list[str], ad: dict[str, object] | None = None, path: str = "<inventory>") -> DirectoryOptions:
    parser = argparse.ArgumentParser()
    add_directory_options(parser)
    data: dict[str, object] = {"hosts": ["hv01.corp.test"], "operator": "CORP\\hvadmin"}
    if ad is not None:
        data["ad"] = ad
    return directory_options_from_args(parser.parse_args(argv), parse_inventory(data, path))


def test_defaults_are_the_safe_ones() -> None:
    opts = _parse([])
    assert opts == DirectoryOptions()
    assert (opts.auth, opts.tls, opts.allow_plain) == ("gssapi", "ldaps", False)


def test_inventory_ad_table_gives_defaults_and_the_command_line_wins(tmp_path: Path) -> None:
    ca = tmp_path / "corp-ca.pem"
    ca.write_text("x", "ascii")
    inv_path = str(tmp_path / "fleet.toml")
    ad = {
        "dc": {"corp.test": "dc1.corp.test", "lab.test": "dc9.lab.test:3269"},
        "dns_servers": ["10.0.0.2", "10.0.0.3:5353"],
        "auth": "simple",
        "tls": "starttls",
        "ca_file": "corp-ca.pem",  # relative to the inventory file
        "username": "CORP\\auditor",
        "timeout": 5,
        "page_size": 200,
    }
    opts = _parse([], ad, inv_path)
    assert opts.dcs == (("corp.test", "dc1.corp.test"), ("lab.test", "dc9.lab.test:3269"))
    assert opts.dc_for("CORP.TEST") == "dc1.corp.test" and opts.dc_for("other.test") is None
    assert opts.dns_servers == ("10.0.0.2", "10.0.0.3:5353")
    assert (opts.auth, opts.tls, opts.username, opts.timeout, opts.page_size) == (
        "simple",
        "starttls",
        "CORP\\auditor",
        5.0,
        200,
    )
    assert opts.ca_file == str(ca)
    cli = _parse(
        [
            "--dc",
            "corp.test=dc2.corp.test",
            "--dc",
            "dcx.any.test",
            "--dns-server",
            "10.9.9.9",
            "--ldap-auth",
            "ntlm",
            "--ldap-tls",
            "ldaps",
            "--ldap-user",
            "other",
            "--ldap-timeout",
            "3",
        ],
        ad,
        inv_path,
    )
    assert cli.dcs == (("corp.test", "dc2.corp.test"), ("lab.test", "dc9.lab.test:3269"))
    assert cli.dc == "dcx.any.test" and cli.dc_for("new.test") == "dcx.any.test"
    assert (cli.dns_servers, cli.auth, cli.tls, cli.username, cli.timeout) == (
        ("10.9.9.9",),
        "ntlm",
        "ldaps",
        "other",
        3.0,
    )


def test_plain_ldap_needs_explicit_permission() -> None:
    with pytest.raises(UsageError, match="--allow-plain-ldap"):
        _parse(["--ldap-tls", "plain"])
    assert _parse(["--ldap-tls", "plain", "--allow-plain-ldap"]).allow_plain
    assert _parse([], {"tls": "plain", "allow_plain": True}).tls == "plain"


def test_no_password_option_exists() -> None:
    parser = argparse.ArgumentParser()
    add_directory_options(parser)
    assert not [a for a in parser._actions if any("pass" in o for o in a.option_strings)]
    with pytest.raises(SystemExit):
        parser.parse_args(["--ldap-password", "x"])


@pytest.mark.parametrize(
    ("ad", "where"),
    [
        ({"password": "x"}, "ad.password"),
        ({"bind_password": "x"}, "ad.bind_password"),
        ({"colour": "blue"}, "ad.colour"),
        ({"auth": "kerberos5"}, "ad.auth"),
        ({"tls": "none"}, "ad.tls"),
        ({"timeout": "ten"}, "ad.timeout"),
        ({"allow_plain": "yes"}, "ad.allow_plain"),
        ({"dc": 5}, "ad.dc"),
        ({"dc": "corp.test="}, "ad.dc"),
        ({"dns_servers": [1]}, "ad.dns_servers"),
    ],
)
def test_bad_ad_settings_name_the_key(ad: dict[str, object], where: str) -> None:
    with pytest.raises(InputError) as err:
        _parse([], ad)
    assert err.value.where == where


@pytest.mark.parametrize(
    "argv",
    [
        ["--dns-server", "dns.corp.test"],
        ["--dc", "=dc1"],
        ["--dc", "dc1:http"],
        ["--ldap-ca", "/nonexistent/ca.pem"],
        ["--ldap-timeout", "0"],
        ["--ldap-page-size", "0"],
    ],
)
def test_bad_command_line_values_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(UsageError):
        _parse(argv)


def _revealed(secret: Secret | None) -> str | None:
    return secret.reveal() if secret is not None else None


def test_password_comes_from_the_environment_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HVLM_PASSWORD", "general")
    monkeypatch.setenv("HVLM_LDAP_PASSWORD", "ldap-only")
    assert _revealed(directory.read_password("u")) == "ldap-only"
    monkeypatch.delenv("HVLM_LDAP_PASSWORD")
    assert _revealed(directory.read_password("u")) == "general"
    assert "general" not in repr(directory.read_password("u"))  # held masked


def test_password_prompt_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HVLM_LDAP_PASSWORD", raising=False)
    monkeypatch.delenv("HVLM_PASSWORD", raising=False)
    prompts: list[str] = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt, stream=None: prompts.append(prompt) or "typed")

    class Tty:
        def __init__(self, tty: bool) -> None:
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    monkeypatch.setattr(sys, "stdin", Tty(False))
    assert directory.read_password("CORP\\auditor") is None and prompts == []
    monkeypatch.setattr(sys, "stdin", Tty(True))
    assert _revealed(directory.read_password("CORP\\auditor")) == "typed"
    assert prompts == ["LDAP password for CORP\\auditor: "]
