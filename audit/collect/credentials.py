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
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

__all__ = ["PASSWORD_ENV", "USERNAME_ENV", "Secret", "redact", "resolve_passwords"]

PASSWORD_ENV = "HVLM_PASSWORD"  # noqa: S105 - the variable's name, not a password
USERNAME_ENV = "HVLM_USERNAME"
KEYRING_SERVICE = "hvlm"
log = logging.getLogger(__name__)


class Secret:
    """A password that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not serialisable")


def _from_keyring(username: str) -> str | None:
    """The `keyring` package is optional: `pip install keyring`, then `keyring set hvlm USER`."""
    try:
        keyring: Any = importlib.import_module("keyring")
    except ImportError:
        return None
    try:
        value = keyring.get_password(KEYRING_SERVICE, username)
    except Exception as exc:  # any backend failure means "no password from the keyring"
        log.debug("keyring lookup for %s failed: %s", username, type(exc).__name__)
        return None
    return value if isinstance(value, str) and value else None


def _is_tty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def resolve_passwords(
    usernames: Iterable[str],
    *,
    env: Mapping[str, str] | None = None,
    interactive: bool | None = None,
    prompt: Callable[[str], str] | None = None,
    stream: TextIO | None = None,
) -> dict[str, Secret | None]:
    """One password per distinct username, asked for once, before any connection is made.

    Order: HVLM_PASSWORD, then the system keyring (service "hvlm"), then a prompt when stdin is a
    terminal. None when none of them gives one (Kerberos may still work from a ticket cache).
    """
    environ = os.environ if env is None else env
    if interactive is None:
        interactive = _is_tty(sys.stdin)
    ask = prompt or (lambda text: getpass.getpass(text, stream=stream or sys.stderr))
    result: dict[str, Secret | None] = {}
    from_env = environ.get(PASSWORD_ENV) or None
    for username in dict.fromkeys(usernames):
        if from_env is not None:
            result[username] = Secret(from_env)
            continue
        stored = _from_keyring(username)
        if stored is not None:
            log.debug("password for %s from the system keyring", username)
            result[username] = Secret(stored)
            continue
        if interactive:
            typed = ask(f"Password for {username}: ")
            result[username] = Secret(typed) if typed else None
            continue
        result[username] = None
    return result


def redact(text: str, secrets: Iterable[Secret | None]) -> str:
    """Belt and braces: blank out any password that found its way into a message."""
    for secret in secrets:
        if secret is not None and len(secret.reveal()) >= 3:
            text = text.replace(secret.reveal(), "********")
    return text
