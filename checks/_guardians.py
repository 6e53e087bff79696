"""Reading the host guardian facts (hgs_client, hgs_guardians, vm_key_protectors) one way for the
vTPM check and its class keys."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_THUMBPRINT = re.compile(r"[0-9A-F]{40}")
HGS_MODE = "HostGuardianService"


def thumbprint(value: Any) -> str | None:
    """A SHA-1 thumbprint in upper case, or None for anything that is not one (never pasted otherwise)."""
    text = str(value or "").strip().upper()
    return text if _THUMBPRINT.fullmatch(text) else None


def named_guardians(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The owner and the granted guardians of a key protector row, owner first."""
    owner = row.get("Owner")
    return [g for g in [owner, *(row.get("Guardians") or [])] if isinstance(g, Mapping)]  # type: ignore[misc]


def protector_thumbprints(row: Mapping[str, Any]) -> frozenset[str]:
    """The encryption certificate thumbprints a key protector can be unwrapped with."""
    found = (thumbprint(g.get("EncryptionCertificateThumbprint")) for g in named_guardians(row))
    return frozenset(t for t in found if t)


def usable_certificates(guardians: Mapping[str, Any] | None) -> tuple[frozenset[str], frozenset[str]]:
    """(thumbprints whose private key is on the host, every thumbprint) of its local guardian certificates."""
    certs = (guardians or {}).get("LocalCertificates") or []
    every = frozenset(t for t in (thumbprint(c.get("Thumbprint")) for c in certs) if t)
    private = frozenset(t for t in (thumbprint(c.get("Thumbprint")) for c in certs if c.get("HasPrivateKey")) if t)
    return private, every


def kps_url(client: Mapping[str, Any] | None) -> str | None:
    url = str((client or {}).get("KeyProtectionServerUrl") or "").strip().rstrip("/").lower()
    return url or None


def client_state(client: Mapping[str, Any] | None) -> tuple[bool, str | None, bool, str | None] | None:
    """(HGS client installed, mode, guarded, key protection URL), or None without the fact."""
    if client is None:
        return None
    return bool(client.get("Installed")), client.get("Mode"), bool(client.get("IsHostGuarded")), kps_url(client)
