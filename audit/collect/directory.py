"""Active Directory and DNS facts for the snapshot: one collector, every domain of the fleet.

``collect_directory`` is what ``hvlm collect`` and ``hvlm scan`` call (also alone, with
``--only directory``, for delegation audits without WinRM). For each DNS domain of the inventory
hosts it finds the domain controllers by SRV record (or takes --dc), binds once over TLS, and reads
the domain, the inventory hosts' computer objects, the trusts and, in the operator's domain, the
operator's account, in a fixed number of searches (see ldap_domain). DNS facts come from the same
configurable resolver. A failure becomes an error fact with an actionable message; the other
domains and hosts are still collected.

Options come from the command line over the inventory's ``[ad]`` table over safe defaults
(LDAPS, certificate validation, Kerberos). The password of a simple or NTLM bind comes the way the
WinRM one does (audit.collect.credentials): HVLM_LDAP_PASSWORD (or HVLM_PASSWORD), else the system
keyring (`keyring set hvlm-ldap USER`, or the "hvlm" service), else a prompt on a terminal; never
from the command line. It is held as a masked Secret and redacted from every message.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.resolver

from hvlm.audit.collect import dns_lookup, ldap_conn, ldap_domain
from hvlm.audit.collect.credentials import LDAP_PASSWORD_ENV, PASSWORD_ENV, Secret, resolve_ldap_password
from hvlm.audit.collect.dns_lookup import DnsLookupError, Srv
from hvlm.audit.collect.ldap_conn import AUTH_METHODS, TLS_MODES, Credentials, DcEndpoint, DirectoryError, LdapSession
from hvlm.audit.collect.ldap_domain import OperatorAccount
from hvlm.audit.collect.ldap_filter import HostName
from hvlm.audit.errors import InputError, UsageError
from hvlm.audit.inventory import Inventory
from hvlm.audit.snapshot import error_fact, value_fact
from hvlm.audit.words import count

__all__ = [
    "PASSWORD_ENV_VARS",
    "DirectoryOptions",
    "add_directory_options",
    "bind_credentials",
    "collect_directory",
    "directory_options_from_args",
]

PASSWORD_ENV_VARS = (LDAP_PASSWORD_ENV, PASSWORD_ENV)
AD_KEYS = frozenset(
    {"dc", "dns_server", "dns_servers", "auth", "tls", "ca_file", "allow_plain", "username", "timeout", "page_size"}
)
MAX_DC_ATTEMPTS = 3

# Tests replace this with a factory returning fake connections (ldap3.Connection when None).
CONNECTION_FACTORY: ldap_conn.ConnectionFactory | None = None

Progress = Callable[[str], None]
# (domains done, domains in all, domain being read or None when finished, its DC or None)
DomainStatus = Callable[[int, int, str | None, str | None], None]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DirectoryOptions:
    """How to reach AD and DNS. Holds no secret: the password is read when collection starts."""

    dc: str | None = None  # HOST[:PORT] for every domain without its own entry in dcs
    dcs: tuple[tuple[str, str], ...] = ()  # (domain, HOST[:PORT]) per domain
    dns_servers: tuple[str, ...] = ()  # ADDRESS[:PORT]; empty: the system resolver
    auth: str = "gssapi"
    tls: str = "ldaps"
    allow_plain: bool = False
    ca_file: str | None = None
    username: str | None = None  # simple/ntlm bind name; default: the inventory's operator
    timeout: float = 10.0
    page_size: int = 500

    def dc_for(self, domain: str) -> str | None:
        for dom, host in self.dcs:
            if dom.lower() == domain.lower():
                return host
        return self.dc


# -- options ----------------------------------------------------------------------------------


def add_directory_options(parser: argparse.ArgumentParser) -> None:
    """The AD/DNS options of `hvlm collect` and `hvlm scan` (defaults come from the inventory's [ad])."""
    g = parser.add_argument_group(
        "Active Directory and DNS",
        "How the directory collector reaches domain controllers and DNS. Defaults: the inventory's [ad] table, "
        "then LDAPS with certificate validation and Kerberos (GSSAPI) from the current ticket cache. The password "
        "of a simple or NTLM bind comes from HVLM_LDAP_PASSWORD (or HVLM_PASSWORD), the system keyring "
        "(`keyring set hvlm-ldap USER`) or a prompt on a terminal; never from the command line.",
    )
    g.add_argument(
        "--dc",
        action="append",
        metavar="[DOMAIN=]HOST[:PORT]",
        help="domain controller to use instead of SRV discovery; repeat with DOMAIN= for several domains",
    )
    g.add_argument(
        "--dns-server",
        action="append",
        metavar="ADDRESS[:PORT]",
        help="DNS server for SRV discovery and host records (repeatable; default: the system resolver)",
    )
    g.add_argument("--ldap-auth", choices=AUTH_METHODS, help="bind method (default: gssapi)")
    g.add_argument(
        "--ldap-tls", choices=TLS_MODES, help="ldaps (636, default), starttls (389) or plain (needs --allow-plain-ldap)"
    )
    g.add_argument("--ldap-ca", metavar="FILE", help="PEM file of the CA that issued the DCs' certificates")
    g.add_argument(
        "--allow-plain-ldap",
        action="store_true",
        default=None,
        help="allow --ldap-tls plain (unencrypted; isolated lab networks only)",
    )
    g.add_argument("--ldap-user", metavar="USER", help="bind name for simple/ntlm (default: the operator account)")
    g.add_argument("--ldap-timeout", type=float, metavar="SECONDS", help="connect and query timeout (default: 10)")
    g.add_argument("--ldap-page-size", type=int, metavar="N", help="LDAP paged search page size (default: 500)")


def _input_error(inventory: Inventory, message: str, where: str) -> InputError:
    return InputError(inventory.path or "<inventory>", message, where)


def _parse_dc_entry(text: str) -> tuple[str | None, str]:
    value = text.strip()
    dom, sep, host = value.partition("=")
    if sep:
        if not dom.strip() or not host.strip():
            raise ValueError(f"--dc {text!r}: expected DOMAIN=HOST[:PORT]")
        return dom.strip().lower(), _check_host(host.strip())
    return None, _check_host(value)


def _check_host(text: str) -> str:
    host, port = _split_host_port(text)
    if not host or any(c.isspace() or c in "/\\@" for c in host):
        raise ValueError(f"{text!r} is not a host name")
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"{text!r}: port out of range")
    return text


