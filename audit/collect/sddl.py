"""Windows SIDs and security descriptors, binary and SDDL: just enough to read delegation ACLs.

Resource-based constrained delegation lives in msDS-AllowedToActOnBehalfOfOtherIdentity, which
LDAP returns as a self-relative binary SECURITY_DESCRIPTOR ([MS-DTYP] 2.4.6). The principals a
host lets act on its behalf are the SIDs of the ACCESS_ALLOWED ACEs of its DACL. Parsing is strict
(every offset and length is bounds-checked) because the bytes come from the network; a malformed
descriptor raises SecurityDescriptorError rather than yielding a half-read principal list.

The SDDL side (parse_sddl / to_sddl) exists so tests and messages can write and show descriptors
the way administrators read them: ``O:BAD:(A;;0xf01ff;;;S-1-5-21-...-1105)``.
"""

from __future__ import annotations

import re
import struct
import uuid
from dataclasses import dataclass, field

__all__ = [
    "ACCESS_ALLOWED",
    "ACCESS_ALLOWED_CALLBACK",
    "ACCESS_ALLOWED_CALLBACK_OBJECT",
    "ACCESS_ALLOWED_OBJECT",
    "ACCESS_DENIED",
    "ACCESS_DENIED_CALLBACK",
    "ACCESS_DENIED_CALLBACK_OBJECT",
    "ACCESS_DENIED_OBJECT",
    "INHERIT_ONLY",
    "Ace",
    "SecurityDescriptor",
    "SecurityDescriptorError",
    "allowed_principals",
    "build_security_descriptor",
    "extended_right_holders",
    "parse_sddl",
    "parse_security_descriptor",
    "sid_from_bytes",
    "sid_to_bytes",
    "to_sddl",
]

ACCESS_ALLOWED = 0x00
ACCESS_DENIED = 0x01
SYSTEM_AUDIT = 0x02
ACCESS_ALLOWED_OBJECT = 0x05
ACCESS_DENIED_OBJECT = 0x06
SYSTEM_AUDIT_OBJECT = 0x07
ACCESS_ALLOWED_CALLBACK = 0x09
ACCESS_DENIED_CALLBACK = 0x0A
ACCESS_ALLOWED_CALLBACK_OBJECT = 0x0B
ACCESS_DENIED_CALLBACK_OBJECT = 0x0C
SYSTEM_MANDATORY_LABEL = 0x11

_ALLOW_TYPES = {ACCESS_ALLOWED, ACCESS_ALLOWED_OBJECT, ACCESS_ALLOWED_CALLBACK, ACCESS_ALLOWED_CALLBACK_OBJECT}
_DENY_TYPES = {ACCESS_DENIED, ACCESS_DENIED_OBJECT, ACCESS_DENIED_CALLBACK, ACCESS_DENIED_CALLBACK_OBJECT}
_OBJECT_TYPES = {
    ACCESS_ALLOWED_OBJECT,
    ACCESS_DENIED_OBJECT,
    SYSTEM_AUDIT_OBJECT,
    ACCESS_ALLOWED_CALLBACK_OBJECT,
    ACCESS_DENIED_CALLBACK_OBJECT,
}
_CALLBACK_TYPES = {
    ACCESS_ALLOWED_CALLBACK,
    ACCESS_DENIED_CALLBACK,
    ACCESS_ALLOWED_CALLBACK_OBJECT,
    ACCESS_DENIED_CALLBACK_OBJECT,
}

# ACE flags
INHERIT_ONLY = 0x08
_ACE_FLAGS = {"OI": 0x01, "CI": 0x02, "NP": 0x04, "IO": 0x08, "ID": 0x10, "SA": 0x40, "FA": 0x80}

# SECURITY_DESCRIPTOR control bits
_SE_DACL_PRESENT = 0x0004
_SE_SACL_PRESENT = 0x0010
_SE_DACL_PROTECTED = 0x1000
_SE_SELF_RELATIVE = 0x8000
_OBJECT_TYPE_PRESENT = 0x1
_INHERITED_OBJECT_TYPE_PRESENT = 0x2

