"""The TOML inventory: hosts, operator, planned migrations, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hvlm.audit.errors import InputError
from hvlm.audit.inventory import load_inventory, parse_inventory


def inv(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "inventory.toml"
    p.write_text(text)
    return p


def test_every_ordered_pair_by_default(tmp_path: Path) -> None:
    i = load_inventory(inv(tmp_path, 'hosts = ["hv01", "hv02", "hv03"]\noperator = "CORP\\\\hvadmin"\n'))
    assert len(i.pairs) == 6 and ("hv03", "hv01") in i.pairs
    assert i.operator == "CORP\\hvadmin"


def test_groups_and_explicit_pairs(tmp_path: Path) -> None:
    text = """
[operator]
account = "hvadmin@corp.contoso.com"

[defaults]
transport = "https"
auth = "kerberos"

[[hosts]]
name = "hv01.corp.contoso.com"
[[hosts]]
name = "hv02.corp.contoso.com"
port = 15986
[[hosts]]
name = "hv03.corp.contoso.com"
address = "10.0.0.13"
auth = "ntlm"

[groups]
prod = ["hv01.corp.contoso.com", "HV02.corp.contoso.com"]

[[migrations]]
source = "hv03.corp.contoso.com"
destination = "hv01.corp.contoso.com"
"""
    i = load_inventory(inv(tmp_path, text))
    assert set(i.pairs) == {
        ("hv03.corp.contoso.com", "hv01.corp.contoso.com"),
        ("hv01.corp.contoso.com", "hv02.corp.contoso.com"),
        ("hv02.corp.contoso.com", "hv01.corp.contoso.com"),
    }
    assert i.connection("hv03.corp.contoso.com") == {"transport": "https", "auth": "ntlm", "address": "10.0.0.13"}
    assert i.connection("hv02.corp.contoso.com")["port"] == 15986
    snap = i.to_snapshot()
    assert snap["operator"] == "hvadmin@corp.contoso.com" and snap["groups"]["prod"][1] == "hv02.corp.contoso.com"


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ('hosts = ["hv01", "HV01"]', "hosts[1]", "named twice"),
        ('hosts = []', "hosts", "non-empty 'hosts' list"),
        ('hosts = ["hv01"]\n[[migrations]]\nsource = "hv01"\ndestination = "hv09"', "migrations[0].destination",
         "'hv09' is not one of the inventory's hosts"),
        ('hosts = ["hv01", "hv02"]\n[[migrations]]\nsource = "hv01"\ndestination = "hv01"', "migrations[0]",
         "same host"),
        ('hosts = ["hv01"]\n[defaults]\npassword = "hunter2"', "defaults", "passwords never go in the inventory"),
        ('[[hosts]]\nname = "hv01"\nport = 99999', "hosts[0].port", "port must be"),
        ('[[hosts]]\nname = "hv01"\ntransport = "telnet"', "hosts[0].transport", "transport must be"),
        ('[[hosts]]\nname = "hv01"\ncolour = "blue"', "hosts[0]", "unknown setting 'colour'"),
        ('hosts = ["hv 01"]', "hosts[0]", "not a valid host name"),
        ('hosts = ["hv01"]\n[groups]\ng = ["nope"]', "groups.g[0]", "not one of the inventory's hosts"),
    ],
)
def test_bad_inventories(tmp_path: Path, text: str, where: str, message: str) -> None:
    with pytest.raises(InputError) as exc:
        load_inventory(inv(tmp_path, text))
    assert exc.value.where == where
    assert message in exc.value.detail
    assert str(exc.value).startswith(str(tmp_path / "inventory.toml"))
    assert "hunter2" not in str(exc.value)


def test_invalid_toml_and_bytes(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="invalid TOML"):
        load_inventory(inv(tmp_path, "hosts = ["))
    p = tmp_path / "bin.toml"
    p.write_bytes(b"\xff\xfe")
    with pytest.raises(InputError, match="not UTF-8"):
        load_inventory(p)


def test_parse_inventory_from_dict() -> None:
    i = parse_inventory({"hosts": ["a", "b"], "migrations": [{"source": "a", "destination": "b"}]})
    assert i.pairs == (("a", "b"),)
