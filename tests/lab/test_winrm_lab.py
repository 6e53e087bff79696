"""The WinRM lab against the real, unmodified pypsrp client: every transport, auth and fault.

Each test asserts what pypsrp raises (or returns) for one behaviour of a simulated host, so the
table in docs/test-lab.md section 2 is checked on every run rather than remembered.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from pypsrp.client import Client
from pypsrp.exceptions import (
    AuthenticationError,
    InvalidPSRPOperation,
    WinRMError,
    WinRMTransportError,
    WSManFaultError,
)
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from .winrm import Fault, HostSpec, PipelineResult, WinRMLab, closed_port

pytestmark = pytest.mark.lab

USER, PASSWORD = "LAB\\auditor", "C0rrect-Horse!"
USERS = {USER: PASSWORD}


class Recorder:
    """A responder that remembers what it was asked and answers with one JSON string."""

    def __init__(self, answer: str = '{"ok": true}') -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict[str, object]]] = []
        self._lock = threading.Lock()

    def __call__(self, script: str, params: Mapping[str, object]) -> PipelineResult:
        with self._lock:
            self.calls.append((script, dict(params)))
        return PipelineResult(output=[self.answer])


def probe(lab: WinRMLab, host: str, *, script: str = "Get-HvlmFacts", **overrides: Any) -> PowerShell:
    """One probe as hvlm runs it: open a pool, run one script, close the pool."""
    kwargs = {**lab.client_kwargs(host, USER, PASSWORD), **overrides}
    with WSMan(**kwargs) as wsman, RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_script(script)
        ps.invoke()
    return ps


@pytest.fixture(autouse=True)
def no_leaked_lab_threads() -> Any:
    """A stopped lab leaves no acceptor or connection thread behind (hung requests included).

    A connection thread whose socket stop() shut down may need a moment to return on a loaded machine
    (CI seen: one thread still finishing at teardown): it gets 10 s to end, then it counts as leaked."""
    yield
    deadline = time.monotonic() + 10
    leaked = [t for t in threading.enumerate() if t.name.startswith("winrm-")]
    for t in leaked:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    assert [t.name for t in leaked if t.is_alive()] == []


FAST_FAIL: dict[str, Any] = {
    "read_timeout": 1,
    "operation_timeout": 1,
    "connection_timeout": 2,
    "reconnection_backoff": 0,
}


# -- transports and authentication -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("scheme", "auth"), [("http", "basic"), ("http", "ntlm"), ("https", "basic"), ("https", "ntlm")]
)
def test_round_trip_each_transport_and_auth(scheme: str, auth: str) -> None:
    responder = Recorder('{"host": "hv01", "vms": 3}')
    with WinRMLab([HostSpec("hv01", responder)], scheme=scheme, auth=auth, users=USERS) as lab:  # type: ignore[arg-type]
        with WSMan(**lab.client_kwargs("hv01", USER, PASSWORD)) as wsman, RunspacePool(wsman) as pool:
            assert pool.is_alive()
            ps = PowerShell(pool)
            ps.add_script("param($Depth) Get-HvlmFacts -Depth $Depth").add_parameter("Depth", 2)
            output = ps.invoke()
            assert output == ['{"host": "hv01", "vms": 3}']
            assert not ps.had_errors and not ps.streams.error
        assert responder.calls == [("param($Depth) Get-HvlmFacts -Depth $Depth", {"Depth": 2})]
        assert lab.requests_seen("hv01") == ["Create", "Receive", "Get", "Command", "Receive", "Delete"]
        assert lab.open_shells("hv01") == 0
        port = lab.port("hv01")
    with pytest.raises(ConnectionRefusedError):  # the listener is gone with the lab
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_ntlm_over_http_is_message_encrypted() -> None:
    """pypsrp's defaults (negotiate -> NTLM, encryption auto) over HTTP must seal every body."""
    with WinRMLab([HostSpec("hv01", Recorder())], scheme="http", auth="ntlm", users=USERS) as lab:
        kwargs = lab.client_kwargs("hv01", USER, PASSWORD)
        assert "encryption" not in kwargs and kwargs["auth"] == "negotiate"
        wsman = WSMan(**kwargs)
        with wsman, RunspacePool(wsman) as pool:
            PowerShell(pool).add_script("1").invoke()
            assert wsman.transport.encryption is not None  # the client wrapped its messages


def test_execute_ps_and_cmdlet_shapes() -> None:
    responder = Recorder("line one\nline two")
    with WinRMLab([HostSpec("hv01", responder)], scheme="http", auth="basic", users=USERS) as lab:
        client = Client(**lab.client_kwargs("hv01", USER, PASSWORD))
        output, streams, had_errors = client.execute_ps("Get-VMHost | ConvertTo-Json")
        # execute_ps pipes into Out-String -Stream and joins the lines with "\n".
        assert (output, had_errors, streams.error) == ("line one\nline two", False, [])
        with WSMan(**lab.client_kwargs("hv01", USER, PASSWORD)) as wsman, RunspacePool(wsman) as pool:
            ps = PowerShell(pool)
            ps.add_cmdlet("Get-VM").add_parameter("Name", "vm1").add_argument("positional")
            ps.invoke()
    assert responder.calls == [
        ("Get-VMHost | ConvertTo-Json", {}),
        ("Get-VM", {"Name": "vm1", "1": "positional"}),
    ]


