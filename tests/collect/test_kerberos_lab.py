"""Kerberos end to end: `hvlm scan/collect --auth kerberos|negotiate` against the WinRM lab, tickets
from kinit against the Samba lab KDC, and every Kerberos failure a real domain produces.

The simulated hosts have computer accounts with WSMAN/, HTTP/ and HOST/ SPNs in LAB.TEST and the
WinRM lab accepts Kerberos with their exported keytab (tests/lab/samba/kerberos.py,
tests/lab/winrm/kerberos.py). Inventory names are the hosts' FQDNs, the address is 127.0.0.1 with
one port per host: pypsrp asks the KDC for WSMAN/<inventory name>, as it would for a real host.
Every failure below is produced by the real KDC or MIT GSSAPI: nothing is raised by the test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pypsrp.encryption import WinRMEncryption

from hvlm.audit.snapshot import Snapshot
from tests.lab.hostsim import SimHost
from tests.lab.samba import SambaDC
from tests.lab.samba.kerberos import KerberosHosts, kinit, register_winrm_hosts, winrm_spns
from tests.lab.winrm import WinRMLab, closed_port
from tests.support.fleet import GiB, HostModel, VMModel

from .labkit import assert_facts_equal_model, run_cli, write_inventory

pytestmark = pytest.mark.lab
pytest_plugins = ["tests.lab.samba.fixtures"]  # samba_dc

NAMES = ("KRBW1", "KRBW2", "KRBW3")  # computer accounts of this module only
AUDITOR, AUDITOR_PASSWORD = "krbauditor", "Krb-Auditor-Pass-1"  # lab-only domain account
REPO = Path(__file__).resolve().parents[2]


def _need(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        message = f"{what} is not installed (pip install -e '.[kerberos]' with libkrb5-dev)"
        if os.environ.get("CI"):
            pytest.fail(message + ": tests/lab/setup.sh installs it in CI", pytrace=False)
        pytest.skip(message)


@dataclass(frozen=True)
class Realm:
    dc: SambaDC
    hosts: KerberosHosts
    folder: Path

    @property
    def principal(self) -> str:
        return f"{AUDITOR}@{self.dc.realm}"

    @property
    def ntlm_user(self) -> str:
        return f"{self.dc.netbios_domain}\\{AUDITOR}"

    def kinit(self, ccache: Path, lifetime: str | None = None) -> Path:
        kinit(self.dc, AUDITOR, AUDITOR_PASSWORD, ccache, lifetime=lifetime)
        return ccache


@pytest.fixture(scope="module")
def realm(samba_dc: SambaDC, tmp_path_factory: pytest.TempPathFactory) -> Realm:
    _need("gssapi", "python-gssapi")
    _need("krb5", "python-krb5 (pyspnego's Kerberos needs it)")
    folder = tmp_path_factory.mktemp("kerberos")
    hosts = register_winrm_hosts(samba_dc, NAMES, folder / "winrm-hosts.keytab")
    samba_dc.add_user(AUDITOR, AUDITOR_PASSWORD)
    return Realm(samba_dc, hosts, folder)


@pytest.fixture
def ticket(realm: Realm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The auditor's TGT in a private cache, as after `kinit krbauditor@LAB.TEST`; no password set."""
    monkeypatch.setenv("KRB5_CONFIG", str(realm.dc.krb5_conf))
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{realm.kinit(tmp_path / 'ccache')}")
    monkeypatch.delenv("HVLM_PASSWORD", raising=False)
    monkeypatch.delenv("HVLM_USERNAME", raising=False)
    yield tmp_path / "ccache"


def sims_for(realm: Realm, names: tuple[str, ...] = NAMES) -> list[SimHost]:
    builds = {0: 17763, 1: 20348, 2: 26100}
    sims = []
    for i, name in enumerate(names):
        vms = [VMModel(f"{name.lower()}-vm{j}", version="9.0", memory_startup=(2 + j) * GiB) for j in range(i + 1)]
        sims.append(SimHost(HostModel(name, index=20 + i, build=builds[i % 3], domain=realm.dc.dns_domain, vms=vms)))
    assert [s.name for s in sims] == [realm.hosts.fqdns[n] for n in names]  # the inventory name is the SPN's name
    return sims


