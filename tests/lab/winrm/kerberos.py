"""Kerberos for the WinRM lab: the acceptor's keytab, and which mechanisms a lab accepts.

The acceptor is pyspnego's Negotiate server, which for Kerberos uses MIT GSSAPI through python
``gssapi`` (the ``kerberos`` extra: ``gssapi`` and ``krb5``). GSSAPI acceptors find their keys in
the default keytab, named by ``KRB5_KTNAME``; like ``NTLM_USER_FILE`` for NTLM that is one
variable per process, so :class:`KeytabStore` points it at the keytab of the running Kerberos
labs (one keytab at a time; a second lab with another keytab is refused rather than silently
served with the wrong keys) and restores the previous value after the last one stops.

With no acceptor name, MIT Kerberos accepts a ticket for any principal whose key is in the
keytab: a keytab exported for the simulated hosts' computer accounts accepts
``WSMAN/<host fqdn>`` and ``HTTP/<host fqdn>`` tickets, as a Windows host accepts tickets for any
SPN of its own account. Unlike Windows, one lab port also accepts a ticket issued for another
lab host (their keys share the keytab); tests do not rely on that.
"""

from __future__ import annotations

import os
import threading
from typing import ClassVar

#: Which mechanisms each lab authentication scheme lets through Negotiate.
MECHANISMS: dict[str, frozenset[str]] = {
    "ntlm": frozenset({"ntlm"}),
    "kerberos": frozenset({"kerberos"}),  # NTLM refused: a domain that forbids NTLM to servers
    "negotiate": frozenset({"kerberos", "ntlm"}),
}


def accepts(scheme: str, protocol: str | None) -> bool:
    """Whether a Negotiate lab of ``scheme`` lets a context of ``protocol`` authenticate."""
    return protocol is not None and protocol in MECHANISMS.get(scheme, frozenset())


class KeytabStore:
    """The process-wide ``KRB5_KTNAME`` used by every Kerberos lab running in this process."""

    _lock = threading.Lock()
    _path: ClassVar[str | None] = None
    _refs: ClassVar[int] = 0
    _saved_env: ClassVar[str | None] = None

    @classmethod
    def register(cls, keytab: str) -> None:
        path = os.path.abspath(keytab)
        if not os.path.isfile(path):
            raise ValueError(f"keytab {keytab!r} does not exist")
        with cls._lock:
            if cls._path is not None and cls._path != path:
                raise ValueError(f"another Kerberos lab in this process serves keytab {cls._path!r}")
            if cls._path is None:
                cls._saved_env = os.environ.get("KRB5_KTNAME")
                cls._path = path
                os.environ["KRB5_KTNAME"] = f"FILE:{path}"
            cls._refs += 1

    @classmethod
    def unregister(cls) -> None:
        with cls._lock:
            if cls._refs <= 0:
                return
            cls._refs -= 1
            if cls._refs == 0:
                if cls._saved_env is None:
                    os.environ.pop("KRB5_KTNAME", None)
                else:
                    os.environ["KRB5_KTNAME"] = cls._saved_env
                cls._path = None
                cls._saved_env = None