_ACE_TYPES = {
    "A": ACCESS_ALLOWED,
    "D": ACCESS_DENIED,
    "AU": SYSTEM_AUDIT,
    "OA": ACCESS_ALLOWED_OBJECT,
    "OD": ACCESS_DENIED_OBJECT,
    "OU": SYSTEM_AUDIT_OBJECT,
    "XA": ACCESS_ALLOWED_CALLBACK,
    "XD": ACCESS_DENIED_CALLBACK,
    "ZA": ACCESS_ALLOWED_CALLBACK_OBJECT,
    "ML": SYSTEM_MANDATORY_LABEL,
}
_ACE_TYPE_NAMES = {v: k for k, v in _ACE_TYPES.items()} | {ACCESS_DENIED_CALLBACK_OBJECT: "ZD"}

# Access rights as SDDL two-letter codes ([MS-DTYP] 2.5.1.1, directory-service meanings).
_RIGHTS = {
    "GA": 0x10000000,
    "GR": 0x80000000,
    "GW": 0x40000000,
    "GX": 0x20000000,
    "RC": 0x00020000,
    "SD": 0x00010000,
    "WD": 0x00040000,
    "WO": 0x00080000,
    "RP": 0x00000010,
    "WP": 0x00000020,
    "CC": 0x00000001,
    "DC": 0x00000002,
    "LC": 0x00000004,
    "SW": 0x00000008,
    "LO": 0x00000080,
    "DT": 0x00000040,
    "CR": 0x00000100,
}
_RIGHTS_ORDER = ("CC", "DC", "LC", "SW", "RP", "WP", "DT", "LO", "CR", "SD", "RC", "WD", "WO", "GA", "GX", "GW", "GR")

# Well-known SIDs that SDDL writes as two letters (the domain-relative ones need a domain SID and
# are left out on purpose: a descriptor read from LDAP always carries full SIDs).
_SID_ALIASES = {
    "WD": "S-1-1-0",
    "CO": "S-1-3-0",
    "CG": "S-1-3-1",
    "NU": "S-1-5-2",
    "IU": "S-1-5-4",
    "SU": "S-1-5-6",
    "AN": "S-1-5-7",
    "ED": "S-1-5-9",
    "PS": "S-1-5-10",
    "AU": "S-1-5-11",
    "RC": "S-1-5-12",
    "SY": "S-1-5-18",
    "LS": "S-1-5-19",
    "NS": "S-1-5-20",
    "BA": "S-1-5-32-544",
    "BU": "S-1-5-32-545",
    "BG": "S-1-5-32-546",
    "PU": "S-1-5-32-547",
    "AO": "S-1-5-32-548",
    "SO": "S-1-5-32-549",
    "PO": "S-1-5-32-550",
    "BO": "S-1-5-32-551",
    "RE": "S-1-5-32-552",
    "RU": "S-1-5-32-554",
    "RD": "S-1-5-32-555",
    "NO": "S-1-5-32-556",
    "HA": "S-1-5-32-578",
    "AA": "S-1-5-32-579",
    "RM": "S-1-5-32-580",
}
_SID_BY_ALIAS_VALUE = {v: k for k, v in _SID_ALIASES.items()}
_SID_RE = re.compile(r"^S-1-(\d+)((?:-\d+){0,15})$", re.IGNORECASE)


class SecurityDescriptorError(ValueError):
    """Bytes or text that are not a valid SID or security descriptor."""


# -- SIDs -------------------------------------------------------------------------------------


def sid_from_bytes(data: bytes, offset: int = 0) -> str:
    """The S-1-... string of the binary SID at ``offset`` ([MS-DTYP] 2.4.2.2)."""
    if len(data) < offset + 8:
        raise SecurityDescriptorError(f"SID at offset {offset} is truncated")
    revision, count = data[offset], data[offset + 1]
    if revision != 1 or count > 15:
        raise SecurityDescriptorError(f"not a SID at offset {offset} (revision {revision}, {count} sub-authorities)")
    end = offset + 8 + 4 * count
    if len(data) < end:
        raise SecurityDescriptorError(f"SID at offset {offset} is truncated")
    authority = int.from_bytes(data[offset + 2 : offset + 8], "big")
    subs = struct.unpack_from(f"<{count}I", data, offset + 8)
    return "S-1-" + "-".join(str(x) for x in (authority, *subs))