def _split_host_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        if not port.isdigit():
            raise ValueError(f"{text!r}: the port must be a number")
        return host, int(port)
    return text, None


def directory_options_from_args(args: argparse.Namespace, inventory: Inventory) -> DirectoryOptions:
    """Command line over the inventory's [ad] table over defaults. Raises InputError/UsageError."""
    ad = dict(inventory.ad)
    for key in ad:
        if "password" in key.lower():
            raise _input_error(
                inventory, "passwords never go in the inventory; use HVLM_LDAP_PASSWORD or `keyring set hvlm-ldap USER`",
                f"ad.{key}",
            )
        if key not in AD_KEYS:
            raise _input_error(
                inventory, f"unknown [ad] setting {key!r} (known: {', '.join(sorted(AD_KEYS))})", f"ad.{key}"
            )

    dc: str | None = None
    dcs: list[tuple[str, str]] = []
    raw_dc = ad.get("dc")
    try:
        if isinstance(raw_dc, str):
            dom, host = _parse_dc_entry(raw_dc)
            if dom:
                dcs.append((dom, host))
            else:
                dc = host
        elif isinstance(raw_dc, dict):
            for dom, host in raw_dc.items():
                if not isinstance(host, str):
                    raise ValueError(f"the DC of {dom} must be a string")
                dcs.append((str(dom).lower(), _check_host(host)))
        elif raw_dc is not None:
            raise ValueError("dc must be a host name or a table of domain = host")
    except ValueError as exc:
        raise _input_error(inventory, str(exc), "ad.dc") from None
    if getattr(args, "dc", None):
        cli_dc: str | None = None
        cli_dcs: list[tuple[str, str]] = []
        for entry in args.dc:
            try:
                dom, host = _parse_dc_entry(entry)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            if dom:
                cli_dcs.append((dom, host))
            else:
                cli_dc = host
        dcs = cli_dcs + [d for d in dcs if d[0] not in {c[0] for c in cli_dcs}]
        dc = cli_dc if cli_dc is not None else dc

    raw_dns = ad.get("dns_servers", ad.get("dns_server"))
    dns_servers: list[str]
    if raw_dns is None:
        dns_servers = []
    elif isinstance(raw_dns, str):
        dns_servers = [raw_dns]
    elif isinstance(raw_dns, list) and all(isinstance(s, str) for s in raw_dns):
        dns_servers = list(raw_dns)
    else:
        raise _input_error(inventory, "dns_servers must be an address or a list of addresses", "ad.dns_servers")
    if getattr(args, "dns_server", None):
        dns_servers = list(args.dns_server)
    for server in dns_servers:
        try:
            dns_lookup.parse_dns_server(server)
        except ValueError as exc:
            raise UsageError(f"DNS server {exc}") from None

    def pick(cli_name: str, key: str, kind: type, default: Any) -> Any:
        cli = getattr(args, cli_name, None)
        if cli is not None:
            return cli
        if key in ad:
            value = ad[key]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                raise _input_error(inventory, f"{key} must be a {kind.__name__}", f"ad.{key}")
            return value
        return default

    auth = pick("ldap_auth", "auth", str, "gssapi")
    if auth not in AUTH_METHODS:
        raise _input_error(inventory, f"auth must be one of {', '.join(AUTH_METHODS)}", "ad.auth")
    tls = pick("ldap_tls", "tls", str, "ldaps")
    if tls not in TLS_MODES:
        raise _input_error(inventory, f"tls must be one of {', '.join(TLS_MODES)}", "ad.tls")
    allow_plain = bool(pick("allow_plain_ldap", "allow_plain", bool, False))
    if tls == "plain" and not allow_plain:
        raise UsageError(
            "--ldap-tls plain sends the bind and every answer unencrypted; add --allow-plain-ldap (or [ad] "
            "allow_plain = true) to accept that on an isolated lab network"
        )
    ca_file = getattr(args, "ldap_ca", None)
    if ca_file is None and ad.get("ca_file") is not None:
        if not isinstance(ad["ca_file"], str):
            raise _input_error(inventory, "ca_file must be a path", "ad.ca_file")
        ca_path = Path(ad["ca_file"]).expanduser()
        if not ca_path.is_absolute() and inventory.path:
            ca_path = Path(inventory.path).parent / ca_path
        ca_file = str(ca_path)
    if ca_file is not None and not Path(ca_file).is_file():
        raise UsageError(f"the CA file {ca_file} does not exist")
    timeout = float(pick("ldap_timeout", "timeout", float, 10.0))
    if not 0 < timeout <= 600:
        raise UsageError("the LDAP timeout must be between 0 and 600 seconds")
    page_size = int(pick("ldap_page_size", "page_size", int, 500))
    if not 1 <= page_size <= 100000:
        raise UsageError("the LDAP page size must be between 1 and 100000")
    username = pick("ldap_user", "username", str, None)
    return DirectoryOptions(
        dc=dc,
        dcs=tuple(dcs),
        dns_servers=tuple(dns_servers),
        auth=auth,
        tls=tls,
        allow_plain=allow_plain,
        ca_file=ca_file,
        username=username,
        timeout=timeout,
        page_size=page_size,
    )


