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
import ipaddress
import os
import ssl
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_SANS: tuple[x509.GeneralName, ...] = (
    x509.DNSName("localhost"),
    x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
)


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


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hvlm test lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def make_identity(directory: str, label: str) -> ServerIdentity:
    """Create a CA and a server certificate it signs (SANs localhost and 127.0.0.1) in ``directory``.

    ``label`` only names the files and subjects, so a trusted and an untrusted identity can live
    side by side.
    """
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"hvlm lab CA ({label})")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(list(_SANS)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    ca_path = os.path.join(directory, f"{label}-ca.pem")
    cert_path = os.path.join(directory, f"{label}-server.pem")
    key_path = os.path.join(directory, f"{label}-server.key")
    _write(ca_path, ca_cert.public_bytes(serialization.Encoding.PEM))
    # The chain file carries the leaf only: the client must already trust the CA, as with WinRM.
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    _write(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return ServerIdentity(
        ca_cert_path=ca_path,
        cert_path=cert_path,
        key_path=key_path,
        cert_der=cert.public_bytes(serialization.Encoding.DER),
    )
