"""A real Samba AD domain controller on a loopback address, for tests.

Usage::

    dc = SambaDC(tmp_path / "dc1")           # LAB.TEST / LAB / dc1 / 127.0.0.2
    dc.start()                                # restore the cached snapshot (~0.1 s), start (~1.3 s)
    dc.add_computer("HV01", spns=["Microsoft Virtual System Migration Service/HV01"],
                    allowed_to_delegate_to=["cifs/hv02.lab.test"])
    conn = dc.admin_connection()              # ldap3 over LDAPS, certificate validated
    dc.stop()

Why it is built this way:

- Every Samba directory lives in the lab folder; Samba listens only on ``ip`` (53, 88, 135, 139,
  389, 445, 464, 636, 3268, 3269), so nothing on the machine is touched and the DC can be thrown
  away with the folder.
- The DC runs as ``samba -i -M single``: one process tree instead of ~58 (prefork), and ``-i``
  makes it exit when its stdin (a pipe held by this object) closes, so a killed test session does
  not leave a DC behind.
- When the machine allows it (root), the DC runs in its own mount namespace where
  /run/samba/winbindd (smbd finds winbindd only there) and /etc/resolv.conf (nameserver = the DC)
  are the lab's own. Two DCs (a forest trust) need that; one DC gets a resolver that never sends
  the lab's names to the machine's real DNS server.
- Provisioning is cached per machine (see :mod:`.snapshot`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import dns.exception
import dns.resolver

from ._proc import LabError, port_open, redact, run, tail, terminate_tree
from .addrlock import AddressLock, process_start_time
from .config import (
    DEFAULT_ADMIN_PASSWORD,
    DCSettings,
    LabLayout,
    render_krb5_conf,
    render_resolv_conf,
    render_smb_conf,
)
from .ldb import LdbTools
from .seeding import DirectorySeeding
from .snapshot import restore_snapshot

READY_PORTS = (389, 636, 88)
_WINBINDD_RUN_DIR = Path("/run/samba/winbindd")
# Runs inside ``unshare --mount``: make the lab's winbindd dir and resolv.conf the namespace's,
# then become the DC. Arguments: winbindd dir or "-", resolv.conf or "-", command...
_NS_SCRIPT = (
    'set -e; if [ "$1" != - ]; then mount --bind "$1" /run/samba/winbindd; fi; '
    'if [ "$2" != - ]; then mount --bind "$2" /etc/resolv.conf; fi; shift 2; exec "$@"'
)
_namespace_ok: bool | None = None


def mount_namespaces_available() -> bool:
    """True when ``unshare --mount`` works here (root with CAP_SYS_ADMIN); probed once."""
    global _namespace_ok
    if _namespace_ok is None:
        try:
            _ensure_winbindd_run_dir()
            subprocess.run(
                ["unshare", "--mount", "--propagation", "private", "--", "true"],
                check=True,
                capture_output=True,
                timeout=10,
            )
            _namespace_ok = True
        except (OSError, subprocess.SubprocessError):
            _namespace_ok = False
    return _namespace_ok


def _ensure_winbindd_run_dir() -> None:
    """The bind-mount target must exist on the host (an empty dir the winbind package makes too)."""
    _WINBINDD_RUN_DIR.mkdir(parents=True, exist_ok=True)


class SambaDC(DirectorySeeding):
    """One lab domain controller: provisioned from the cache, started, seeded (see
    :class:`~tests.lab.samba.seeding.DirectorySeeding`), stopped."""

    admin_user = "Administrator"

    def __init__(
        self,
        lab_dir: Path | str,
        *,
        realm: str = "LAB.TEST",
        netbios_domain: str | None = None,
        host_name: str = "dc1",
        ip: str = "127.0.0.2",
        admin_password: str = DEFAULT_ADMIN_PASSWORD,
        require_strong_auth: bool = True,
        dns_forwarder: str | None = None,
        use_namespace: bool | None = None,
        nameserver: str | None = None,
    ) -> None:
        """``require_strong_auth`` (default True, as on real DCs): simple binds only over LDAPS or
        StartTLS. ``dns_forwarder``: where the DC's DNS sends names outside its zones (never make
        two DCs forward to each other: a query for an unknown name then loops between them
        forever). ``nameserver``: the resolver of the DC's own processes (resolv.conf in its
        namespace; default the DC itself). ``use_namespace`` None means "if the machine allows it".
        """
        self.settings = DCSettings(
            realm=realm.upper(),
            netbios_domain=(netbios_domain or realm.split(".")[0]).upper(),
            host_name=host_name,
            ip=ip,
            admin_password=admin_password,
            require_strong_auth=require_strong_auth,
            dns_forwarder=dns_forwarder,
        )
        self.layout = LabLayout(Path(lab_dir))
        self.ldb = LdbTools(self.layout.smb_conf, self.layout.sam_ldb)
        self.use_namespace = use_namespace
        self.nameserver = nameserver or ip
        #: seconds: provision_cold (only when the cache was empty), restore, start, stop
        self.timings: dict[str, float] = {}
        #: extra krb5.conf realms (a trusted forest adds its KDC here)
        self.extra_kdcs: dict[str, str] = {}
        self._popen: subprocess.Popen[bytes] | None = None
        self._lock = AddressLock(ip)
        self._reverse_zones: set[str] = set()

    # ----------------------------------------------------------------- identity
    @property
    def realm(self) -> str:
        return self.settings.realm

    @property
    def netbios_domain(self) -> str:
        return self.settings.netbios_domain

    @property
    def dns_domain(self) -> str:
        return self.settings.dns_domain

    @property
    def host_name(self) -> str:
        return self.settings.host_name

    @property
    def fqdn(self) -> str:
        """The DC's DNS name (e.g. dc1.lab.test); also a subjectAltName of its certificate."""
        return self.settings.fqdn

    @property
    def ip(self) -> str:
        return self.settings.ip

    @property
    def domain_dn(self) -> str:
        return self.settings.domain_dn

    @property
    def admin_password(self) -> str:
        return self.settings.admin_password

    @property
    def admin_upn(self) -> str:
        """Bind name for ldap3 simple binds: Administrator@lab.test."""
        return f"{self.admin_user}@{self.dns_domain}"

    @property
    def admin_dn(self) -> str:
        return f"CN={self.admin_user},CN=Users,{self.domain_dn}"

    @property
    def require_strong_auth(self) -> bool:
        return self.settings.require_strong_auth

    @property
    def ldap_url(self) -> str:
        return f"ldap://{self.ip}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://{self.ip}"

    @property
    def ca_cert(self) -> Path:
        """PEM of the lab CA that issued the DC's certificate (private/tls/ca.pem)."""
        return self.layout.ca_cert

    @property
    def tls_valid_names(self) -> list[str]:
        """Names in the DC certificate's subjectAltName (the IP is one too)."""
        return [self.fqdn, self.host_name.lower(), self.dns_domain, self.ip]

    @property
    def krb5_conf(self) -> Path:
        """krb5.conf pinning the KDC to the DC's IP; use with ``KRB5_CONFIG`` for kinit/GSSAPI."""
        return self.layout.krb5_conf

    @property
    def smb_conf(self) -> Path:
        return self.layout.smb_conf

    @property
    def private_dir(self) -> Path:
        return self.layout.private_dir

    @property
    def domain_sid(self) -> str:
        """The domain SID (S-1-5-21-...), recorded at provisioning."""
        try:
            meta = json.loads(self.layout.meta.read_text(encoding="utf-8"))
        except OSError as exc:
            raise LabError(f"{self.layout.root} holds no provisioned DC yet: call prepare()") from exc
        return str(meta["domain_sid"])

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def __repr__(self) -> str:
        return f"SambaDC({self.realm} {self.fqdn} {self.ip}, running={self.running})"

    # ---------------------------------------------------------------- lifecycle
    def prepare(self) -> None:
        """Put a provisioned DC in the lab folder (cache restore; cold provision if none cached)."""
        if self.layout.meta.exists():
            return
        restored = restore_snapshot(self.settings, self.layout)
        if restored.cold_seconds is not None:
            self.timings["provision_cold"] = restored.cold_seconds
        self.timings["restore"] = restored.restore_seconds

    def start(self, timeout: float = 60.0) -> None:
        """Start the DC and return when LDAP, LDAPS, Kerberos and DNS answer; raise LabError
        (with the DC's log) if it does not come up."""
        if self.running:
            return
        self.prepare()
        self._write_configs()
        lock_timeout = float(os.environ.get("HVLM_SAMBA_LOCK_TIMEOUT", "900"))
        self._lock.acquire(lock_timeout)
        try:
            busy = [p for p in (*READY_PORTS, 53, 445) if port_open(self.ip, p, 0.2)]
            if busy:
                raise LabError(
                    f"ports {busy} on {self.ip} are taken by something that is not this lab DC "
                    "(a stock samba/smbd? run .ci/install-samba.sh, or see `ss -ltnp`)"
                )
            started = time.monotonic()
            self._launch()
            self.wait_ready(timeout)
            self.timings["start"] = time.monotonic() - started
            assert self._popen is not None
            self._lock.record(
                {
                    "pid": self._popen.pid,
                    "start_time": process_start_time(self._popen.pid),
                    "lab": str(self.layout.root),
                    "owner_pid": os.getpid(),
                }
            )
        except BaseException:
            self._terminate()
            self._lock.release()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the DC, wait for its whole process tree to exit, free the address."""
        started = time.monotonic()
        self._terminate(timeout)
        self._lock.release()
        self.timings["stop"] = time.monotonic() - started

    def restart(self, *, require_strong_auth: bool | None = None, dns_forwarder: str | None = None) -> None:
        """Stop, change smb.conf-only settings, start again (about 3 s)."""
        was_running = self.running
        if was_running:
            self.stop()
        changes: dict[str, Any] = {}
        if require_strong_auth is not None:
            changes["require_strong_auth"] = require_strong_auth
        if dns_forwarder is not None:
            changes["dns_forwarder"] = dns_forwarder or None
        self.settings = dataclasses.replace(self.settings, **changes)
        self.start()

    def __enter__(self) -> SambaDC:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Poll until the ports accept and ``_ldap._tcp.<realm>`` SRV resolves at the DC."""
        deadline = time.monotonic() + timeout
        while True:
            if self._popen is not None and self._popen.poll() is not None:
                raise LabError(
                    f"samba for {self.realm} exited with code {self._popen.returncode} while starting:\n"
                    + self.log_tail()
                )
            if all(port_open(self.ip, p) for p in READY_PORTS) and self._srv_answers():
                return
            if time.monotonic() >= deadline:
                raise LabError(f"samba for {self.realm} not ready after {timeout:.0f} s:\n" + self.log_tail())
            time.sleep(0.1)

    def _srv_answers(self) -> bool:
        try:
            return len(self.resolver().resolve(f"_ldap._tcp.{self.dns_domain}", "SRV")) > 0
        except (dns.exception.DNSException, OSError):
            return False

    def log_tail(self, lines: int = 40) -> str:
        """The end of the DC's console and log files (for failure messages)."""
        parts = []
        for path in (self.layout.console_log, self.layout.log_file):
            if path.exists():
                text = path.read_text(encoding="utf-8", errors="replace")
                parts.append(f"--- {path}\n{tail(text, lines)}")
        return redact("\n".join(parts) or "(no log)", [self.admin_password])

    def _write_configs(self) -> None:
        self.layout.smb_conf.write_text(render_smb_conf(self.settings, self.layout), encoding="utf-8")
        self.layout.resolv_conf.write_text(render_resolv_conf(self.nameserver, self.dns_domain), encoding="utf-8")
        self.write_krb5_conf()
        self.layout.winbindd_dir.mkdir(mode=0o755, exist_ok=True)
        self.layout.log_dir.mkdir(exist_ok=True)
        for stale in self.layout.pid_dir.glob("*.pid"):
            stale.unlink()

    def write_krb5_conf(self) -> None:
        """(Re)write the client krb5.conf: this realm plus any trusted ones in ``extra_kdcs``."""
        realms = {self.realm: self.ip, **self.extra_kdcs}
        self.layout.krb5_conf.write_text(render_krb5_conf(realms, self.realm), encoding="utf-8")

    def namespaced(self, command: Sequence[str]) -> list[str]:
        """``command`` wrapped to run in a fresh mount namespace that sees this DC's winbindd dir
        and resolv.conf (the way the DC itself runs); unchanged when namespaces are not used."""
        if not self._namespace_enabled():
            return list(command)
        resolv = str(self.layout.resolv_conf) if Path("/etc/resolv.conf").exists() else "-"
        return [
            "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", _NS_SCRIPT, "lab-ns", str(self.layout.winbindd_dir), resolv, *command,
        ]  # fmt: skip

    def _namespace_enabled(self) -> bool:
        if self.use_namespace is None:
            return mount_namespaces_available()
        if self.use_namespace and not mount_namespaces_available():
            raise LabError("mount namespaces are not available here (needs root with CAP_SYS_ADMIN)")
        return self.use_namespace

    def _launch(self) -> None:
        command = self.namespaced(["samba", "-s", str(self.layout.smb_conf), "-i", "-M", "single"])
        if shutil.which("samba") is None:
            raise LabError("samba is not installed: run .ci/install-samba.sh as root")
        env = dict(os.environ, KRB5_CONFIG=str(self.layout.krb5_conf))
        with open(self.layout.console_log, "ab") as console:
            self._popen = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,  # -i: samba exits when this pipe closes (our process died)
                stdout=console,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # a Ctrl-C in the terminal goes to pytest, which stops us
            )

    def _terminate(self, timeout: float = 30.0) -> None:
        popen, self._popen = self._popen, None
        if popen is None:
            return
        if popen.poll() is None:
            terminate_tree(popen.pid, timeout, popen)
        if popen.stdin is not None:
            popen.stdin.close()
        popen.wait(timeout=5)

    # ------------------------------------------------------------------ clients
    def resolver(self) -> dns.resolver.Resolver:
        """A dnspython resolver that asks only this DC."""
        res = dns.resolver.Resolver(configure=False)
        res.nameservers = [self.ip]
        res.lifetime = 2.0
        res.timeout = 1.0
        return res

    def tls(self) -> Any:
        """ldap3 ``Tls`` validating the DC certificate against the lab CA (CERT_REQUIRED)."""
        import ssl

        from ldap3 import Tls

        return Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.ca_cert), valid_names=[self.fqdn])

    def ldap_server(self, *, use_ssl: bool = True) -> Any:
        """ldap3 ``Server`` for the DC: LDAPS on 636 by default, else 389 (use start_tls())."""
        from ldap3 import Server

        return Server(self.ip, port=636 if use_ssl else 389, use_ssl=use_ssl, tls=self.tls(), connect_timeout=5)

    def admin_connection(self, *, use_ssl: bool = True, start_tls: bool = False) -> Any:
        """A bound ldap3 ``Connection`` as Administrator (simple bind over LDAPS or StartTLS)."""
        from ldap3 import Connection

        conn = Connection(
            self.ldap_server(use_ssl=use_ssl),
            user=self.admin_upn,
            password=self.admin_password,
            receive_timeout=30,
            raise_exceptions=True,
        )
        conn.open()
        if start_tls:
            # Before the bind nothing may be read (Samba: "Operation unavailable without
            # authentication"), so no server info here; bind() reads it afterwards.
            conn.start_tls(read_server_info=False)
        conn.bind()
        return conn

    # ------------------------------------------------------------------ tools
    def samba_tool(self, *args: str, admin: bool = False, namespaced: bool = False) -> str:
        """Run ``samba-tool ARGS -s <lab smb.conf>``; ``admin`` authenticates as Administrator
        (password through the PASSWD environment variable, never on the command line)."""
        command = ["samba-tool", *args, "-s", str(self.layout.smb_conf)]
        env = {"KRB5_CONFIG": str(self.layout.krb5_conf)}
        if admin:
            command += ["-U", self.admin_user]
            env["PASSWD"] = self.admin_password
        if namespaced:
            command = self.namespaced(command)
        return run(command, env=env, secrets=[self.admin_password]).stdout