def sid_length(data: bytes, offset: int) -> int:
    if len(data) < offset + 2:
        raise SecurityDescriptorError(f"SID at offset {offset} is truncated")
    return 8 + 4 * data[offset + 1]


def sid_to_bytes(sid: str) -> bytes:
    """The binary form of an S-1-... string (also accepts the SDDL two-letter aliases)."""
    text = _SID_ALIASES.get(sid.upper(), sid) if len(sid) == 2 else sid
    m = _SID_RE.match(text)
    if not m:
        raise SecurityDescriptorError(f"{sid!r} is not a SID")
    authority = int(m.group(1))
    subs = [int(x) for x in m.group(2).split("-")[1:]]
    if authority >= 2**48 or any(s >= 2**32 for s in subs):
        raise SecurityDescriptorError(f"{sid!r} has a value out of range")
    return bytes([1, len(subs)]) + authority.to_bytes(6, "big") + struct.pack(f"<{len(subs)}I", *subs)


def _canonical_sid(sid: str) -> str:
    data = sid_to_bytes(sid)
    return sid_from_bytes(data)


# -- descriptors ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ace:
    """One access control entry. ``object_type`` GUIDs restrict an object ACE to a property or right."""

    type: int
    flags: int
    mask: int
    sid: str
    object_type: str | None = None
    inherited_object_type: str | None = None
    application_data: bytes = b""

    @property
    def allows(self) -> bool:
        return self.type in _ALLOW_TYPES

    @property
    def denies(self) -> bool:
        return self.type in _DENY_TYPES

    @property
    def applies_to_object(self) -> bool:
        """An inherit-only ACE is a template for children and grants nothing on this object."""
        return not self.flags & INHERIT_ONLY


@dataclass(frozen=True)
class SecurityDescriptor:
    owner: str | None
    group: str | None
    dacl: tuple[Ace, ...] | None  # None: no DACL (everyone has access); (): empty DACL (no one)
    sacl: tuple[Ace, ...] | None = None
    control: int = _SE_SELF_RELATIVE
    revision: int = 1
    acl_revision: int = field(default=4, compare=False)


def _u16(data: bytes, off: int) -> int:
    return int(struct.unpack_from("<H", data, off)[0])


def _u32(data: bytes, off: int) -> int:
    return int(struct.unpack_from("<I", data, off)[0])


def _parse_acl(data: bytes, offset: int) -> tuple[tuple[Ace, ...], int]:
    if len(data) < offset + 8:
        raise SecurityDescriptorError(f"ACL at offset {offset} is truncated")
    revision = data[offset]
    size, count = _u16(data, offset + 2), _u16(data, offset + 4)
    if revision not in (2, 4) or offset + size > len(data) or size < 8:
        raise SecurityDescriptorError(f"ACL at offset {offset} is invalid (revision {revision}, size {size})")
    aces: list[Ace] = []
    pos, end = offset + 8, offset + size
    for i in range(count):
        if pos + 4 > end:
            raise SecurityDescriptorError(f"ACE {i} of the ACL at offset {offset} is truncated")
        ace_type, ace_flags, ace_size = data[pos], data[pos + 1], _u16(data, pos + 2)
        if ace_size < 8 or pos + ace_size > end:
            raise SecurityDescriptorError(f"ACE {i} of the ACL at offset {offset} has a bad size {ace_size}")
        body = data[: pos + ace_size]  # bound every read to this ACE
        mask = _u32(body, pos + 4)
        cur = pos + 8
        object_type = inherited = None
        if ace_type in _OBJECT_TYPES:
            if cur + 4 > len(body):
                raise SecurityDescriptorError(f"object ACE {i} is truncated")
            oflags = _u32(body, cur)
            cur += 4
            if oflags & _OBJECT_TYPE_PRESENT:
                if cur + 16 > len(body):
                    raise SecurityDescriptorError(f"object ACE {i} is truncated")
                object_type = str(uuid.UUID(bytes_le=bytes(body[cur : cur + 16])))
                cur += 16
            if oflags & _INHERITED_OBJECT_TYPE_PRESENT:
                if cur + 16 > len(body):
                    raise SecurityDescriptorError(f"object ACE {i} is truncated")
                inherited = str(uuid.UUID(bytes_le=bytes(body[cur : cur + 16])))
                cur += 16
        sid = sid_from_bytes(body, cur)
        cur += sid_length(body, cur)
        app = bytes(body[cur:]) if ace_type in _CALLBACK_TYPES else b""
        aces.append(Ace(ace_type, ace_flags, mask, sid, object_type, inherited, app))
        pos += ace_size
    return tuple(aces), revision


