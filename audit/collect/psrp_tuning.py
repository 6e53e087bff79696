"""What one probe costs the collector in CPU, cut where pypsrp lets us, with the same security.

Profiled over HTTPS + Basic and HTTP + NTLM with message encryption (benchmarks/bench_scan.py),
a probe cost the client 35-47 ms of CPU, most of it work that is the same for every host:

- a new TLS context per connection, which parses the CA bundle again (0.5 ms for one CA; some
  45 ms here for certifi's 120, what `cert_validation=True` loads): one context per CA bundle is
  shared by every host instead, built by urllib3 exactly as it builds its own (certificate and
  host name checked; the bundle re-read when its file changes);
- the PSRP messages that are the same for every host (SESSION_CAPABILITY, INIT_RUNSPACEPOOL, and
  CREATE_PIPELINE with the 27 KB probe script, whose every line break pypsrp escapes through a
  Python callback): serialized once per content, the content compared in full each time;
- the messages a host sends that are the same from every host alike (its capabilities, its
  PowerShell's private data, the pool's and the pipeline's state): deserialized once per exact
  text received, since pypsrp only reads them;
- requests looking up proxy settings in the environment before every request, although pypsrp
  was told to use no proxy (`no_proxy=True` already overrides whatever it finds).
- NTLM deriving the password's LM and NT hashes for every connection (the LM hash is DES in pure
  Python): derived once per password and handed to pyspnego as "LM:NT" (`ntlm_password`).

Each step checks that pypsrp and requests still have the shape it relies on and otherwise leaves
them as they are: slower, never less safe. With the compiled section validators (audit.collect.probe)
this about halves the client's CPU per probe over HTTPS (36-48 ms to 15-23 ms on the development
machine, depending on its load); over HTTP with NTLM it falls by about half (52 ms to 25-35 ms in
benchmarks/bench_scan.py), the rest being mostly requests, urllib3 and http.client, about 1 ms per
request, of which NTLM over HTTP sends eight per probe (three to authenticate).
"""

from __future__ import annotations

import functools
import os
import pickle
import ssl
import threading
import xml.etree.ElementTree as ET
from typing import Any

import requests
import spnego
from pypsrp.complex_objects import ObjectMeta
from pypsrp.messages import (
    ApplicationPrivateData,
    CreatePipeline,
    InitRunspacePool,
    PipelineState,
    RunspacePoolStateMessage,
    SessionCapability,
)
from pypsrp.powershell import RunspacePool
from pypsrp.serializer import Serializer
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.util.ssl_ import create_urllib3_context

from hvlm.audit.collect.credentials import Secret

__all__ = ["ProbeSerializer", "ntlm_password", "shared_tls_context", "tune_pool", "tune_session"]

_LONG_STRING = 4096  # only strings this long are worth remembering: the probe script


@functools.lru_cache(maxsize=4)
def _escaped(value: str) -> str | None:
    result: str | None = Serializer()._serialize_string(value)
    return result


def _content(value: Any) -> bytes | None:
    """Everything pypsrp's serializer can read from a message object, as bytes (pickled: written,
    never read back); None when it cannot be pickled."""
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return None


# Messages whose XML depends on their content only (no per-host value, no reference to an earlier
# message): RefIds restart at 0 in every top-level message.
_SAME_FOR_EVERY_HOST = (SessionCapability, InitRunspacePool, CreatePipeline)
_MESSAGES: dict[bytes, ET.Element] = {}
_MESSAGES_LOCK = threading.Lock()
_MAX_MESSAGES = 32


# Messages a host sends that are byte for byte the same on hosts alike (its capabilities, its
# PowerShell's private data, a state change), and that pypsrp only reads once deserialized.
_SAME_FROM_HOSTS_ALIKE = (SessionCapability, ApplicationPrivateData, RunspacePoolStateMessage, PipelineState)
_RECEIVED: dict[tuple[type, str], Any] = {}


class ProbeSerializer(Serializer):
    """pypsrp's serializer, remembering the messages every host is sent and long strings."""

    def deserialize(self, element: Any, metadata: Any = None, clear: bool = True) -> Any:
        kind = getattr(metadata, "object", None)
        if clear and isinstance(element, str) and type(metadata) is ObjectMeta and kind in _SAME_FROM_HOSTS_ALIKE:
            key = (kind, element)
            with _MESSAGES_LOCK:
                cached = _RECEIVED.get(key)
            if cached is None:
                cached = super().deserialize(element, metadata, clear)
                with _MESSAGES_LOCK:
                    if len(_RECEIVED) >= _MAX_MESSAGES:
                        _RECEIVED.clear()
                    _RECEIVED[key] = cached
            return cached
        return super().deserialize(element, metadata, clear)

    def serialize(self, value: Any, metadata: Any = None, parent: Any = None, clear: bool = True) -> Any:
        if parent is None and metadata is None and clear and type(value) in _SAME_FOR_EVERY_HOST:
            key = _content(value)
            if key is None:
                return super().serialize(value, metadata, parent, clear)
            with _MESSAGES_LOCK:
                element: Any = _MESSAGES.get(key)
            if element is None:
                element = super().serialize(value, metadata, parent, clear)
                with _MESSAGES_LOCK:
                    if len(_MESSAGES) >= _MAX_MESSAGES:
                        _MESSAGES.clear()
                    _MESSAGES[key] = element
            return element  # pypsrp only writes it out (ElementTree.tostring), never changes it
        return super().serialize(value, metadata, parent, clear)

    def _serialize_string(self, value: str | None) -> str | None:
        if value is not None and len(value) >= _LONG_STRING:
            return _escaped(value)
        result: str | None = super()._serialize_string(value)
        return result