def kerberos_lab(
    realm: Realm, sims: list[SimHost], scheme: str = "http", auth: str = "kerberos", *, ntlm_users: bool = True
) -> WinRMLab:
    """NTLM knows the auditor too (same password): in a "kerberos" lab NTLM is refused by policy.

    ``ntlm_users=False`` when the client must have no NTLM credential at all: the lab's NTLM users
    file is process-wide and pyspnego's NTLM *client* also reads it (NTLM_USER_FILE)."""
    users = {realm.ntlm_user: AUDITOR_PASSWORD} if ntlm_users else {}
    return WinRMLab([s.spec() for s in sims], scheme=scheme, auth=auth,  # type: ignore[arg-type]
                    users=users, principals=[realm.principal],
                    keytab=str(realm.hosts.keytab))


def collect(capsys: pytest.CaptureFixture[str], inventory: Path, out: Path, *extra: str) -> dict[str, Any]:
    run = run_cli(capsys, "collect", "-i", str(inventory), "-o", str(out), "--only", "hosts", "-q", *extra)
    assert run.code in (0, 3), run.err
    assert AUDITOR_PASSWORD not in run.out + run.err + out.read_text()
    return Snapshot.load(out).doc


def connection_error(doc: dict[str, Any], host: str) -> dict[str, str]:
    fact = doc["hosts"][host]["connection"]
    assert "error" in fact, fact
    return dict(fact["error"])


# -- collection with Kerberos ------------------------------------------------------------------


def test_kerberos_only_lab_over_http_collects_what_the_hosts_hold_and_refuses_ntlm(
    realm: Realm, ticket: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    wrapped: list[str] = []
    original = WinRMEncryption.wrap_message

    def counting(self: WinRMEncryption, message: bytes) -> Any:
        wrapped.append(type(self.context).__name__)
        return original(self, message)

    monkeypatch.setattr(WinRMEncryption, "wrap_message", counting)
    sims = sims_for(realm)
    with kerberos_lab(realm, sims) as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims, defaults={"transport": "http"})
        doc = collect(capsys, inventory, tmp_path / "krb.json", "--auth", "kerberos")
        seen = lab.requests_seen(sims[0].name)
        # The same lab, the same account with its right password, over NTLM: refused (NTLM is off).
        monkeypatch.setenv("HVLM_PASSWORD", AUDITOR_PASSWORD)
        ntlm_inventory = write_inventory(tmp_path / "fleet-ntlm.toml", lab, sims,
                                         defaults={"transport": "http", "username": realm.ntlm_user})
        ntlm = collect(capsys, ntlm_inventory, tmp_path / "ntlm.json", "--auth", "ntlm")
    assert doc["complete"] is True
    for sim in sims:
        assert_facts_equal_model(doc["hosts"][sim.name], sim)
        conn = doc["hosts"][sim.name]["connection"]["value"]
        assert conn["auth"] == "kerberos" and conn["username"] is None and conn["fqdn"] == sim.name
        assert len(sim.calls) == 1
        err = connection_error(ntlm, sim.name)
        assert err["kind"] == "authentication" and "with ntlm failed on " + sim.name in err["message"]
    assert seen[0] == "Create" and seen[-1] == "Delete"
    # Every SOAP message went through WinRM message encryption: hvlm's with its Kerberos (GSSAPI)
    # context, the lab's answers with its Negotiate acceptor's; no NTLM context sealed anything.
    assert wrapped.count("GSSAPIProxy") >= len(seen) * len(sims)
    assert wrapped.count("NegotiateProxy") >= len(seen) * len(sims)
    assert set(wrapped) == {"GSSAPIProxy", "NegotiateProxy"}


