"""Command-line options and set-up shared by `hvlm collect` and `hvlm scan`."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any

from hvlm.audit.collect import DEFAULT_CONCURRENCY, directory_module
from hvlm.audit.collect.credentials import LDAP_PASSWORD_ENV, PASSWORD_ENV, Secret, resolve_passwords
from hvlm.audit.collect.kerberos import add_kerberos_options, apply_kerberos_options
from hvlm.audit.collect.progress import Progress, make_progress
from hvlm.audit.collect.targets import (
    AUTHS,
    DEFAULT_CONNECT_TIMEOUT,
    PASSWORD_AUTHS,
    ConnectionOverrides,
    HostTarget,
    plan_targets,
    tls_warnings,
)
from hvlm.audit.errors import UsageError
from hvlm.audit.inventory import Inventory

__all__ = [
    "CollectionPlan",
    "add_collection_options",
    "add_directory_options",
    "configure_log",
    "plan_collection",
]

CREDENTIALS_HELP = (
    "credentials: the username comes from the inventory (username, per host or under [defaults]) or "
    f"HVLM_USERNAME; the password from {PASSWORD_ENV}, the system keyring (`keyring set hvlm USER`, "
    "if the keyring package is installed) or a prompt on a terminal. Never from the command line.\n"
    "The password of a simple or NTLM LDAP bind (--ldap-user, else the operator) comes the same way: "
    f"{LDAP_PASSWORD_ENV} (or {PASSWORD_ENV}), `keyring set hvlm-ldap USER`, or a prompt."
)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError("a port is 1 to 65535")
    return value


def add_collection_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connections (these override the inventory's settings)")
    g.add_argument("--transport", choices=["https", "http"], help="https (default, port 5986) or http (5985, "
                   "always with message encryption)")
    g.add_argument("--port", type=_port, help="WinRM port for every host")
    g.add_argument("--auth", choices=list(AUTHS), help="negotiate (default: Kerberos, then NTLM), kerberos, ntlm, "
                   "credssp, or basic (HTTPS only)")
    g.add_argument("--ca-bundle", metavar="FILE", help="PEM file of the CA(s) that issued the hosts' WinRM certificates")
    g.add_argument("--no-verify-tls", action="store_true",
                   help="do NOT check the hosts' TLS certificates (test labs only; prints a warning)")
    g.add_argument("--host-timeout", type=_positive_float, metavar="SECONDS",
                   help="overall deadline per host: connect, probe and close (default: 120, or timeout in the inventory)")
    g.add_argument("--connect-timeout", type=_positive_float, metavar="SECONDS", default=DEFAULT_CONNECT_TIMEOUT,
                   help=f"TCP connect timeout (default: {DEFAULT_CONNECT_TIMEOUT:g})")
    g.add_argument("--concurrency", type=_positive_int, default=DEFAULT_CONCURRENCY, metavar="N",
                   help=f"hosts probed at the same time (default: {DEFAULT_CONCURRENCY})")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    g.add_argument("--log", metavar="FILE", help="write a log of the collection to FILE (never holds passwords)")
    add_kerberos_options(p)


def add_directory_options(p: argparse.ArgumentParser) -> bool:
    """The directory collector's own options (--dc, --dns-server, ...), when this build has it."""
    module = directory_module()
    if module is None:
        return False
    module.add_directory_options(p)
    return True


@dataclass
class CollectionPlan:
    targets: list[HostTarget]
    passwords: dict[str, Secret | None]
    directory_options: Any
    progress: Progress
    directory_credentials: Any = None  # audit.collect.ldap_conn.Credentials, password read up front


_LIBRARIES = ("pypsrp", "requests", "urllib3", "spnego")


