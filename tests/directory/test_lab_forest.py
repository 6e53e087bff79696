"""Two forests with a two-way trust (tests/lab/samba/forest.py): hosts of each domain are read from
that domain's own DC, trusts are seen from both sides, and an operator named by the NetBIOS name of
the trusted forest is found there."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.directory import labsetup as lab
from tests.lab.samba import SambaForest

pytestmark = pytest.mark.lab
pytest_plugins = ["tests.lab.samba.fixtures"]  # samba_dc, samba_forest


@pytest.fixture(scope="module")
def forest(samba_forest: SambaForest, tmp_path_factory: pytest.TempPathFactory) -> tuple[SambaForest, str]:
    """The forest, two Hyper-V hosts in LAB2 delegating to each other, and a CA bundle of both
    forests' CAs (one --ldap-ca for the whole fleet, as with an enterprise CA chain)."""
    dc2 = samba_forest.dc2
    for name, peer in (("DXF1", "DXF2"), ("DXF2", "DXF1")):
        dc2.add_computer(
            name,
            spns=lab.host_spns(name, dc2.dns_domain),
            allowed_to_delegate_to=lab.kcd(peer, dc2.dns_domain),
            trusted_to_auth_for_delegation=True,
        )
    samba_forest.dc1.add_computer("DXX1", spns=lab.host_spns("DXX1", samba_forest.dc1.dns_domain))
    bundle = Path(tmp_path_factory.mktemp("dx-ca")) / "bundle.pem"
    bundle.write_text(
        samba_forest.dc1.ca_cert.read_text("ascii") + samba_forest.dc2.ca_cert.read_text("ascii"), "ascii"
    )
    return samba_forest, str(bundle)


def test_each_domain_is_read_from_its_own_dc(forest: tuple[SambaForest, str]) -> None:
    f, bundle = forest
    dc1, dc2 = f.dc1, f.dc2
    hosts = [f"dxx1.{dc1.dns_domain}", f"dxf1.{dc2.dns_domain}", f"dxf2.{dc2.dns_domain}"]
    # a bare user name binds as user@<each domain>: both lab forests have their own Administrator
    result = lab.collect(
        dc1, hosts, operator=f"{dc1.netbios_domain}\\Administrator", username="Administrator", ca_file=bundle
    )
    one, two = result["domains"][dc1.dns_domain], result["domains"][dc2.dns_domain]
    assert one["info"]["source"]["host"] == dc1.fqdn and two["info"]["source"]["host"] == dc2.fqdn
    assert one["info"]["value"]["objectSid"] == dc1.domain_sid
    assert two["info"]["value"]["objectSid"] == dc2.domain_sid
    assert two["info"]["value"]["nETBIOSName"] == dc2.netbios_domain
    assert [c["sAMAccountName"] for c in one["computers"]["value"]] == ["DXX1$"]
    f1, f2 = two["computers"]["value"]
    assert (f1["sAMAccountName"], f2["sAMAccountName"]) == ("DXF1$", "DXF2$")
    assert f1["msDS-AllowedToDelegateTo"] == sorted(lab.kcd("DXF2", dc2.dns_domain), key=str.lower)
    assert f1["userAccountControl"] & lab.TRUSTED_TO_AUTH_FOR_DELEGATION
    assert two["domain_controllers"]["value"][0]["target"] == dc2.fqdn  # SRV through DC1's forwarder
    for trusts, partner, flat in ((one, dc2.dns_domain, dc2.netbios_domain), (two, dc1.dns_domain, dc1.netbios_domain)):
        (tdo,) = [t for t in trusts["trusts"]["value"] if t["trustPartner"] == partner]
        assert (tdo["flatName"], tdo["trustDirection"], tdo["trustType"]) == (flat, 3, 2)
        assert tdo["trustAttributes"] & 0x8  # forest transitive
    assert result["operator"]["value"]["domain"] == dc1.dns_domain
    assert result["dns"][hosts[1]]["value"]["name"] == hosts[1]


def test_operator_of_the_trusted_forest_is_found_through_the_trust(forest: tuple[SambaForest, str]) -> None:
    f, bundle = forest
    dc1, dc2 = f.dc1, f.dc2
    result = lab.collect(
        dc1,
        [f"dxx1.{dc1.dns_domain}"],
        operator=f"{dc2.netbios_domain}\\Administrator",
        username="Administrator",
        ca_file=bundle,
    )
    op = result["operator"]
    assert "value" in op, op
    assert op["value"]["domain"] == dc2.dns_domain
    assert op["value"]["objectSid"] == f"{dc2.domain_sid}-500"
    assert f"{dc2.domain_sid}-512" in op["value"]["tokenGroups"]
    # the operator's domain is read too (no inventory host there, so no computers fact)
    assert set(result["domains"][dc2.dns_domain]) == {"domain_controllers", "info", "trusts"}


def test_only_one_forest_trusted_by_the_ca_file(forest: tuple[SambaForest, str]) -> None:
    f, _bundle = forest
    dc1, dc2 = f.dc1, f.dc2
    hosts = [f"dxx1.{dc1.dns_domain}", f"dxf1.{dc2.dns_domain}"]
    result = lab.collect(dc1, hosts, username="Administrator", ca_file=str(dc1.ca_cert))
    assert "value" in result["domains"][dc1.dns_domain]["computers"]
    assert result["domains"][dc2.dns_domain]["computers"]["error"]["kind"] == "tls_untrusted"