def read_password(user: str) -> Secret | None:
    """The bind password: environment, then the system keyring, then a prompt on a terminal."""
    return resolve_ldap_password(user)


def bind_user(inventory: Inventory, options: DirectoryOptions) -> str | None:
    """Who a simple or NTLM bind binds as: --ldap-user / [ad] username, else the operator."""
    return options.username or inventory.operator


def bind_credentials(inventory: Inventory, options: DirectoryOptions) -> Credentials:
    """The bind's credentials, password read now (before any connection): for the command line."""
    user = bind_user(inventory, options)
    if options.auth == "gssapi" or not user:
        return Credentials(options.auth, user)
    return Credentials(options.auth, user, read_password(user))


# -- collection -------------------------------------------------------------------------------


@dataclass
class _Domain:
    name: str
    hosts: list[HostName]
    facts: dict[str, Any]
    session: LdapSession | None = None
    read: ldap_domain.DomainRead | None = None
    computers: list[dict[str, Any]] | None = None
    trusts: list[dict[str, Any]] | None = None
    failure: DirectoryError | None = None


class _Collector:
    def __init__(
        self,
        inventory: Inventory,
        options: DirectoryOptions,
        progress: Progress | None,
        credentials: Credentials | None = None,
        on_domain: DomainStatus | None = None,
    ) -> None:
        self.inventory = inventory
        self.options = options
        self._progress = progress or (lambda _msg: None)
        self._on_domain = on_domain
        self.domains_done = 0
        self.domains_total = 0
        self.resolver: dns.resolver.Resolver | None = None
        self.resolver_error: DnsLookupError | None = None
        try:
            self.resolver = dns_lookup.make_resolver(options.dns_servers, options.timeout)
        except DnsLookupError as exc:
            self.resolver_error = exc
        self.creds = credentials or Credentials(options.auth)
        self.password_asked = credentials is not None
        self.password_domains = _password_domains(inventory, options)

    def progress(self, text: str) -> None:
        """What the operator sees is also what --log records."""
        log.info("%s", text)
        self._progress(text)

    def status(self, domain: str | None, dc: str | None = None) -> None:
        if self._on_domain is not None:
            self._on_domain(self.domains_done, self.domains_total, domain, dc)

    def internal(self, exc: Exception) -> DirectoryError:
        """An unexpected failure (a bug, a library surprise) as an error fact, password redacted."""
        text = f"{type(exc).__name__}: {exc}"
        password = self.creds.reveal()
        if password:
            text = text.replace(password, "***")
        return DirectoryError("internal_error", text[:500])

    # credentials are read once, and only when a bind needs them
    def credentials(self) -> Credentials:
        if self.options.auth == "gssapi" or self.password_asked:
            return self.creds
        self.password_asked = True
        user = bind_user(self.inventory, self.options)
        password = read_password(user) if user else None
        self.creds = Credentials(self.options.auth, user, password)
        return self.creds

    def name_of_address(self, address: str, domain: str | None) -> tuple[HostName, str | None]:
        """A host the inventory names by IP address is looked up by the name its PTR record gives
        (AD computer objects carry names, not addresses); without one it keeps the address."""
        names: list[str] = []
        if self.resolver is not None:
            try:
                names = dns_lookup.reverse_names(self.resolver, address)
            except DnsLookupError:
                names = []
        if not names:
            return HostName(address, address, address + "$"), None
        fqdn = names[0].rstrip(".").lower()
        if not domain and "." in fqdn:
            domain = fqdn.split(".", 1)[1]
        hn = HostName.of(fqdn, domain)
        return HostName(address, hn.fqdn, hn.sam), domain.lower() if domain else None

    def endpoints(self, domain: str, srv: list[Srv] | None) -> list[DcEndpoint]:
        override = self.options.dc_for(domain)
        if override:
            host, port = _split_host_port(override)
            return [DcEndpoint(host.lower(), host.lower(), port)]
        out: list[DcEndpoint] = []
        for rec in (srv or [])[:MAX_DC_ATTEMPTS]:
            port = None if self.options.tls == "ldaps" else rec.port
            out.append(DcEndpoint(rec.target, rec.target, port))
        return out

    def address_of(self, host: str) -> str:
        """Connect by the address our DNS server gives when one was named (the runner's own
        resolver may not know the AD zone); the name is still what TLS and Kerberos check."""
        if not self.options.dns_servers or self.resolver is None or ldap_conn.is_address(host):
            return host
        try:
            found = dns_lookup.addresses(self.resolver, host)
        except DnsLookupError:
            return host
        return found[0] if found else host

    def open_session(self, domain: str, endpoints: list[DcEndpoint]) -> LdapSession:
        if not endpoints:
            raise DirectoryError("no_dc", f"no domain controller of {domain} is known; pass --dc {domain}=HOST")
        if self.options.auth != "gssapi" and not self.options.dc_for(domain) and domain not in self.password_domains:
            # The domain came from what a host reported (Win32_ComputerSystem.Domain) or from a PTR
            # record, and its DCs from DNS: a rogue host could name a domain whose "DC" holds a
            # valid public certificate and collect the password. Kerberos needs no such guard.
            raise DirectoryError(
                "untrusted_domain",
                f"not sending the {self.options.auth} bind password to a domain controller of {domain}: only a "
                "host or DNS named that domain, not the inventory. If it is yours, name it: hosts by FQDN, "
                f'domain = "{domain}" in the inventory, or --dc {domain}=HOST; or use --ldap-auth gssapi',
            )
        creds = self.credentials()
        unreachable: list[str] = []
        for ep in endpoints:
            target = DcEndpoint(ep.name, self.address_of(ep.name), ep.port)
            self.status(domain, ep.name)
            self.progress(
                f"ldap {domain}: connecting to {ep.name}"
                + (f" ({target.address})" if target.address != ep.name else "")
                + f", TLS {self.options.tls}, bind {self.options.auth} as {creds.user or 'the Kerberos ticket'}"
            )
            try:
                return ldap_conn.connect(
                    target,
                    domain,
                    creds,
                    tls_mode=self.options.tls,
                    allow_plain=self.options.allow_plain,
                    ca_file=self.options.ca_file,
                    timeout=self.options.timeout,
                    page_size=self.options.page_size,
                    connection_factory=CONNECTION_FACTORY,
                )
            except DirectoryError as exc:
                log.warning("ldap %s: %s failed: %s: %s", domain, ep.name, exc.kind, exc.message)
                if exc.kind != "dc_unreachable":
                    raise
                unreachable.append(exc.message)
        if len(unreachable) == 1:
            raise DirectoryError("dc_unreachable", unreachable[0])
        raise DirectoryError(
            "dc_unreachable",
            f"none of the {len(unreachable)} domain controllers of {domain} tried could be reached: "
            + " | ".join(unreachable),
        )

    def collect_domain(self, dom: _Domain) -> None:
        self.status(dom.name)
        started = time.monotonic()
        try:
            self._collect_domain(dom)
        finally:
            self.domains_done += 1
            log.info("ldap %s: done in %.2f s", dom.name, time.monotonic() - started)

    def _collect_domain(self, dom: _Domain) -> None:
        srv: list[Srv] | None = None
        if self.resolver is None:
            assert self.resolver_error is not None
            dom.facts["domain_controllers"] = error_fact(
                self.resolver_error.kind,
                self.resolver_error.message,
                "dns",
                None,
                f"SRV _ldap._tcp.dc._msdcs.{dom.name}",
            )
        else:
            try:
                srv = dns_lookup.discover_dcs(self.resolver, dom.name)
                dom.facts["domain_controllers"] = value_fact(
                    [r.as_fact() for r in srv], "dns", None, f"SRV _ldap._tcp.dc._msdcs.{dom.name}"
                )
            except DnsLookupError as exc:
                dom.facts["domain_controllers"] = error_fact(
                    exc.kind, exc.message, "dns", None, f"SRV _ldap._tcp.dc._msdcs.{dom.name}"
                )
                if not self.options.dc_for(dom.name):
                    dom.failure = DirectoryError(exc.kind, f"cannot find a domain controller: {exc.message}")
        if dom.failure is None:
            try:
                dom.session = self.open_session(dom.name, self.endpoints(dom.name, srv))
                self.progress(f"ldap {dom.name}: bound to {dom.session.dc.name} as {dom.session.user}")
                dom.read = ldap_domain.read_domain(dom.session, dom.name)
            except DirectoryError as exc:
                dom.failure = exc
            except Exception as exc:  # a bug or an unexpected library error must not stop other domains
                dom.failure = self.internal(exc)
        if dom.failure is not None or dom.read is None or dom.session is None:
            failure = dom.failure or DirectoryError("internal_error", "domain not read")
            self.progress(f"ldap {dom.name}: {failure.kind}: {failure.message}")
            for section in ("info", "computers", "trusts"):
                if section == "computers" and not dom.hosts:
                    continue
                dom.facts[section] = error_fact(failure.kind, failure.message, "ldap", None, f"domain {dom.name}")
            return
        dc = dom.session.dc.name
        base = dom.read.base_dn
        dom.facts["info"] = value_fact(
            dom.read.info, "ldap", dc, f"ldap read rootDSE, {base} (objectSid), crossRef of {base}"
        )
        try:
            dom.trusts = ldap_domain.read_trusts(dom.session, base)
            dom.facts["trusts"] = value_fact(
                dom.trusts, "ldap", dc, f"ldap search CN=System,{base} (objectClass=trustedDomain)"
            )
        except Exception as exc:
            err = exc if isinstance(exc, DirectoryError) else self.internal(exc)
            dom.facts["trusts"] = error_fact(err.kind, err.message, "ldap", dc, f"ldap search CN=System,{base}")
        if dom.hosts:
            # Trusts first: a trust with selective authentication makes the computer search read each
            # object's DACL too ("Allowed to Authenticate"), in the same search.
            selective = ldap_domain.selective_trusts(dom.trusts or [])
            command = ldap_domain.computers_command(base, dom.hosts, with_acl=bool(selective))
            try:
                dom.computers = ldap_domain.read_computers(dom.session, base, dom.hosts, with_acl=bool(selective))
                self.progress(f"ldap {dom.name}: {len(dom.computers)} of {len(dom.hosts)} computer objects found")
            except DirectoryError as exc:
                dom.facts["computers"] = error_fact(exc.kind, exc.message, "ldap", dc, command)
            except Exception as exc:
                err = self.internal(exc)
                dom.facts["computers"] = error_fact(err.kind, err.message, "ldap", dc, command)

    def finish_computers(self, domains: list[_Domain]) -> None:
        """Name RBCD principals: first from every collected computer, then one search per domain."""
        known: dict[str, str] = {}
        for dom in domains:
            netbios = dom.read.info.get("nETBIOSName") if dom.read else None
            for c in dom.computers or []:
                if c.get("objectSid"):
                    known[c["objectSid"]] = f"{netbios}\\{c['sAMAccountName']}" if netbios else c["sAMAccountName"]
        for dom in domains:
            if dom.computers is None or dom.session is None or dom.read is None:
                continue
            selective = bool(ldap_domain.selective_trusts(dom.trusts or []))
            command = ldap_domain.computers_command(dom.read.base_dn, dom.hosts, with_acl=selective)
            try:
                ldap_domain.resolve_sid_names(
                    dom.session, dom.read.base_dn, dom.read.info.get("nETBIOSName"), dom.computers, known
                )
            except Exception as exc:
                err = exc if isinstance(exc, DirectoryError) else self.internal(exc)
                self.progress(f"ldap {dom.name}: could not name delegation principals: {err.message}")
            dom.facts["computers"] = value_fact(dom.computers, "ldap", dom.session.dc.name, command)

    def operator_domain(self, account: OperatorAccount, domains: dict[str, _Domain]) -> str:
        if account.dns_domain:
            return account.dns_domain
        if account.netbios:
            for dom in domains.values():
                if dom.read and str(dom.read.info.get("nETBIOSName") or "").upper() == account.netbios:
                    return dom.name
            for dom in domains.values():
                for trust in dom.trusts or []:
                    if str(trust.get("flatName") or "").upper() == account.netbios:
                        return str(trust["trustPartner"]).lower()
            unread = [d for d in domains.values() if d.read is None and d.failure is not None]
            if unread and unread[0].failure is not None:
                failure = unread[0].failure
                raise DirectoryError(
                    failure.kind,
                    f"the DNS domain of operator {account.text} is not known because {unread[0].name} could not be "
                    f"read: {failure.message}",
                )
            raise DirectoryError(
                "unknown_domain",
                f"cannot tell which DNS domain the NetBIOS domain {account.netbios} of operator {account.text} is: "
                "it is not the NetBIOS name of a collected domain nor of a trusted one. Write the operator as "
                "user@dns.domain in the inventory.",
            )
        if len(domains) == 1:
            return next(iter(domains))
        raise DirectoryError(
            "unknown_domain",
            f"operator {account.text} names no domain and the fleet spans {len(domains)}; write it as DOMAIN\\user "
            "or user@dns.domain",
        )

    def collect_operator(self, domains: dict[str, _Domain]) -> dict[str, Any] | None:
        text = self.inventory.operator
        if not text:
            return None
        command = f"ldap lookup of operator {text}"
        try:
            account = ldap_domain.parse_operator_account(text)
        except ValueError as exc:
            return error_fact("config", f"{exc}; write it as DOMAIN\\user or user@dns.domain", "ldap", None, command)
        try:
            domain = self.operator_domain(account, domains)
        except DirectoryError as exc:
            return error_fact(exc.kind, exc.message, "ldap", None, command)
        dom = domains.get(domain)
        if dom is None:
            # The inventory's operator names this domain (as user@domain, or by a NetBIOS name that
            # a domain already read, or its trust, resolved): the operator's choice, not a host's.
            self.password_domains = self.password_domains | {domain.lower()}
            dom = _Domain(domain, [], {})
            domains[domain] = dom
            self.domains_total += 1
            self.collect_domain(dom)
        if dom.session is None or dom.read is None:
            failure = dom.failure or DirectoryError("internal_error", "domain not read")
            return error_fact(failure.kind, f"{domain}: {failure.message}", "ldap", None, command)
        command = ldap_domain.operator_command(dom.read.base_dn, account)
        try:
            value = ldap_domain.read_operator(dom.session, dom.read.base_dn, domain, account)
        except Exception as exc:
            err = exc if isinstance(exc, DirectoryError) else self.internal(exc)
            return error_fact(err.kind, err.message, "ldap", dom.session.dc.name, command)
        self.progress(f"ldap {domain}: operator {value['sAMAccountName']} has {len(value['tokenGroups'])} group SIDs")
        return value_fact(value, "ldap", dom.session.dc.name, command)

    def dns_facts(self, names: dict[str, HostName]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.resolver is None:
            assert self.resolver_error is not None
            for host, hn in names.items():
                out[host] = error_fact(
                    self.resolver_error.kind, self.resolver_error.message, "dns", None, f"A/AAAA {hn.fqdn}; PTR"
                )
            return out
        resolver = self.resolver

        def one(hn: HostName) -> dict[str, Any]:
            command = f"A/AAAA {hn.fqdn}; PTR of each address"
            try:
                if ldap_conn.is_address(hn.fqdn):  # named by an address that has no PTR name
                    value = {"name": hn.fqdn, "A": [], "AAAA": [], "PTR": {hn.fqdn: []}}
                    return value_fact(value, "dns", None, f"PTR {hn.fqdn}")
                return value_fact(dns_lookup.host_records(resolver, hn.fqdn), "dns", None, command)
            except DnsLookupError as exc:
                return error_fact(exc.kind, exc.message, "dns", None, command)
            except Exception as exc:  # one odd name must not cost the other hosts their DNS facts
                err = self.internal(exc)
                return error_fact(err.kind, err.message, "dns", None, command)

        self.progress(f"dns: looking up {count(len(names), 'host')}")
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(names)))) as pool:
            for host, fact in zip(names, pool.map(one, names.values()), strict=True):
                out[host] = fact
        return out