def with_log(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a command with its --log FILE configured, and closed afterwards whatever happens."""

    def wrapped(args: argparse.Namespace) -> int:
        close_log = configure_log(args.log)
        try:
            return run(args)
        finally:
            close_log()

    return wrapped


def configure_log(path: str | None) -> Callable[[], None]:
    """Log hvlm's collection to a file. pypsrp and requests only at WARNING: their DEBUG dumps messages.

    Without a log file the libraries stay silent: pypsrp logs every read timeout with a traceback,
    which Python would otherwise print on stderr over the progress line.
    """
    for name in _LIBRARIES:
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())
    if not path:
        return lambda: None
    try:
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the log {path}: {exc.strerror or exc}") from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(threadName)s: %(message)s"))
    loggers = {"hvlm": logging.DEBUG, "pypsrp": logging.WARNING, "requests": logging.WARNING,
               "urllib3": logging.WARNING, "spnego": logging.WARNING}
    previous = {}
    for name, level in loggers.items():
        logger = logging.getLogger(name)
        previous[name] = logger.level
        logger.setLevel(level)
        logger.addHandler(handler)

    def close() -> None:
        for name in loggers:
            logger = logging.getLogger(name)
            logger.removeHandler(handler)
            logger.setLevel(previous[name])
        handler.close()

    return close


_AUTH_PACKAGES = {
    "credssp": ("requests_credssp", "pip install 'pypsrp[credssp]'"),
    "kerberos": ("gssapi", "pip install 'pypsrp[kerberos]' (needs the krb5 libraries, e.g. apt install libkrb5-dev)"),
}


def _check_auth_packages(auths: set[str]) -> None:
    """CredSSP and Kerberos need optional packages; say so before connecting to anything."""
    for auth in sorted(auths & set(_AUTH_PACKAGES)):
        module, how = _AUTH_PACKAGES[auth]
        if importlib.util.find_spec(module) is None:
            raise UsageError(f"{auth} authentication needs the {module} package: {how}")


def plan_collection(
    args: argparse.Namespace,
    inventory: Inventory,
    *,
    hosts: bool,
    directory: bool,
    host_names: Container[str] | None = None,
) -> CollectionPlan:
    """Everything that can fail for usage reasons, before the first connection.

    ``host_names`` limits the hosts probed (a shard); every host's settings are still checked."""
    apply_kerberos_options(args)  # one krb5.conf and ticket cache for the WinRM and the LDAP side
    overrides = ConnectionOverrides(
        transport=args.transport,
        port=args.port,
        auth=args.auth,
        ca_bundle=args.ca_bundle,
        no_verify_tls=args.no_verify_tls,
        deadline=args.host_timeout,
        connect_timeout=args.connect_timeout,
    )
    targets = plan_targets(inventory, overrides) if hosts else []
    if host_names is not None:
        targets = [t for t in targets if t.name in host_names]
    _check_auth_packages({t.auth for t in targets})
    directory_options = None
    module = directory_module() if directory else None
    if module is not None:
        directory_options = module.directory_options_from_args(args, inventory)
    for line in tls_warnings(targets):
        print(f"hvlm: {line}", file=sys.stderr)
    passwords = resolve_passwords(sorted({t.username for t in targets if t.username}))
    missing = sorted({t.username for t in targets if t.auth in PASSWORD_AUTHS and t.username and not passwords.get(t.username)})
    if missing:
        raise UsageError(
            f"no password for {', '.join(missing)}: set {PASSWORD_ENV}, store one with `keyring set hvlm USER` "
            "(keyring package), or run hvlm on a terminal to be asked"
        )
    directory_credentials = None
    if module is not None and directory_options is not None:
        # The LDAP bind password by the same path, also read before the first connection.
        directory_credentials = module.bind_credentials(inventory, directory_options)
        if directory_credentials.auth != "gssapi" and directory_credentials.user and not directory_credentials.password:
            user = directory_credentials.user
            raise UsageError(
                f"no LDAP password for {user} (--ldap-auth {directory_credentials.auth}): set {LDAP_PASSWORD_ENV}, "
                f"store one with `keyring set hvlm-ldap {user}` (keyring package), or run hvlm on a terminal to be "
                "asked; or use --ldap-auth gssapi with a Kerberos ticket"
            )
    return CollectionPlan(
        targets, passwords, directory_options, make_progress(sys.stderr, quiet=args.quiet), directory_credentials
    )