def parse_security_descriptor(data: bytes) -> SecurityDescriptor:
    """Parse a self-relative SECURITY_DESCRIPTOR as LDAP returns it."""
    if len(data) < 20:
        raise SecurityDescriptorError(f"a security descriptor needs at least 20 bytes, got {len(data)}")
    revision, control = data[0], _u16(data, 2)
    if revision != 1:
        raise SecurityDescriptorError(f"unknown security descriptor revision {revision}")
    if not control & _SE_SELF_RELATIVE:
        raise SecurityDescriptorError("not a self-relative security descriptor")
    off_owner, off_group, off_sacl, off_dacl = struct.unpack_from("<IIII", data, 4)
    owner = sid_from_bytes(data, off_owner) if off_owner else None
    group = sid_from_bytes(data, off_group) if off_group else None
    dacl: tuple[Ace, ...] | None = None
    sacl: tuple[Ace, ...] | None = None
    acl_revision = 4
    if control & _SE_DACL_PRESENT and off_dacl:
        dacl, acl_revision = _parse_acl(data, off_dacl)
    elif control & _SE_DACL_PRESENT:
        dacl = None  # present but NULL: grants everything
    if control & _SE_SACL_PRESENT and off_sacl:
        sacl, _ = _parse_acl(data, off_sacl)
    return SecurityDescriptor(owner, group, dacl, sacl, control, revision, acl_revision)


def _encode_ace(ace: Ace) -> bytes:
    body = struct.pack("<I", ace.mask)
    if ace.type in _OBJECT_TYPES:
        oflags = (_OBJECT_TYPE_PRESENT if ace.object_type else 0) | (
            _INHERITED_OBJECT_TYPE_PRESENT if ace.inherited_object_type else 0
        )
        body += struct.pack("<I", oflags)
        if ace.object_type:
            body += uuid.UUID(ace.object_type).bytes_le
        if ace.inherited_object_type:
            body += uuid.UUID(ace.inherited_object_type).bytes_le
    body += sid_to_bytes(ace.sid) + ace.application_data
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<BBH", ace.type, ace.flags, 4 + len(body)) + body


def _encode_acl(aces: tuple[Ace, ...], revision: int) -> bytes:
    body = b"".join(_encode_ace(a) for a in aces)
    return struct.pack("<BBHHH", revision, 0, 8 + len(body), len(aces), 0) + body


def build_security_descriptor(sd: SecurityDescriptor) -> bytes:
    """Encode a self-relative descriptor (the inverse of parse_security_descriptor)."""
    control = sd.control | _SE_SELF_RELATIVE
    if sd.dacl is not None:
        control |= _SE_DACL_PRESENT
    if sd.sacl is not None:
        control |= _SE_SACL_PRESENT
    parts: list[bytes] = []
    offsets = [0, 0, 0, 0]  # owner, group, sacl, dacl
    pos = 20
    acl_rev = 4 if any(a.type in _OBJECT_TYPES for a in (*(sd.dacl or ()), *(sd.sacl or ()))) else 2
    for idx, blob in (
        (2, _encode_acl(sd.sacl, acl_rev) if sd.sacl is not None else None),
        (3, _encode_acl(sd.dacl, acl_rev) if sd.dacl is not None else None),
        (0, sid_to_bytes(sd.owner) if sd.owner else None),
        (1, sid_to_bytes(sd.group) if sd.group else None),
    ):
        if blob is not None:
            offsets[idx] = pos
            parts.append(blob)
            pos += len(blob)
    header = struct.pack("<BBHIIII", 1, 0, control, *offsets)
    return header + b"".join(parts)


