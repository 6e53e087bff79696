"""The cheaper probe path (audit/collect/psrp_tuning.py) sends and accepts exactly what pypsrp would.

Shared TLS contexts must still check the certificate and the host name, per CA bundle; remembered
messages must be byte for byte what pypsrp serializes, and never stand in for different content.
"""

from __future__ import annotations

import datetime
import io
import os
import socket
import ssl
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests
from pypsrp.complex_objects import ApartmentState, Command, HostInfo, ObjectMeta, Pipeline, RemoteStreamOptions
from pypsrp.messages import CreatePipeline, Destination, Message, PipelineState
from pypsrp.serializer import Serializer
from pypsrp.wsman import WSMan
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from spnego import NTLMHash, Password
from spnego._ntlm import _NTLMCredential

from hvlm.audit.cli import build_parser
from hvlm.audit.collect import DEFAULT_CONCURRENCY, collect_hosts
from hvlm.audit.collect.credentials import Secret
from hvlm.audit.collect.probe import probe_script
from hvlm.audit.collect.progress import make_progress
from hvlm.audit.collect.psrp import ProbeRun, _wsman, run_probe
from hvlm.audit.collect.psrp_tuning import ProbeSerializer, ntlm_password, shared_tls_context, tune_session
from hvlm.audit.collect.targets import HostTarget
from tests.lab.hostsim import SimHost
from tests.lab.pki import issue_chain, write_private
from tests.lab.winrm import Fault, WinRMLab
from tests.support.fleet import HostModel

from .labkit import PASSWORD, USER


def _pipeline(script: str) -> CreatePipeline:
    """The CREATE_PIPELINE message pypsrp builds for `PowerShell(pool).add_script(script).invoke()`."""
    cmd = Command(cmd=script, is_script=True, use_local_scope=None)
    pipeline = Pipeline(is_nested=False, cmds=[cmd], history="", redirect_err_to_out=False)
    return CreatePipeline(
        no_input=True, apartment_state=ApartmentState(value=ApartmentState.UNKNOWN),
        remote_stream_options=RemoteStreamOptions(value=RemoteStreamOptions.ADD_INVOCATION_INFO),
        add_to_history=False, host_info=HostInfo(), pipeline=pipeline, is_nested=False,
    )


def _packed(message: CreatePipeline, serializer: Serializer) -> bytes:
    rpid, pid = "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"
    data: bytes = Message(Destination.SERVER, rpid, pid, message, serializer).pack()
    return data


# -- messages ----------------------------------------------------------------------------------


def test_remembered_create_pipeline_is_byte_for_byte_what_pypsrp_sends() -> None:
    script = probe_script()
    plain = _packed(_pipeline(script), Serializer())
    first = _packed(_pipeline(script), ProbeSerializer())
    again = _packed(_pipeline(script), ProbeSerializer())  # from the cache this time
    assert first == plain and again == plain
    assert b"_x000A_" in plain  # the script's line breaks, escaped as PSRP wants them


def test_remembered_messages_never_stand_in_for_other_content() -> None:
    script = probe_script()
    _packed(_pipeline(script), ProbeSerializer())
    changed = script.replace("$HvlmProbeVersion", "$HvlmProbeVersionX", 1)
    assert _packed(_pipeline(changed), ProbeSerializer()) == _packed(_pipeline(changed), Serializer())
    # A string that merely looks escaped must be escaped again (PSRP's _x rule), cached or not.
    tricky = script + "\n# _x000A_ and _X0041_ are text here\n"
    assert _packed(_pipeline(tricky), ProbeSerializer()) == _packed(_pipeline(tricky), Serializer())
    assert b"_x005F_x000A_" in _packed(_pipeline(tricky), ProbeSerializer())


def _pipeline_state_xml(state: int) -> str:
    message = PipelineState(state=state)
    element = Serializer().serialize(message)
    return ET.tostring(element, encoding="utf-8").decode()