def _password_domains(inventory: Inventory, options: DirectoryOptions) -> frozenset[str]:
    """The DNS domains the operator named, whose DCs may receive a simple or NTLM bind password:
    suffixes of inventory host names, inventory `domain` settings, and the UPN suffixes of the
    bind user and the operator. Never a domain only a host's own report or DNS gave."""
    found: set[str] = set()
    for host in inventory.host_names:
        if not ldap_conn.is_address(host) and (suffix := _suffix(host)):
            found.add(suffix)
        setting = inventory.connection(host).get("domain")
        if isinstance(setting, str) and setting.strip(" ."):
            found.add(setting)
    for account in (options.username, inventory.operator):
        if account and "@" in account:
            found.add(account.rsplit("@", 1)[1])
    return frozenset(d.strip().strip(".").lower() for d in found if d.strip().strip("."))


def _suffix(name: str) -> str | None:
    """The DNS domain of a fully qualified name (None for a short name)."""
    return name.split(".", 1)[1] if "." in name.strip(".") else None


def collect_directory(
    inventory: Inventory,
    options: DirectoryOptions,
    host_domains: Mapping[str, str | None],
    progress: Progress | None = None,
    credentials: Credentials | None = None,
    on_domain: DomainStatus | None = None,
) -> dict[str, Any]:
    """Collect AD and DNS facts for the inventory.

    ``credentials`` are the bind's, password already read (``bind_credentials``); without them a
    simple or NTLM bind reads the password when the first bind needs it. ``on_domain`` hears how
    far the domains are: (done, total, domain being read, its DC), and (total, total, None, None)
    at the end.

    ``host_domains`` maps inventory host names to their DNS domain (what the host reports, or the
    inventory's ``domain`` setting). None means "not in a domain": the host gets DNS facts but no
    AD lookup. A host missing from the mapping takes the suffix of its name when it is an FQDN.

    Returns ``{"domains": {domain: {"info", "domain_controllers", "computers", "trusts"}},
    "dns": {host: fact}, "operator": fact}``, every fact made with value_fact/error_fact. The
    "operator" key is absent when the inventory names no operator; "computers" is absent for a
    domain that only the operator belongs to.
    """
    collector = _Collector(inventory, options, progress, credentials, on_domain)
    log.info(
        "directory: TLS %s, bind %s%s, DNS %s, timeout %g s", options.tls, options.auth,
        f" as {credentials.user}" if credentials is not None and credentials.user else "",
        ", ".join(options.dns_servers) or "the system resolver", options.timeout,
    )
    names: dict[str, HostName] = {}
    by_domain: dict[str, list[HostName]] = {}
    for host in inventory.host_names:
        if ldap_conn.is_address(host):
            hn, domain = collector.name_of_address(host, host_domains.get(host))
        else:
            domain = host_domains[host] if host in host_domains else _suffix(host)
            domain = domain.strip().strip(".").lower() if domain else None
            hn = HostName.of(host, domain)
        names[host] = hn
        if domain:
            by_domain.setdefault(domain, []).append(hn)

    domains: dict[str, _Domain] = {d: _Domain(d, hs, {}) for d, hs in sorted(by_domain.items())}
    collector.domains_total = len(domains)
    log.info("directory: %d domain(s) to read: %s", len(domains), ", ".join(domains) or "none")
    try:
        for dom in list(domains.values()):
            collector.collect_domain(dom)
        collector.finish_computers(list(domains.values()))
        operator = collector.collect_operator(domains)
    finally:
        for dom in domains.values():
            if dom.session is not None:
                dom.session.close()
    result: dict[str, Any] = {
        "domains": {name: dom.facts for name, dom in domains.items()},
        "dns": collector.dns_facts(names),
    }
    collector.status(None)
    if operator is not None:
        result["operator"] = operator
    return result
