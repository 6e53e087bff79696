"""Passwords for the accounts hvlm connects with: environment, system keyring or a prompt.

Never from the command line (it would show in `ps` and shell history), never in an inventory,
and never written anywhere: a password lives in a `Secret`, whose repr is masked so that a stray
log line or traceback cannot print it. The snapshot records the username at most.
"""

from __future__ import annotations

import getpass
import importlib
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TextIO

__all__ = [
    "KEYRING_SERVICE",
    "LDAP_KEYRING_SERVICE",
    "LDAP_PASSWORD_ENV",
    "PASSWORD_ENV",
    "USERNAME_ENV",
    "Secret",
    "redact",
    "resolve_ldap_password",
    "resolve_passwords",
    "resolve_secret",
]

PASSWORD_ENV = "HVLM_PASSWORD"  # noqa: S105 - the variable's name, not a password
LDAP_PASSWORD_ENV = "HVLM_LDAP_PASSWORD"  # noqa: S105 - the variable's name, not a password
USERNAME_ENV = "HVLM_USERNAME"
KEYRING_SERVICE = "hvlm"  # WinRM accounts: `keyring set hvlm USER`
LDAP_KEYRING_SERVICE = "hvlm-ldap"  # the LDAP bind account: `keyring set hvlm-ldap USER`
log = logging.getLogger(__name__)


class Secret:
    """A password that does not print itself."""

    __slots__ = ("_derived", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        self._derived: dict[str, str] = {}

    def reveal(self) -> str:
        return self._value

    def derived(self, name: str, derive: Callable[[str], str]) -> str:
        """A value computed from this password alone (its NTLM hashes), computed once and kept
        with it: in memory only, never printed nor serialised. A Secret's password never changes;
        a new password is a new Secret, which derives its own."""
        value = self._derived.get(name)
        if value is None:
            value = derive(self._value)
            self._derived[name] = value  # two threads deriving at once store the same value
        return value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not serialisable")


def _from_keyring(username: str, service: str = KEYRING_SERVICE) -> str | None:
    """The `keyring` package is optional: `pip install keyring`, then `keyring set SERVICE USER`."""
    try:
        keyring: Any = importlib.import_module("keyring")
    except ImportError:
        return None
    try:
        value = keyring.get_password(service, username)
    except Exception as exc:  # any backend failure means "no password from the keyring"
        log.debug("keyring lookup (%s) for %s failed: %s", service, username, type(exc).__name__)
        return None
    return value if isinstance(value, str) and value else None


def _is_tty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def resolve_secret(
    username: str,
    *,
    env_vars: Sequence[str],
    services: Sequence[str],
    prompt_text: str,
    env: Mapping[str, str] | None = None,
    interactive: bool | None = None,
    prompt: Callable[[str], str] | None = None,
    stream: TextIO | None = None,
) -> Secret | None:
    """One password: the first environment variable set, else the first keyring service holding
    one for `username`, else a prompt when stdin is a terminal; None when none of them gives one."""
    environ = os.environ if env is None else env
    for name in env_vars:
        if environ.get(name):
            log.debug("password for %s from %s", username, name)
            return Secret(environ[name])
    for service in services:
        stored = _from_keyring(username, service)
        if stored is not None:
            log.debug("password for %s from the system keyring (service %s)", username, service)
            return Secret(stored)
    if interactive is None:
        interactive = _is_tty(sys.stdin)
    if not interactive:
        return None
    ask = prompt or (lambda text: getpass.getpass(text, stream=stream or sys.stderr))
    typed = ask(prompt_text)
    return Secret(typed) if typed else None


def resolve_passwords(
    usernames: Iterable[str],
    *,
    env: Mapping[str, str] | None = None,
    interactive: bool | None = None,
    prompt: Callable[[str], str] | None = None,
    stream: TextIO | None = None,
) -> dict[str, Secret | None]:
    """One WinRM password per distinct username, asked for once, before any connection is made.

    Order: HVLM_PASSWORD, then the system keyring (service "hvlm"), then a prompt when stdin is a
    terminal. None when none of them gives one (Kerberos may still work from a ticket cache).
    """
    return {
        username: resolve_secret(
            username, env_vars=(PASSWORD_ENV,), services=(KEYRING_SERVICE,), prompt_text=f"Password for {username}: ",
            env=env, interactive=interactive, prompt=prompt, stream=stream,
        )
        for username in dict.fromkeys(usernames)
    }


def resolve_ldap_password(
    username: str,
    *,
    env: Mapping[str, str] | None = None,
    interactive: bool | None = None,
    prompt: Callable[[str], str] | None = None,
    stream: TextIO | None = None,
) -> Secret | None:
    """The password of a simple or NTLM LDAP bind, by the same path as the WinRM one.

    Order: HVLM_LDAP_PASSWORD, HVLM_PASSWORD (the same account for both), the keyring services
    "hvlm-ldap" then "hvlm", then a prompt when stdin is a terminal.
    """
    return resolve_secret(
        username, env_vars=(LDAP_PASSWORD_ENV, PASSWORD_ENV), services=(LDAP_KEYRING_SERVICE, KEYRING_SERVICE),
        prompt_text=f"LDAP password for {username}: ", env=env, interactive=interactive, prompt=prompt, stream=stream,
    )


def redact(text: str, secrets: Iterable[Secret | None]) -> str:
    """Belt and braces: blank out any password that found its way into a message."""
    for secret in secrets:
        if secret is not None and len(secret.reveal()) >= 3:
            text = text.replace(secret.reveal(), "********")
    return text