def test_remembered_received_messages_follow_their_content() -> None:
    completed, failed = _pipeline_state_xml(4), _pipeline_state_xml(3)
    ours = ProbeSerializer()

    def read(xml: str) -> int:
        state: int = ours.deserialize(xml, ObjectMeta("Obj", object=PipelineState)).state
        return state

    assert [read(completed), read(failed), read(completed), read(failed)] == [4, 3, 4, 3]
    assert read(completed) == Serializer().deserialize(completed, ObjectMeta("Obj", object=PipelineState)).state


# -- TLS -----------------------------------------------------------------------------------------


def _target(lab: WinRMLab, name: str, ca_bundle: str | None, verify: bool = True) -> HostTarget:
    return HostTarget(name, lab.address, lab.port(name), "https", "basic", USER, ca_bundle, verify, 30.0, 5.0)


def test_shared_tls_context_trusts_only_its_own_bundle() -> None:
    good = SimHost(HostModel("HV01", index=1, build=20348))
    other = SimHost(HostModel("HV02", index=2, build=20348), fault=Fault.UNTRUSTED_CERT)
    with WinRMLab([good.spec(), other.spec()], scheme="https", auth="basic", users={USER: PASSWORD}) as lab:
        secret, script = Secret(PASSWORD), probe_script()
        run = run_probe(_target(lab, good.name, lab.ca_cert_path), secret, script)
        assert isinstance(run, ProbeRun) and run.document.fqdn == good.model.fqdn
        # The context now shared for the lab CA does not make the other CA's host trusted...
        with pytest.raises(requests.exceptions.SSLError, match="certificate verify failed"):
            run_probe(_target(lab, other.name, lab.ca_cert_path), secret, script)
        # ...nor the lab CA's host trusted through the other CA's bundle, in the same process.
        with pytest.raises(requests.exceptions.SSLError, match="certificate verify failed"):
            run_probe(_target(lab, good.name, lab.untrusted_ca_cert_path), secret, script)
        assert run_probe(_target(lab, other.name, lab.untrusted_ca_cert_path), secret, script).document.fqdn
        # --no-verify-tls still connects (no shared context: there is nothing to check with).
        assert run_probe(_target(lab, other.name, None, verify=False), secret, script).document.fqdn


def _serve_tls_once(context: ssl.SSLContext) -> tuple[int, threading.Thread]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port: int = listener.getsockname()[1]

    def serve() -> None:
        with listener:
            listener.settimeout(10)
            conn, _ = listener.accept()
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass  # the client refuses the handshake: that is the point

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return port, thread


def test_shared_tls_context_still_checks_the_host_name(tmp_path: Path) -> None:
    chain = issue_chain(ca_label="hvlm test other CA", common_name="other.example", dns_names=["other.example"],
                        ips=[], valid_for=datetime.timedelta(days=1))
    ca, cert, key = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    for path, data in ((ca, chain.ca_pem), (cert, chain.cert_pem), (key, chain.key_pem)):
        write_private(str(path), data)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(str(cert), str(key))
    port, thread = _serve_tls_once(server)
    target = HostTarget("hv-other", "127.0.0.1", port, "https", "basic", USER, str(ca), True, 10.0, 5.0)
    with pytest.raises(requests.exceptions.SSLError, match=r"IP address mismatch, certificate is not valid for '127\.0\.0\.1'"):
        run_probe(target, Secret(PASSWORD), probe_script())
    thread.join(10)