def test_scan_with_negotiate_over_https_uses_kerberos_with_channel_binding(
    realm: Realm, ticket: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sims = sims_for(realm)[:2]
    with kerberos_lab(realm, sims, scheme="https") as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims, defaults={"ca_bundle": lab.ca_cert_path})
        snap = tmp_path / "scan.json"
        run = run_cli(capsys, "scan", "-i", str(inventory), "--auth", "negotiate", "--save-snapshot", str(snap),
                      "-q", "--format", "json", "-o", str(tmp_path / "report.json"))
        # 3/4: incomplete, as the directory side has no DNS server here (the test below reads it)
        assert run.code in (0, 1, 3, 4), run.err
        doc = Snapshot.load(snap).doc
        for sim in sims:
            assert_facts_equal_model(doc["hosts"][sim.name], sim)
            conn = doc["hosts"][sim.name]["connection"]["value"]
            assert conn["auth"] == "negotiate" and conn["tls_verified"] is True
        # The acceptor checks the TLS channel binding: a listener that expects another certificate's
        # binding (as behind a TLS-terminating proxy) refuses the same ticket.
        listener = lab._running().listeners[sims[1].name]
        listener.channel_binding = b"tls-server-end-point:" + bytes(32)
        cbt = collect(capsys, inventory, tmp_path / "cbt.json", "--auth", "kerberos")
    assert "value" in cbt["hosts"][sims[0].name]["connection"]
    err = connection_error(cbt, sims[1].name)
    assert err["kind"] == "authentication" and sims[1].name in err["message"]


def test_negotiate_lab_admits_kerberos_and_ntlm_alike(
    realm: Realm, ticket: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control of the NTLM refusal above: the same account's NTLM logon works where NTLM is allowed."""
    sims = sims_for(realm)[:2]
    monkeypatch.setenv("HVLM_PASSWORD", AUDITOR_PASSWORD)
    with kerberos_lab(realm, sims, auth="negotiate") as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims, defaults={"transport": "http"},
                                    per_host={sims[1].name: {"auth": "ntlm", "username": realm.ntlm_user}})
        doc = collect(capsys, inventory, tmp_path / "snap.json")
    for sim in sims:
        assert_facts_equal_model(doc["hosts"][sim.name], sim)
    assert doc["hosts"][sims[0].name]["connection"]["value"]["auth"] == "negotiate"
    assert doc["hosts"][sims[1].name]["connection"]["value"]["username"] == realm.ntlm_user


def test_kerberos_with_a_password_and_no_ticket_cache(
    realm: Realm, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """user@REALM and HVLM_PASSWORD: pyspnego gets the tickets itself (in memory, no kinit); a realm
    krb5.conf does not know is reported as such."""
    monkeypatch.setenv("KRB5_CONFIG", str(realm.dc.krb5_conf))
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'unused'}")
    monkeypatch.setenv("HVLM_PASSWORD", AUDITOR_PASSWORD)
    sims = sims_for(realm)[:2]
    with kerberos_lab(realm, sims, ntlm_users=False) as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims, defaults={"transport": "http"},
                                    per_host={sims[0].name: {"username": realm.principal},
                                              sims[1].name: {"username": f"{AUDITOR}@NOWHERE.TEST"}})
        doc = collect(capsys, inventory, tmp_path / "snap.json", "--auth", "kerberos")
    assert_facts_equal_model(doc["hosts"][sims[0].name], sims[0])
    assert not (tmp_path / "unused").exists()
    err = connection_error(doc, sims[1].name)
    assert err["kind"] == "authentication"
    assert err["message"].startswith(f"no KDC is known for a realm needed to authenticate to {sims[1].name} "), err
    assert 'Cannot find KDC for realm "NOWHERE.TEST"' in err["message"] and str(realm.dc.krb5_conf) in err["message"]


# -- each Kerberos failure, from the real KDC and GSSAPI ---------------------------------------


def test_no_ticket_says_to_run_kinit_or_which_cache(
    realm: Realm, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRB5_CONFIG", str(realm.dc.krb5_conf))
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'no-such-cache'}")
    monkeypatch.delenv("HVLM_PASSWORD", raising=False)
    sims = sims_for(realm)[:1]
    with kerberos_lab(realm, sims, ntlm_users=False) as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims, defaults={"transport": "http"})
        for auth in ("kerberos", "negotiate"):
            doc = collect(capsys, inventory, tmp_path / f"{auth}.json", "--auth", auth)
            err = connection_error(doc, sims[0].name)
            assert err["kind"] == "authentication", err
            message = err["message"]
            assert message.startswith(f"no Kerberos ticket to authenticate to {sims[0].name} (127.0.0.1:"), message
            assert "run kinit user@REALM" in message and "--krb5-ccache (KRB5CCNAME)" in message
            assert str(tmp_path / "no-such-cache") in message  # MIT names the cache it looked in
        assert lab.requests_seen(sims[0].name) == []