def allowed_principals(sd: SecurityDescriptor) -> list[str]:
    """SIDs granted access on the object itself, in DACL order, each once.

    A SID that also has a deny ACE for the object is left out: for resource-based delegation the
    KDC's access check would refuse it. Group membership cannot be expanded here, so a deny for a
    group the principal belongs to is not seen; no real RBCD descriptor written by the AD tools
    carries deny ACEs.
    """
    if sd.dacl is None:
        return []
    denied = {a.sid for a in sd.dacl if a.denies and a.applies_to_object and a.mask}
    out: list[str] = []
    for ace in sd.dacl:
        if ace.allows and ace.applies_to_object and ace.mask and ace.sid not in denied and ace.sid not in out:
            out.append(ace.sid)
    return out


CONTROL_ACCESS = 0x00000100  # ADS_RIGHT_DS_CONTROL_ACCESS: extended rights
GENERIC_ALL = 0x10000000


def extended_right_holders(sd: SecurityDescriptor, right: str) -> tuple[list[str], list[str]]:
    """(SIDs allowed, SIDs denied) the extended right ``right`` (its rightsGuid) on the object itself.

    An ACE counts when it applies to the object (not inherit-only) and grants control access for
    this right or for every extended right (an object ACE without an object type, or a plain ACE),
    or generic all. Group membership is not expanded: a SID may be a group. A NULL DACL grants
    everything to everyone (S-1-1-0).
    """
    if sd.dacl is None:
        return ["S-1-1-0"], []
    wanted = right.lower()
    allowed: list[str] = []
    denied: list[str] = []
    for ace in sd.dacl or ():
        if not ace.applies_to_object or not ace.mask & (CONTROL_ACCESS | GENERIC_ALL):
            continue
        if ace.object_type is not None and ace.object_type.lower() != wanted:
            continue
        target = allowed if ace.allows else denied if ace.denies else None
        if target is not None and ace.sid not in target:
            target.append(ace.sid)
    return allowed, denied


# -- SDDL text --------------------------------------------------------------------------------


def _rights_text(mask: int) -> str:
    names: list[str] = []
    rest = mask
    for code in _RIGHTS_ORDER:
        bit = _RIGHTS[code]
        if rest & bit:
            names.append(code)
            rest &= ~bit
    return "".join(names) if not rest and names else f"0x{mask:x}"


def _sid_text(sid: str) -> str:
    return _SID_BY_ALIAS_VALUE.get(sid, sid)


def to_sddl(sd: SecurityDescriptor) -> str:
    """The SDDL string of a descriptor (SIDs with a two-letter alias are written as it)."""
    out = ""
    if sd.owner:
        out += f"O:{_sid_text(sd.owner)}"
    if sd.group:
        out += f"G:{_sid_text(sd.group)}"
    if sd.dacl is not None:
        out += "D:" + ("P" if sd.control & _SE_DACL_PROTECTED else "")
        for ace in sd.dacl:
            flags = "".join(k for k, v in _ACE_FLAGS.items() if ace.flags & v)
            out += (
                f"({_ACE_TYPE_NAMES.get(ace.type, f'0x{ace.type:x}')};{flags};{_rights_text(ace.mask)};"
                f"{ace.object_type or ''};{ace.inherited_object_type or ''};{_sid_text(ace.sid)})"
            )
    return out


