"""What a lab DC is (settings) and where its files live (layout), and the smb.conf that ties them.

Kept apart from the process code so the provisioning cache can key on the settings and rewrite the
config of a restored snapshot for a new folder: nothing Samba stores under the lab folder holds an
absolute path except smb.conf, which the lab writes itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ADMIN_PASSWORD = "Hvlm-Lab-Admin-1"  # a throwaway lab password; meets AD complexity rules


@dataclass(frozen=True)
class DCSettings:
    """The identity of one lab DC. Everything but the last two fields is baked into its database."""

    realm: str = "LAB.TEST"
    netbios_domain: str = "LAB"
    host_name: str = "dc1"
    ip: str = "127.0.0.2"
    admin_password: str = field(default=DEFAULT_ADMIN_PASSWORD, repr=False)
    #: "ldap server require strong auth": real DCs refuse simple binds over plain LDAP (``yes``).
    require_strong_auth: bool = True
    #: Where the DC's DNS forwards names outside its zones (the other forest's DC), or nowhere.
    dns_forwarder: str | None = None

    @property
    def dns_domain(self) -> str:
        return self.realm.lower()

    @property
    def fqdn(self) -> str:
        return f"{self.host_name.lower()}.{self.dns_domain}"

    @property
    def netbios_name(self) -> str:
        return self.host_name.upper()

    @property
    def domain_dn(self) -> str:
        return ",".join(f"DC={part}" for part in self.dns_domain.split("."))


@dataclass(frozen=True)
class LabLayout:
    """Paths of one DC's lab folder. Samba gets every directory from here, none from /var or /etc."""

    root: Path

    @property
    def smb_conf(self) -> Path:
        return self.root / "smb.conf"

    @property
    def private_dir(self) -> Path:
        return self.root / "private"

    @property
    def sam_ldb(self) -> Path:
        return self.private_dir / "sam.ldb"

    @property
    def tls_dir(self) -> Path:
        return self.private_dir / "tls"

    @property
    def ca_cert(self) -> Path:
        return self.tls_dir / "ca.pem"

    @property
    def cert(self) -> Path:
        return self.tls_dir / "cert.pem"

    @property
    def key(self) -> Path:
        return self.tls_dir / "key.pem"

    @property
    def sysvol(self) -> Path:
        return self.root / "sysvol"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "samba.log"

    @property
    def console_log(self) -> Path:
        return self.log_dir / "console.log"

    @property
    def pid_dir(self) -> Path:
        return self.root / "pid"

    @property
    def winbindd_dir(self) -> Path:
        """Bind-mounted over /run/samba/winbindd in the DC's mount namespace (smbd looks only there)."""
        return self.root / "winbindd"

    @property
    def resolv_conf(self) -> Path:
        """Bind-mounted over /etc/resolv.conf in the DC's mount namespace."""
        return self.root / "resolv.conf"

    @property
    def krb5_conf(self) -> Path:
        """A krb5.conf that pins the KDC to the DC's IP, for kinit / GSSAPI clients (KRB5_CONFIG)."""
        return self.root / "krb5.conf"

    @property
    def meta(self) -> Path:
        """Facts recorded at provisioning (domain SID...)."""
        return self.root / "lab.json"

    def directories(self) -> dict[str, Path]:
        """smb.conf directory options and their paths. ntp_signd is left for Samba to create: it
        insists on mode 0750 and refuses to start otherwise."""
        return {
            "private dir": self.private_dir,
            "lock directory": self.root / "lock",
            "state directory": self.root / "state",
            "cache directory": self.root / "cache",
            "binddns dir": self.root / "binddns",
            "pid directory": self.pid_dir,
            "ncalrpc dir": self.root / "ncalrpc",
        }


def render_smb_conf(settings: DCSettings, layout: LabLayout) -> str:
    """The DC's smb.conf. Provision keeps it as is when realm, workgroup, name and role match."""
    lines = [
        "[global]",
        f"netbios name = {settings.netbios_name}",
        f"realm = {settings.realm}",
        f"workgroup = {settings.netbios_domain}",
        "server role = active directory domain controller",
        # A bare address fails ("no network interfaces found"); /8 with bind-only binds just this IP.
        f"interfaces = {settings.ip}/8",
        "bind interfaces only = yes",
        *(f"{name} = {path}" for name, path in layout.directories().items()),
        f"ntp signd socket directory = {layout.root / 'ntp_signd'}",
        f"log file = {layout.log_file}",
        "log level = 1",
        "max log size = 10000",
        # Containers deny security.* xattrs (provision then fails with NT_STATUS_ACCESS_DENIED).
        "acl_xattr:security_acl_name = user.NTACL",
        f"ldap server require strong auth = {'yes' if settings.require_strong_auth else 'no'}",
        # The lab's own certificate (SAN: DC name, domain, IP), so clients validate TLS properly.
        "tls enabled = yes",
        f"tls keyfile = {layout.key}",
        f"tls certfile = {layout.cert}",
        f"tls cafile = {layout.ca_cert}",
        # No printers, no NetBIOS name service: nothing the lab needs, fewer sockets.
        "load printers = no",
        "printing = bsd",
        "printcap name = /dev/null",
        "disable spoolss = yes",
    ]
    if settings.dns_forwarder:
        lines.append(f"dns forwarder = {settings.dns_forwarder}")
    lines += [
        "",
        "[sysvol]",
        f"path = {layout.sysvol}",
        "read only = no",
        "",
        "[netlogon]",
        f"path = {layout.sysvol / settings.dns_domain / 'scripts'}",
        "read only = no",
        "",
    ]
    return "\n".join(line if line.startswith("[") or not line else f"    {line}" for line in lines)


def render_krb5_conf(realms: dict[str, str], default_realm: str) -> str:
    """krb5.conf for clients: KDCs pinned by IP, no DNS or reverse lookups (the host resolver does
    not know the lab's zones). ``realms`` maps realm to KDC IP."""
    lines = [
        "[libdefaults]",
        f"    default_realm = {default_realm}",
        "    dns_lookup_kdc = false",
        "    dns_lookup_realm = false",
        "    rdns = false",
        "    forwardable = true",
        "",
        "[realms]",
    ]
    for realm, kdc in realms.items():
        lines += [f"    {realm} = {{", f"        kdc = {kdc}", f"        admin_server = {kdc}", "    }"]
    lines += ["", "[domain_realm]"]
    for realm in realms:
        lines += [f"    .{realm.lower()} = {realm}", f"    {realm.lower()} = {realm}"]
    return "\n".join(lines) + "\n"


def render_resolv_conf(nameserver: str, search: str) -> str:
    """resolv.conf seen by the DC's own processes and by samba-tool run for it."""
    return f"nameserver {nameserver}\nsearch {search}\noptions timeout:1 attempts:2\n"