def test_expired_ticket_says_to_run_kinit_again(
    realm: Realm, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRB5_CONFIG", str(realm.dc.krb5_conf))
    ccache = realm.kinit(tmp_path / "short", lifetime="2s")  # the KDC issues a 2-second TGT
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{ccache}")
    time.sleep(3)
    sims = sims_for(realm)[:1]
    with kerberos_lab(realm, sims) as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims, defaults={"transport": "http"})
        doc = collect(capsys, inventory, tmp_path / "snap.json", "--auth", "kerberos")
    err = connection_error(doc, sims[0].name)
    assert err["kind"] == "authentication"
    assert err["message"].startswith(f"the Kerberos ticket in FILE:{ccache} has expired, so {sims[0].name} "), err
    assert "run kinit again" in err["message"]


def test_unknown_spn_for_an_alias_or_an_address_names_the_spn(
    realm: Realm, ticket: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sims = sims_for(realm)[:1]
    with kerberos_lab(realm, sims) as lab:
        port = lab.port(sims[0].name)
        # The same host reached by a name its account does not hold, and by its address.
        inventory = write_inventory(
            tmp_path / "fleet.toml", lab, [], defaults={"transport": "http"},
            extra_hosts={"hyperv-a.lab.test": {"address": lab.address, "port": port}, "127.0.0.1": {"port": port}},
        )
        doc = collect(capsys, inventory, tmp_path / "snap.json", "--auth", "kerberos")
        assert lab.requests_seen(sims[0].name) == []
    alias = connection_error(doc, "hyperv-a.lab.test")
    assert alias["kind"] == "authentication"
    assert alias["message"].startswith(
        "the KDC knows no service principal WSMAN/hyperv-a.lab.test for hyperv-a.lab.test (127.0.0.1:"
    ), alias
    assert "setspn -S WSMAN/hyperv-a.lab.test HYPERV-A" in alias["message"] and "CNAME" in alias["message"]
    address = connection_error(doc, "127.0.0.1")
    assert address["message"].startswith("the KDC knows no service principal WSMAN/127.0.0.1 for 127.0.0.1:")
    assert f"WSMAN/{sims[0].name}" in winrm_spns(NAMES[0], sims[0].name)  # the name that works


def test_clock_skew_beyond_the_kdc_tolerance(realm: Realm, ticket: Path, tmp_path: Path) -> None:
    """The runner's clock 15 minutes ahead (libfaketime on the hvlm process only; the KDC and the
    lab keep the real time): the KDC refuses the service-ticket request (KRB_AP_ERR_SKEW)."""
    faketime = shutil.which("faketime")
    if faketime is None:
        message = "faketime is not installed (apt-get install faketime; .ci/install-kerberos.sh)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    sims = sims_for(realm)[:1]
    with kerberos_lab(realm, sims) as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims, defaults={"transport": "http"})
        out = tmp_path / "snap.json"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
        proc = subprocess.run(
            [faketime, "-f", "+15m", sys.executable, "-c", "import time; print(time.time())"],
            capture_output=True, text=True, env=env, timeout=60, check=True,
        )
        assert float(proc.stdout) - time.time() > 14 * 60  # the clock really is ahead under faketime
        proc = subprocess.run(
            [faketime, "-f", "+15m", sys.executable, "-m", "hvlm.audit.cli", "collect", "-i", str(inventory),
             "-o", str(out), "--only", "hosts", "-q", "--auth", "kerberos"],
            capture_output=True, text=True, env=env, timeout=120, check=False, cwd=REPO,
        )
        assert proc.returncode == 3, proc.stderr
    err = connection_error(json.loads(out.read_text()), sims[0].name)
    assert err["kind"] == "authentication"
    assert err["message"].startswith("this machine's clock and the KDC's differ by more than the allowed skew"), err
    assert f"authenticating to {sims[0].name} (127.0.0.1:" in err["message"]
    assert "synchronise this runner's clock" in err["message"]