def test_large_script_arrives_through_send() -> None:
    """Past one envelope, CREATE_PIPELINE continues in Send requests; the responder sees it whole."""
    responder = Recorder()
    script = "# " + "x" * 700_000
    with WinRMLab([HostSpec("hv01", responder)], scheme="http", auth="ntlm", users=USERS) as lab:
        probe(lab, "hv01", script=script)
        assert "Send" in lab.requests_seen("hv01")
    assert responder.calls[0][0] == script


def test_two_mb_non_ascii_output_round_trips_exactly() -> None:
    text = ('Hyper-V é日本語ß€ żółć {"k": [1, 2]}\r\n' * 60_000)[:1_999_000] + "🙂\u2028\x07\t<&>]]>" * 100
    assert len(text.encode("utf-8")) > 2_000_000
    with WinRMLab([HostSpec("hv01", Recorder(text))], scheme="http", auth="ntlm", users=USERS) as lab:
        ps = probe(lab, "hv01")
        assert ps.output == [text]
        assert lab.requests_seen("hv01").count("Receive") > 3  # split to fit MaxEnvelopeSize


# -- faults ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("scheme", "auth"), [("http", "basic"), ("http", "ntlm"), ("https", "ntlm")])
def test_wrong_password_is_authentication_error(scheme: str, auth: str) -> None:
    with WinRMLab([HostSpec("hv01", Recorder())], scheme=scheme, auth=auth, users=USERS) as lab:  # type: ignore[arg-type]
        with pytest.raises(AuthenticationError):
            probe(lab, "hv01", password="wrong")
        assert lab.requests_seen("hv01") == []


def test_ntlm_labs_side_by_side_admit_only_their_users() -> None:
    with (
        WinRMLab([HostSpec("a", Recorder())], users={"alice": "pw-a"}) as lab_a,
        WinRMLab([HostSpec("b", Recorder())], users={"bob": "pw-b"}) as lab_b,
    ):
        probe(lab_a, "a", username="alice", password="pw-a")
        probe(lab_b, "b", username="bob", password="pw-b")
        with pytest.raises(AuthenticationError):
            probe(lab_a, "a", username="bob", password="pw-b")


def test_access_denied_is_wsman_fault_code_5() -> None:
    with WinRMLab([HostSpec("hv01", Recorder(), Fault.ACCESS_DENIED)], users=USERS) as lab:
        with pytest.raises(WSManFaultError) as info:
            probe(lab, "hv01")
        assert info.value.code == 5
        assert "Access is denied" in (info.value.reason or "")


def test_http_503_without_body_is_transport_error() -> None:
    with WinRMLab([HostSpec("hv01", Recorder(), Fault.SERVICE_UNAVAILABLE)], users=USERS) as lab:
        with pytest.raises(WinRMTransportError) as info:
            probe(lab, "hv01")
        assert info.value.code == 503


def test_broken_pool_is_invalid_psrp_operation() -> None:
    with WinRMLab([HostSpec("hv01", Recorder(), Fault.BROKEN_POOL)], users=USERS) as lab:
        with pytest.raises(InvalidPSRPOperation, match="broken"):
            probe(lab, "hv01")
        assert lab.open_shells("hv01") == 1  # pypsrp sends no Delete for a Broken pool


def test_write_error_is_non_terminating() -> None:
    def responder(script: str, params: Mapping[str, object]) -> PipelineResult:
        return PipelineResult(output=['{"partial": true}'], errors=["Cannot find VM 'vm9'."])

    with WinRMLab([HostSpec("hv01", responder)], users=USERS) as lab:
        ps = probe(lab, "hv01")
    assert ps.output == ['{"partial": true}']
    assert ps.had_errors is False
    assert [str(e) for e in ps.streams.error] == ["Cannot find VM 'vm9'."]
    assert ps.streams.error[0].fq_error == "Microsoft.PowerShell.Commands.WriteErrorException"


def test_throw_is_terminating() -> None:
    def responder(script: str, params: Mapping[str, object]) -> PipelineResult:
        return PipelineResult(terminating_error="Hyper-V module not installed")

    with WinRMLab([HostSpec("hv01", responder)], users=USERS) as lab:
        ps = probe(lab, "hv01")
    assert ps.had_errors is True
    assert ps.output == []
    assert [str(e) for e in ps.streams.error] == ["Hyper-V module not installed"]