def _split_top_level(text: str) -> list[tuple[str, str]]:
    """Split SDDL into its O:/G:/D:/S: parts, ignoring colons inside ACE parentheses."""
    parts: list[tuple[str, str]] = []
    depth = 0
    start = -1
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise SecurityDescriptorError(f"unbalanced parentheses in {text!r}")
        elif depth == 0 and ch in "OGDS" and text[i + 1 : i + 2] == ":":
            if start >= 0:
                parts[-1] = (parts[-1][0], text[start:i])
            parts.append((ch, ""))
            start = i + 2
            i += 2
            continue
        elif start < 0:
            raise SecurityDescriptorError(f"not SDDL: {text!r}")
        i += 1
    if depth:
        raise SecurityDescriptorError(f"unbalanced parentheses in {text!r}")
    if not parts:
        raise SecurityDescriptorError(f"not SDDL: {text!r}")
    parts[-1] = (parts[-1][0], text[start:])
    return parts


def _parse_mask(text: str) -> int:
    if text.lower().startswith("0x"):
        return int(text, 16)
    if text.isdigit():
        return int(text)
    if len(text) % 2:
        raise SecurityDescriptorError(f"bad access rights {text!r}")
    mask = 0
    for i in range(0, len(text), 2):
        code = text[i : i + 2].upper()
        if code not in _RIGHTS:
            raise SecurityDescriptorError(f"unknown access right {code!r}")
        mask |= _RIGHTS[code]
    return mask


def _parse_ace(text: str) -> Ace:
    fields = text.split(";")
    if len(fields) != 6:
        raise SecurityDescriptorError(f"an ACE has six fields: {text!r}")
    kind, flags_text, rights, obj, inh, sid = fields
    if kind.upper() not in _ACE_TYPES:
        raise SecurityDescriptorError(f"unknown ACE type {kind!r}")
    flags = 0
    if len(flags_text) % 2:
        raise SecurityDescriptorError(f"bad ACE flags {flags_text!r}")
    for i in range(0, len(flags_text), 2):
        code = flags_text[i : i + 2].upper()
        if code not in _ACE_FLAGS:
            raise SecurityDescriptorError(f"unknown ACE flag {code!r}")
        flags |= _ACE_FLAGS[code]
    try:
        object_type = str(uuid.UUID(obj)) if obj else None
        inherited = str(uuid.UUID(inh)) if inh else None
    except ValueError as exc:
        raise SecurityDescriptorError(f"bad object GUID in {text!r}") from exc
    return Ace(_ACE_TYPES[kind.upper()], flags, _parse_mask(rights), _canonical_sid(sid), object_type, inherited)


def _parse_acl_text(text: str) -> tuple[int, tuple[Ace, ...]]:
    control = 0
    head, _, body = text.partition("(")
    body = "(" + body if body else ""
    for flag in re.findall(r"AI|AR|P|NO_ACCESS_CONTROL", head.upper()):
        if flag == "P":
            control |= _SE_DACL_PROTECTED
    aces: list[Ace] = []
    for m in re.finditer(r"\(([^()]*)\)", body):
        aces.append(_parse_ace(m.group(1)))
    if re.sub(r"\([^()]*\)", "", body).strip():
        raise SecurityDescriptorError(f"unexpected text in ACL {text!r}")
    return control, tuple(aces)


def parse_sddl(text: str) -> SecurityDescriptor:
    """Parse an SDDL string such as ``O:BAD:(A;;0xf01ff;;;S-1-5-21-1-2-3-1105)``."""
    parts: dict[str, str] = {}
    for key, value in _split_top_level(text):
        if key in parts:
            raise SecurityDescriptorError(f"{key}: appears twice in {text!r}")
        parts[key] = value
    control = _SE_SELF_RELATIVE
    dacl = sacl = None
    if "D" in parts:
        c, dacl = _parse_acl_text(parts["D"])
        control |= c | _SE_DACL_PRESENT
    if "S" in parts:
        _, sacl = _parse_acl_text(parts["S"])
        control |= _SE_SACL_PRESENT
    owner = _canonical_sid(parts["O"]) if parts.get("O") else None
    group = _canonical_sid(parts["G"]) if parts.get("G") else None
    return SecurityDescriptor(owner, group, dacl, sacl, control)