def test_kdc_unreachable_names_the_krb5_conf_to_fix(
    realm: Realm, ticket: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A TGT in the cache but no KDC for the service ticket: krb5.conf (given with --krb5-config)
    points the realm at a closed port."""
    conf = tmp_path / "krb5.conf"
    text = realm.dc.krb5_conf.read_text()
    conf.write_text(text.replace(f"kdc = {realm.dc.ip}", f"kdc = 127.0.0.1:{closed_port()}"))
    assert conf.read_text() != text
    sims = sims_for(realm)[:1]
    with kerberos_lab(realm, sims) as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims, defaults={"transport": "http"})
        doc = collect(capsys, inventory, tmp_path / "snap.json", "--auth", "kerberos", "--krb5-config", str(conf))
    err = connection_error(doc, sims[0].name)
    assert err["kind"] == "authentication"
    assert err["message"].startswith(
        f"no Kerberos KDC answered while authenticating to {sims[0].name} (127.0.0.1:"
    ), err
    assert f"Cannot contact any KDC for realm '{realm.dc.realm}'" in err["message"]
    assert f"kdc lines in {conf}" in err["message"] and "TCP and UDP 88" in err["message"]


# -- one Kerberos set-up for WinRM and LDAP ----------------------------------------------------


def test_krb5_options_serve_winrm_and_ldap_alike(
    realm: Realm, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No KRB5_* in the environment: --krb5-config and --krb5-ccache alone give both the WinRM probes
    and the LDAP GSSAPI bind their realm and ticket (a runner not joined to the domain)."""
    monkeypatch.delenv("KRB5_CONFIG", raising=False)
    monkeypatch.delenv("KRB5CCNAME", raising=False)
    monkeypatch.delenv("HVLM_PASSWORD", raising=False)
    ccache = realm.kinit(tmp_path / "ccache")  # kinit gets the lab krb5.conf in its own environment only
    dc = realm.dc
    sims = sims_for(realm)[:2]
    dc.restart(require_strong_auth=False)  # as Windows DCs accept GSSAPI inside TLS
    try:
        with kerberos_lab(realm, sims) as lab:
            inventory = write_inventory(tmp_path / "fleet.toml", lab, sims, defaults={"transport": "http"})
            common = ["-i", str(inventory), "-q", "--auth", "kerberos", "--krb5-config", str(dc.krb5_conf),
                      "--dns-server", dc.ip, "--ldap-auth", "gssapi", "--ldap-ca", str(dc.ca_cert)]
            run = run_cli(capsys, "collect", *common, "--krb5-ccache", f"FILE:{ccache}", "-o", str(tmp_path / "s.json"))
            assert run.code in (0, 3), run.err
            doc = Snapshot.load(tmp_path / "s.json").doc
            empty = f"FILE:{tmp_path / 'empty'}"
            run = run_cli(capsys, "collect", *common, "--krb5-ccache", empty, "-o", str(tmp_path / "none.json"))
            none = Snapshot.load(tmp_path / "none.json").doc
    finally:
        dc.restart(require_strong_auth=True)
    for sim in sims:
        assert_facts_equal_model(doc["hosts"][sim.name], sim)
    computers = {c["sAMAccountName"]: c for c in doc["domains"][dc.dns_domain]["computers"]["value"]}
    for name in NAMES[:2]:
        assert set(computers[f"{name}$"]["servicePrincipalName"]) == set(winrm_spns(name, realm.hosts.fqdns[name]))
    # Without a ticket, both sides say the same thing, each naming what it tried to reach.
    assert connection_error(none, sims[0].name)["message"].startswith("no Kerberos ticket to authenticate to ")
    ldap = none["domains"][dc.dns_domain]["info"]["error"]
    assert ldap["kind"] == "bind_refused" and ldap["message"].startswith(
        f"no Kerberos ticket to authenticate to {dc.fqdn} "), ldap
    assert str(tmp_path / "empty") in ldap["message"]
