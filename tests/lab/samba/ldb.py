"""Direct access to a lab DC's database with Samba's ldb tools, plus LDIF building.

Why ldb tools and not LDAP: writing ``private/sam.ldb`` locally runs the same DSDB module stack as
the LDAP server (SIDs allocated, passwords hashed into Kerberos keys) but as the system, so one
``ldbadd`` process can add 200 computers in one transaction (about 6 s, mostly key derivation),
works whether the DC runs or not, and may set what LDAP refuses even to Administrator. The DC sees
the changes at once (it reads the same files under the same locks).

The ldb tools read /etc/samba/smb.conf unless told: always ``--configfile=<lab smb.conf>`` (for
them ``-s`` means search scope).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from pathlib import Path

from ._proc import run


def _ldif_safe(value: str) -> bool:
    """RFC 2849 SAFE-STRING: 7-bit, no NUL/CR/LF, not starting with space, ':' or '<'."""
    if not value:
        return True
    if value[0] in " :<" or value.endswith(" "):
        return False
    return all(0 < ord(ch) < 128 and ch not in "\r\n" for ch in value)


def ldif_line(attribute: str, value: str | bytes) -> str:
    """One LDIF ``attr: value`` line, base64 (``attr:: ...``) when RFC 2849 requires it."""
    if isinstance(value, bytes):
        return f"{attribute}:: {base64.b64encode(value).decode('ascii')}"
    if _ldif_safe(value):
        return f"{attribute}: {value}"
    return f"{attribute}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"


def ldif_record(dn: str, attributes: Sequence[tuple[str, str | bytes]], changetype: str | None = None) -> str:
    """An LDIF record; ``attributes`` is a list of (name, value) pairs (repeat a name for more values)."""
    lines = [ldif_line("dn", dn)]
    if changetype:
        lines.append(f"changetype: {changetype}")
    lines += [ldif_line(name, value) for name, value in attributes]
    return "\n".join(lines) + "\n"


def ldif_modify(dn: str, operation: str, attribute: str, values: Iterable[str | bytes]) -> str:
    """A ``changetype: modify`` record with one operation (add / replace / delete) on one attribute."""
    lines = [ldif_line("dn", dn), "changetype: modify", f"{operation}: {attribute}"]
    lines += [ldif_line(attribute, v) for v in values]
    lines.append("-")
    return "\n".join(lines) + "\n"


def escape_rdn_value(value: str) -> str:
    """Escape an RDN value (RFC 4514) so names with commas and the like make valid DNs."""
    out = []
    for i, ch in enumerate(value):
        if ch in ',+"\\<>;=' or (ch == "#" and i == 0) or (ch == " " and i in (0, len(value) - 1)):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def unicode_pwd(password: str) -> bytes:
    """The unicodePwd value AD expects: the quoted password in UTF-16-LE."""
    return f'"{password}"'.encode("utf-16-le")


class LdbTools:
    """Runs ldbadd / ldbmodify / ldbsearch on one DC's sam.ldb with that DC's config."""

    def __init__(self, smb_conf: Path, sam_ldb: Path) -> None:
        self._conf = smb_conf
        self.sam_ldb = sam_ldb

    def _base(self, tool: str) -> list[str]:
        return [tool, f"--configfile={self._conf}", "-H", str(self.sam_ldb)]

    def add(self, ldif: str, secrets: Iterable[str] = ()) -> None:
        """Add every record of ``ldif`` in one process (one transaction)."""
        if ldif.strip():
            run(self._base("ldbadd"), input_text=ldif, secrets=secrets)

    def modify(self, ldif: str, secrets: Iterable[str] = ()) -> None:
        """Apply every ``changetype`` record of ``ldif`` in one process."""
        if ldif.strip():
            run(self._base("ldbmodify"), input_text=ldif, secrets=secrets)

    def search(
        self, ldap_filter: str, attributes: Sequence[str] = (), base: str | None = None, scope: str = "sub"
    ) -> list[dict[str, list[str]]]:
        """Entries matching ``ldap_filter`` as {attribute: [values]} with a ``dn`` key; binary
        values come back base64-decoded as latin-1 text (use for DNs, names, SIDs)."""
        args = [*self._base("ldbsearch"), "-s", scope]
        if base:
            args += ["-b", base]
        args += [ldap_filter, *attributes]
        return parse_ldif(run(args).stdout)


def parse_ldif(text: str) -> list[dict[str, list[str]]]:
    """Parse ldbsearch output (folded lines, ``::`` base64 values); referrals are skipped."""
    entries: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] | None = None
    unfolded: list[str] = []
    for raw in text.splitlines():
        if raw.startswith(" ") and unfolded:
            unfolded[-1] += raw[1:]
        else:
            unfolded.append(raw)
    for line in unfolded:
        if not line or line.startswith("#"):
            if current is not None and not line:
                entries.append(current)
                current = None
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        if value.startswith(":"):
            data = base64.b64decode(value[1:].strip())
            try:
                value = data.decode("utf-8")
            except UnicodeDecodeError:
                value = data.decode("latin-1")
        else:
            value = value.strip()
        if name == "ref":
            current = None
            continue
        if name == "dn":
            if current is not None:
                entries.append(current)
            current = {"dn": [value]}
        elif current is not None:
            current.setdefault(name, []).append(value)
    if current is not None:
        entries.append(current)
    return entries