def tune_pool(pool: RunspacePool) -> bool:
    """Give a runspace pool the remembering serializer before it sends anything; False if pypsrp's
    pool no longer has the attributes this relies on (then it keeps its own)."""
    fragmenter = getattr(pool, "_fragmenter", None)
    if not isinstance(getattr(pool, "_serializer", None), Serializer) or fragmenter is None:
        return False
    if not isinstance(getattr(fragmenter, "serializer", None), Serializer):
        return False
    serializer = ProbeSerializer()
    pool._serializer = serializer
    fragmenter.serializer = serializer
    return True


_CONTEXTS: dict[tuple[str, int, int, int], ssl.SSLContext] = {}
_CONTEXTS_LOCK = threading.Lock()


def shared_tls_context(verify: str) -> ssl.SSLContext:
    """One verifying TLS client context per CA bundle (a PEM file or a directory of hashed CAs).

    Keyed by the file's identity and modification time, so a bundle replaced between two scans of
    one process is read again."""
    st = os.stat(verify)
    key = (os.path.abspath(verify), st.st_ino, st.st_mtime_ns, st.st_size)
    with _CONTEXTS_LOCK:
        context = _CONTEXTS.get(key)
        if context is None:
            context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
            if os.path.isdir(verify):
                context.load_verify_locations(capath=verify)
            else:
                context.load_verify_locations(cafile=verify)
            _CONTEXTS[key] = context
        return context


def _share_tls_context(session: requests.Session) -> bool:
    verify = session.verify
    if verify is False or verify is None:
        return False  # validation off (said loudly elsewhere): nothing to share, nothing to check
    bundle = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
    if not isinstance(bundle, str) or not os.path.exists(bundle):
        return False  # requests itself will refuse to connect, with its own message
    adapter = session.get_adapter("https://")
    poolmanager = getattr(adapter, "poolmanager", None)
    pool_kw = getattr(poolmanager, "connection_pool_kw", None)
    if not isinstance(pool_kw, dict) or not hasattr(adapter, "cert_verify"):
        return False
    context = shared_tls_context(bundle)
    check = adapter.cert_verify

    def cert_verify(conn: Any, url: str, verify: Any, cert: Any) -> None:
        check(conn, url, verify, cert)  # requests' own checks; sets CERT_REQUIRED and the bundle
        if getattr(conn, "cert_reqs", None) == "CERT_REQUIRED":
            # The shared context already trusts this bundle: do not parse it again per connection.
            conn.ca_certs = None
            conn.ca_cert_dir = None

    pool_kw["ssl_context"] = context
    adapter.cert_verify = cert_verify
    return True


def tune_session(transport: Any) -> requests.Session | None:
    """Build pypsrp's requests session now, tuned; None if the transport is not the one expected.

    pypsrp builds the session on its first request; built here, the same way, it can be tuned
    before any traffic."""
    build = getattr(transport, "_build_session", None)
    if build is None or getattr(transport, "session", "missing") is not None:
        return None
    session = build()
    if not isinstance(session, requests.Session):
        return None
    if getattr(transport, "no_proxy", False) and getattr(transport, "proxy", None) is None:
        # pypsrp pinned "no proxy" in session.proxies; the environment can change nothing more
        # (the CA bundle from REQUESTS_CA_BUNDLE was read when the session was built).
        session.trust_env = False
    if getattr(transport, "ssl", False):
        _share_tls_context(session)
    transport.session = session
    return session


@functools.lru_cache(maxsize=1)
def _ntlm_hashes() -> Any:
    """pyspnego's own LMOWFv1 and NTOWFv1, when pyspnego answers NTLM itself (its NTLMProxy: the
    only one that takes a password as its hashes); None otherwise (GSSAPI's NTLM, a changed
    pyspnego), and the password is passed as it is."""
    try:
        from spnego._gss import GSSAPIProxy
        from spnego._ntlm_raw.crypto import is_ntlm_hash, lmowfv1, ntowfv1
    except ImportError:
        return None
    if "ntlm" in GSSAPIProxy.available_protocols() or not hasattr(spnego, "NTLMHash"):
        return None

    def hashes(password: str) -> str:
        if is_ntlm_hash(password):
            return password  # pyspnego already reads this password as "LM:NT" hashes
        return f"{lmowfv1(password).hex()}:{ntowfv1(password).hex()}"

    return hashes


def ntlm_password(password: Secret) -> str:
    """The password to give pypsrp for NTLM: its LM and NT hashes as "LM:NT" hex, which pyspnego
    takes in place of the password (spnego.NTLMHash), derived once per Secret instead of once per
    connection (the LM hash is DES in pure Python: some 1.5 ms). The same bytes go on the wire:
    NTLM only ever uses the password through these two hashes. Only for auth "ntlm": Negotiate
    may use Kerberos, which needs the password itself."""
    hashes = _ntlm_hashes()
    if hashes is None:
        return password.reveal()
    return password.derived("ntlm", hashes)
