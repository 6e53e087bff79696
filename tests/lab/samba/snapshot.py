"""Provision a lab DC once per machine and restore it from a tarball for each test session.

A cold ``samba-tool domain provision`` takes about 6 s; untarring the result takes about 0.1 s. The
tarball lives in ``$HVLM_SAMBA_CACHE`` (default /tmp/hvlm-samba-cache) under the realm, named by a
key that covers :data:`SNAPSHOT_VERSION`, the Samba version and every setting that provisioning
bakes into the database. Bump :data:`SNAPSHOT_VERSION` whenever provisioning changes. Strong auth
and DNS forwarder are smb.conf-only and not part of the key: smb.conf is rewritten on restore.

The tar keeps xattrs and POSIX ACLs (sysvol carries its NT ACL in ``user.NTACL``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ._proc import LabError, run
from .config import DCSettings, LabLayout, render_smb_conf
from .ldb import LdbTools
from .tlscert import write_lab_certificates

SNAPSHOT_VERSION = "hvlm-samba-lab-5"
_TAR_FLAGS = ["--xattrs", "--xattrs-include=*", "--acls", "--numeric-owner"]


def cache_root() -> Path:
    """Folder of the per-machine provisioning cache."""
    return Path(os.environ.get("HVLM_SAMBA_CACHE", "/tmp/hvlm-samba-cache"))


def samba_version() -> str:
    """``samba --version`` (part of the cache key: a Samba upgrade re-provisions)."""
    return run(["samba", "--version"]).stdout.strip()


def snapshot_key(settings: DCSettings, version: str) -> str:
    """Hash of what the snapshot's database depends on (the password only as a hash)."""
    material = {
        "snapshot": SNAPSHOT_VERSION,
        "samba": version,
        "realm": settings.realm,
        "domain": settings.netbios_domain,
        "host": settings.host_name,
        "ip": settings.ip,
        "password": hashlib.sha256(settings.admin_password.encode()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Restored:
    """What restoring took: seconds of cold provisioning (None when the cache had it) and of untar."""

    cold_seconds: float | None
    restore_seconds: float


def restore_snapshot(settings: DCSettings, layout: LabLayout) -> Restored:
    """Put a provisioned DC for ``settings`` into the empty ``layout.root``, provisioning it into
    the cache first if needed. Holds a lock file per realm throughout, so concurrent sessions
    neither provision twice nor see a tarball that another one is replacing."""
    folder = cache_root() / settings.realm
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{snapshot_key(settings, samba_version())}.tar"
    cold: float | None = None
    with open(folder / ".lock", "w", encoding="ascii") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            started = time.monotonic()
            _build(settings, folder, path)
            cold = time.monotonic() - started
        started = time.monotonic()
        restore(path, settings, layout)
        return Restored(cold, time.monotonic() - started)


def _build(settings: DCSettings, folder: Path, path: Path) -> None:
    staging = folder / f"staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        provision(settings, LabLayout(staging))
        tmp = path.with_suffix(".tar.tmp")
        run(["tar", *_TAR_FLAGS, "-C", str(staging), "-cf", str(tmp), "."])
        tmp.rename(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for old in folder.glob("*.tar"):  # other keys of this realm are stale: free the space
        if old != path:
            old.unlink(missing_ok=True)


def provision(settings: DCSettings, layout: LabLayout) -> None:
    """Cold-provision a DC into ``layout`` (about 6 s): our smb.conf first (provision keeps it),
    then ``samba-tool domain provision``, no password expiry, the DC's SPNs, the lab certificate,
    lab.json."""
    for path in layout.directories().values():
        path.mkdir(parents=True, exist_ok=True)
    layout.sysvol.mkdir(parents=True, exist_ok=True)
    layout.log_dir.mkdir(parents=True, exist_ok=True)
    layout.smb_conf.write_text(render_smb_conf(settings, layout), encoding="utf-8")
    secrets = [settings.admin_password]
    run(
        [
            "samba-tool", "domain", "provision",
            "-s", str(layout.smb_conf),
            f"--realm={settings.realm}",
            f"--domain={settings.netbios_domain}",
            "--server-role=dc",
            "--dns-backend=SAMBA_INTERNAL",
            f"--host-name={settings.host_name}",
            f"--host-ip={settings.ip}",
            f"--adminpass={settings.admin_password}",
        ],
        secrets=secrets,
    )  # fmt: skip
    # Passwords would expire after 42 days: snapshots and seeded accounts must outlive that.
    run(
        [
            "samba-tool", "domain", "passwordsettings", "set",
            "-s", str(layout.smb_conf), "-H", str(layout.sam_ldb),
            "--max-pwd-age=0", "--min-pwd-age=0",
        ]
    )  # fmt: skip
    # The DC's own SPNs (ldap/dc1.lab.test...) are otherwise added by samba_spnupdate only after
    # the first start, asynchronously: Kerberos to the DC fails ("Server not found in Kerberos
    # database") in the first seconds of every restored DC. It works offline in 0.4 s.
    run(["samba_spnupdate", "-s", str(layout.smb_conf)])
    write_lab_certificates(
        layout.ca_cert,
        layout.cert,
        layout.key,
        common_name=settings.fqdn,
        dns_names=[settings.fqdn, settings.host_name.lower(), settings.dns_domain],
        ips=[settings.ip],
    )
    ldb = LdbTools(layout.smb_conf, layout.sam_ldb)
    found = ldb.search("(objectClass=domain)", ["objectSid"], base=settings.domain_dn, scope="base")
    if not found or "objectSid" not in found[0]:
        raise LabError(f"provisioned {settings.realm} but could not read its domain SID")
    meta = {"domain_sid": found[0]["objectSid"][0], "realm": settings.realm, "snapshot": SNAPSHOT_VERSION}
    layout.meta.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    # Logs of provisioning are not the session's logs.
    for leftover in layout.log_dir.iterdir():
        if leftover.is_file():
            leftover.unlink()


def restore(snapshot: Path, settings: DCSettings, layout: LabLayout) -> None:
    """Unpack ``snapshot`` into an empty ``layout.root`` and write smb.conf for its paths."""
    layout.root.mkdir(parents=True, exist_ok=True)
    if any(layout.root.iterdir()):
        raise LabError(f"lab folder {layout.root} is not empty; refusing to restore a DC over it")
    run(["tar", *_TAR_FLAGS, "-C", str(layout.root), "-xf", str(snapshot)])
    layout.smb_conf.write_text(render_smb_conf(settings, layout), encoding="utf-8")