def test_hang_on_create_is_read_timeout() -> None:
    with WinRMLab([HostSpec("hv01", Recorder(), Fault.HANG_ON_CREATE)], users=USERS) as lab:
        started = time.monotonic()
        with pytest.raises(requests.exceptions.ReadTimeout):
            probe(lab, "hv01", **FAST_FAIL)
        assert time.monotonic() - started < 3


def test_hang_on_receive_is_read_timeout_after_retries() -> None:
    with WinRMLab(
        [HostSpec("hv01", Recorder(), Fault.HANG_ON_RECEIVE)], scheme="http", auth="basic", users=USERS
    ) as lab:
        with pytest.raises(requests.exceptions.ReadTimeout):
            probe(lab, "hv01", **{**FAST_FAIL, "read_timeout": 0.4})
        # pypsrp retries a timed-out Receive 5 times before giving up.
        assert lab.requests_seen("hv01").count("Receive") == 1 + 6


def test_slow_host_answers_after_latency_and_operation_timeouts() -> None:
    """A pipeline slower than OperationTimeout: Receive faults with 0x80338029 and pypsrp polls again."""
    with WinRMLab([HostSpec("hv01", Recorder("late"), latency=1.5)], users=USERS) as lab:
        started = time.monotonic()
        ps = probe(lab, "hv01", operation_timeout=1)
        assert ps.output == ["late"]
        assert 1.5 <= time.monotonic() - started < 3
        assert lab.requests_seen("hv01").count("Receive") >= 3


def test_stop_and_close_send_signals() -> None:
    """PowerShell.stop() sends the PSRP ctrl_c signal, close() the WS-Man Terminate signal."""
    with WinRMLab([HostSpec("slow", Recorder(), latency=5), HostSpec("fast", Recorder())], users=USERS) as lab:
        for host in ("slow", "fast"):
            with WSMan(**lab.client_kwargs(host, USER, PASSWORD)) as wsman, RunspacePool(wsman) as pool:
                ps = PowerShell(pool)
                ps.add_script("Start-Sleep 60")
                if host == "slow":
                    ps.begin_invoke()
                    ps.stop()
                else:
                    ps.invoke()
                    ps.close()
            assert lab.requests_seen(host)[-2:] == ["Signal", "Delete"]
            assert lab.open_shells(host) == 0


def test_refused_port_is_connection_error() -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        Client(
            "127.0.0.1",
            port=closed_port(),
            username=USER,
            password=PASSWORD,
            ssl=False,
            auth="basic",
            encryption="never",
            **FAST_FAIL,
        ).execute_ps("1")


def test_connection_reset_is_connection_error() -> None:
    with (
        WinRMLab([HostSpec("hv01", Recorder(), Fault.CONNECTION_RESET)], users=USERS) as lab,
        pytest.raises(requests.exceptions.ConnectionError),
    ):
        probe(lab, "hv01", **FAST_FAIL)


def test_untrusted_certificate_is_ssl_error() -> None:
    hosts = [HostSpec("rogue", Recorder(), Fault.UNTRUSTED_CERT)]
    with WinRMLab(hosts, scheme="https", auth="basic", users=USERS) as lab:
        with pytest.raises(requests.exceptions.SSLError):
            probe(lab, "rogue", **FAST_FAIL)
        with pytest.raises(requests.exceptions.SSLError):  # the system store does not know it either
            probe(lab, "rogue", cert_validation=True, **FAST_FAIL)
        # Same host, its real issuer trusted: the failure was the certificate and nothing else.
        assert probe(lab, "rogue", cert_validation=lab.untrusted_ca_cert_path).output == ['{"ok": true}']


def test_basic_with_auto_encryption_over_http_fails_before_traffic() -> None:
    with WinRMLab([HostSpec("hv01", Recorder())], scheme="http", auth="basic", users=USERS) as lab:
        with pytest.raises(ValueError, match="encryption"):
            probe(lab, "hv01", encryption="auto")
        assert lab.requests_seen("hv01") == []


def test_every_failure_is_a_winrm_or_requests_error() -> None:
    assert issubclass(WSManFaultError, WinRMError) and issubclass(AuthenticationError, WinRMError)
    assert issubclass(requests.exceptions.SSLError, requests.RequestException)


# -- many hosts -----------------------------------------------------------------------------------
def test_twenty_hosts_served_concurrently() -> None:
    hosts = [HostSpec(f"hv{i:02d}", Recorder(f'{{"host": "hv{i:02d}"}}'), latency=0.3) for i in range(20)]
    with WinRMLab(hosts, scheme="http", auth="ntlm", users=USERS) as lab:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=20) as pool:
            outputs = dict(zip([h.name for h in hosts], pool.map(lambda h: probe(lab, h.name).output, hosts)))
        elapsed = time.monotonic() - started
    assert outputs == {h.name: [f'{{"host": "{h.name}"}}'] for h in hosts}
    assert elapsed < 3.0  # sequential would be over 6 s; ideal is 0.3 s plus ~30 ms CPU per probe
