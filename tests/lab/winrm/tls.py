"""Throw-away PKI for the WinRM lab's HTTPS listeners.

A WinRM HTTPS listener on Windows presents a certificate the client must validate. The lab makes
its own CA so tests can validate for real (``cert_validation=<ca pem path>``) instead of turning
validation off, and a second, unrelated CA whose certificate the client does not trust, so the
"untrusted certificate" failure is the genuine TLS failure and not a simulation.

EC P-256 keys keep generation at a few milliseconds; the server certificate is signed with
SHA-256, which is also what pypsrp's channel binding (RFC 5929 tls-server-end-point) hashes with.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import ssl
from dataclasses import dataclass

from tests.lab.pki import issue_chain, write_private


@dataclass(frozen=True)
class ServerIdentity:
    """A server certificate chain on disk, and what a client needs to trust it."""

    ca_cert_path: str
    cert_path: str
    key_path: str
    cert_der: bytes

    def server_context(self) -> ssl.SSLContext:
        """TLS context for the listening side (TLS 1.2+, like a current Windows Server)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert_path, self.key_path)
        return ctx

    def channel_binding_data(self) -> bytes:
        """RFC 5929 ``tls-server-end-point`` application data for NTLM channel binding.

        The hash is SHA-256 because the certificate is signed with SHA-256 (the RFC says: use the
        signature's hash unless it is MD5/SHA-1). This is what Windows checks with
        CbtHardeningLevel and what pypsrp sends.
        """
        return b"tls-server-end-point:" + hashlib.sha256(self.cert_der).digest()


def make_identity(directory: str, label: str) -> ServerIdentity:
    """Create a CA and a server certificate it signs (SANs localhost and 127.0.0.1) in ``directory``.

    ``label`` only names the files and subjects, so a trusted and an untrusted identity can live
    side by side.
    """
    chain = issue_chain(
        ca_label=f"hvlm lab CA ({label})",
        common_name="localhost",
        dns_names=["localhost"],
        ips=["127.0.0.1"],
        valid_for=datetime.timedelta(days=2),
    )
    ca_path = os.path.join(directory, f"{label}-ca.pem")
    cert_path = os.path.join(directory, f"{label}-server.pem")
    key_path = os.path.join(directory, f"{label}-server.key")
    write_private(ca_path, chain.ca_pem)
    # The chain file carries the leaf only: the client must already trust the CA, as with WinRM.
    write_private(cert_path, chain.cert_pem)
    write_private(key_path, chain.key_pem)
    return ServerIdentity(
        ca_cert_path=ca_path,
        cert_path=cert_path,
        key_path=key_path,
        cert_der=chain.cert_der,
    )