def test_a_replaced_bundle_is_read_again(tmp_path: Path) -> None:
    a = issue_chain(ca_label="A", common_name="a", dns_names=["a"], ips=[], valid_for=datetime.timedelta(days=1))
    b = issue_chain(ca_label="B", common_name="b", dns_names=["b"], ips=[], valid_for=datetime.timedelta(days=1))
    bundle = tmp_path / "bundle.pem"
    write_private(str(bundle), a.ca_pem)
    first = shared_tls_context(str(bundle))
    assert shared_tls_context(str(bundle)) is first
    time.sleep(0.01)
    write_private(str(bundle), a.ca_pem + b.ca_pem)
    os.utime(bundle, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    second = shared_tls_context(str(bundle))
    assert second is not first
    assert len(second.get_ca_certs()) == 2 and len(first.get_ca_certs()) == 1
    assert second.verify_mode == ssl.CERT_REQUIRED and second.check_hostname


def test_tuned_session_is_pypsrps_session_without_the_environment_lookups(monkeypatch: pytest.MonkeyPatch,
                                                                         tmp_path: Path) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    bundle = tmp_path / "ca.pem"
    chain = issue_chain(ca_label="C", common_name="c", dns_names=["c"], ips=[], valid_for=datetime.timedelta(days=1))
    write_private(str(bundle), chain.ca_pem)
    wsman = WSMan("hv.example", port=5986, username="u", password="p", ssl=True, auth="basic",
                  cert_validation=str(bundle), no_proxy=True)
    session = tune_session(wsman.transport)
    assert session is not None and wsman.transport.session is session
    assert session.trust_env is False and session.proxies == {"https": False}
    assert session.verify == str(bundle)
    adapter = session.get_adapter("https://hv.example:5986/wsman")
    assert adapter.poolmanager.connection_pool_kw["ssl_context"] is shared_tls_context(str(bundle))
    assert tune_session(wsman.transport) is None  # built once: never replaced under pypsrp's feet

    insecure = WSMan("hv.example", port=5986, username="u", password="p", ssl=True, auth="basic",
                     cert_validation=False, no_proxy=True)
    session = tune_session(insecure.transport)
    assert session is not None and "ssl_context" not in session.get_adapter("https://x").poolmanager.connection_pool_kw


def test_default_validation_shares_one_context_for_requests_own_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    """No --ca-bundle: requests checks against its bundle (certifi, some 120 CAs), which was parsed
    again for every host; now once."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    contexts = []
    for host in ("hv1.example", "hv2.example"):
        wsman = WSMan(host, port=5986, username="u", password="p", ssl=True, auth="basic",
                      cert_validation=True, no_proxy=True)
        session = tune_session(wsman.transport)
        assert session is not None and session.verify is True
        contexts.append(session.get_adapter("https://x").poolmanager.connection_pool_kw["ssl_context"])
    assert contexts[0] is contexts[1] is shared_tls_context(DEFAULT_CA_BUNDLE_PATH)
    assert len(contexts[0].get_ca_certs()) > 50 and contexts[0].verify_mode == ssl.CERT_REQUIRED


# -- concurrency ---------------------------------------------------------------------------------


def test_default_concurrency_runs_that_many_probes_at_once() -> None:
    args = build_parser().parse_args(["collect", "-i", "fleet.toml", "-o", "snap.json"])
    assert args.concurrency == DEFAULT_CONCURRENCY == 64
    targets = [HostTarget(f"hv{i:03d}", f"hv{i:03d}", 5986, "https", "basic", "u", None, True, 30.0, 5.0)
               for i in range(DEFAULT_CONCURRENCY * 2)]
    everyone_in = threading.Barrier(DEFAULT_CONCURRENCY, timeout=10)  # breaks unless 64 are in flight together
    lock, now, peak = threading.Lock(), [0], [0]

    def probe(target: HostTarget, secret: Secret | None, script: str) -> ProbeRun:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        try:
            if target.name < f"hv{DEFAULT_CONCURRENCY:03d}":
                everyone_in.wait()
            raise ConnectionRefusedError(uuid.uuid4().hex)
        finally:
            with lock:
                now[0] -= 1

    progress = make_progress(io.StringIO(), quiet=True)
    facts, interrupted = collect_hosts(targets, {"u": None}, args.concurrency, progress, probe)
    assert not interrupted and len(facts) == len(targets)
    assert peak[0] == DEFAULT_CONCURRENCY
    assert not everyone_in.broken


# -- NTLM hashes ---------------------------------------------------------------------------------


def _credential(username: str, password: str) -> tuple[bytes, bytes]:
    """The (LM, NT) hashes pyspnego's NTLM authenticates with, from a password or from "LM:NT"."""
    if ":" in password and len(password) == 65:
        lm, nt = password.split(":")
        cred = _NTLMCredential(NTLMHash(username=username, lm_hash=lm, nt_hash=nt))
    else:
        cred = _NTLMCredential(Password(username=username, password=password))
    return cred.lm_hash, cred.nt_hash


def test_ntlm_hashes_are_the_ones_pyspnego_derives_from_the_password() -> None:
    for pw in (PASSWORD, "short", "", "Ünïcödé-pässwörd-longer-than-fourteen"):
        assert _credential(USER, ntlm_password(Secret(pw))) == _credential(USER, pw)
    # A password that is already in the "LM:NT" form is what pyspnego itself reads as hashes.
    as_hashes = "aad3b435b51404eeaad3b435b51404ee:31d6cfe0d16ae931b73c59d7e0c089c0"
    assert ntlm_password(Secret(as_hashes)) == as_hashes


def test_ntlm_hashes_belong_to_their_secret_only() -> None:
    calls: list[str] = []

    def derive(password: str) -> str:
        calls.append(password)
        return password.upper()

    old, new, other = Secret("old-Passw0rd"), Secret("new-Passw0rd"), Secret("other-Passw0rd")
    assert old.derived("x", derive) == "OLD-PASSW0RD" and old.derived("x", derive) == "OLD-PASSW0RD"
    assert calls == ["old-Passw0rd"]  # once per Secret
    # A changed password is a new Secret: it derives its own, never the old one's.
    assert new.derived("x", derive) == "NEW-PASSW0RD" and other.derived("x", derive) == "OTHER-PASSW0RD"
    assert ntlm_password(old) != ntlm_password(new) != ntlm_password(other)
    assert _credential(USER, ntlm_password(new)) == _credential(USER, "new-Passw0rd")
    # Kept out of every printable and serialisable form, as the password is.
    for shown in (repr(new), str(new), f"{new}"):
        assert ntlm_password(new) not in shown and "new-Passw0rd" not in shown
    with pytest.raises(TypeError):
        __import__("pickle").dumps(new)


def test_only_ntlm_gets_the_hashes() -> None:
    secret = Secret(PASSWORD)
    for auth, expected in (("ntlm", ntlm_password(secret)), ("negotiate", PASSWORD), ("basic", PASSWORD),
                           ("kerberos", PASSWORD)):
        transport = "https" if auth == "basic" else "http"  # Basic only ever over TLS
        target = HostTarget("hv01", "hv01", 5986, transport, auth, USER, None, True, 30.0, 5.0)
        assert _wsman(target, secret).transport.password == expected, auth
    assert ntlm_password(secret) != PASSWORD


def test_ntlm_with_remembered_hashes_authenticates_each_user_with_their_own_password() -> None:
    other_user, other_pw = "LAB\\second", "Sec0nd-Lab-Passw0rd"
    sims = [SimHost(HostModel("HV01", index=1, build=20348))]
    with WinRMLab([s.spec() for s in sims], scheme="http", auth="ntlm",
                  users={USER: PASSWORD, other_user: other_pw}) as lab:
        name = sims[0].name

        def probe(user: str, secret: Secret) -> ProbeRun:
            target = HostTarget(name, "127.0.0.1", lab.port(name), "http", "ntlm", user, None, True, 30.0, 5.0)
            return run_probe(target, secret, probe_script())

        mine, theirs, stale = Secret(PASSWORD), Secret(other_pw), Secret("Old-Lab-Passw0rd")
        for _ in range(2):  # the second time from the remembered hashes
            assert probe(USER, mine).document.fqdn == name
            assert probe(other_user, theirs).document.fqdn == name
        # Hashes that were right for one user are refused for the other; a stale password stays refused.
        for user, secret in ((other_user, mine), (USER, theirs), (USER, stale), (USER, stale)):
            with pytest.raises(Exception, match=r"(?i)401|auth|credential"):
                probe(user, secret)
