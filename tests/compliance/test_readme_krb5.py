"""The README's krb5.conf for a runner that is not joined, read by MIT Kerberos' own profile library
(libkrb5's profile_* functions, what kinit and hvlm's GSSAPI read it with): every boolean is a valid
boolean, the realm's KDCs are the kdc lines, and DNS lookup of KDCs is off since kdc lines are given.
(tests/compliance/test_scheduled_kerberos.py gets a ticket with it from the Samba lab's KDC.)"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from pathlib import Path

import pytest

from tests.compliance.procs import REPO

BOOLEANS = ("dns_lookup_kdc", "dns_lookup_realm", "rdns", "forwardable", "dns_canonicalize_hostname")


def readme_krb5_conf() -> str:
    """The ini block of "Kerberos from a Linux runner" that holds [libdefaults], unindented."""
    section = (REPO / "README.md").read_text("utf-8").split("### Kerberos from a Linux runner", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```ini\n(.*?)```", section, flags=re.S)
    text = next(b for b in blocks if "[libdefaults]" in b)
    return "\n".join(line[2:] if line.startswith("  ") else line for line in text.splitlines()) + "\n"


class Profile:
    """One krb5.conf opened with libkrb5's profile library."""

    def __init__(self, path: Path) -> None:
        name = ctypes.util.find_library("krb5")
        if name is None:
            pytest.skip("libkrb5 is not installed (apt-get install libkrb5-3)")
        self.lib = ctypes.CDLL(name)
        self.lib.error_message.restype = ctypes.c_char_p
        self.handle = ctypes.c_void_p()
        code = self.lib.profile_init_path(str(path).encode(), ctypes.byref(self.handle))
        assert code == 0, self.error(code)

    def error(self, code: int) -> str:
        return str(self.lib.error_message(ctypes.c_long(code)).decode())

    def boolean(self, section: str, name: str) -> bool | str:
        """The value, or MIT's error message for it."""
        value = ctypes.c_int(-1)
        code = self.lib.profile_get_boolean(self.handle, section.encode(), name.encode(), None, 0,
                                            ctypes.byref(value))
        return self.error(code) if code else bool(value.value)

    def values(self, *path: str) -> list[str]:
        names = (ctypes.c_char_p * (len(path) + 1))(*(p.encode() for p in path), None)
        out = ctypes.POINTER(ctypes.c_char_p)()
        code = self.lib.profile_get_values(self.handle, names, ctypes.byref(out))
        if code:
            return []
        found = []
        i = 0
        while out[i] is not None:
            found.append(out[i].decode())
            i += 1
        self.lib.profile_free_list(out)
        return found

    def close(self) -> None:
        self.lib.profile_release(self.handle)


def test_the_readme_krb5_conf_reads_as_meant(tmp_path: Path) -> None:
    conf = tmp_path / "krb5.conf"
    conf.write_text(readme_krb5_conf(), "utf-8")
    profile = Profile(conf)
    try:
        assert profile.values("libdefaults", "default_realm") == ["CORP.EXAMPLE"]
        set_booleans = [b for b in BOOLEANS if profile.values("libdefaults", b)]
        assert "dns_lookup_kdc" in set_booleans
        for name in set_booleans:
            assert isinstance(profile.boolean("libdefaults", name), bool), (name, profile.boolean("libdefaults", name))
        kdcs = profile.values("realms", "CORP.EXAMPLE", "kdc")
        assert kdcs == ["dc1.corp.example", "dc2.corp.example"]
        assert profile.boolean("libdefaults", "dns_lookup_kdc") is False  # the kdc lines are the KDCs
        assert profile.values("domain_realm", ".corp.example") == ["CORP.EXAMPLE"]
        # no value carries a trailing comment (MIT has none: it would be part of the value)
        assert not [v for v in profile.values("libdefaults", "default_realm") + kdcs if "#" in v or ";" in v]
    finally:
        profile.close()


def test_a_comment_after_a_value_is_what_mit_refuses(tmp_path: Path) -> None:
    """The check above can fail: the README's former line, read by the same library."""
    conf = tmp_path / "krb5.conf"
    conf.write_text("[libdefaults]\n    dns_lookup_kdc = true       # or false with kdc lines below\n", "utf-8")
    profile = Profile(conf)
    try:
        assert profile.boolean("libdefaults", "dns_lookup_kdc") == "Invalid boolean value"
        assert profile.values("libdefaults", "dns_lookup_kdc") == ["true       # or false with kdc lines below"]
    finally:
        profile.close()
