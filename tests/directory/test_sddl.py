"""The SID and security-descriptor codec that decodes resource-based delegation."""

from __future__ import annotations

import contextlib
import random
import struct

import pytest

from hvlm.audit.collect.sddl import (
    ACCESS_ALLOWED,
    ACCESS_ALLOWED_OBJECT,
    ACCESS_DENIED,
    INHERIT_ONLY,
    Ace,
    SecurityDescriptor,
    SecurityDescriptorError,
    allowed_principals,
    build_security_descriptor,
    parse_sddl,
    parse_security_descriptor,
    sid_from_bytes,
    sid_to_bytes,
    to_sddl,
)

# msDS-AllowedToActOnBehalfOfOtherIdentity of HV02$ exactly as Samba 4.17 returned it over LDAP
# after `samba-tool delegation add-principal 'HV02$' 'HV01$'` (HV01$ is ...-1103).
SAMBA_RBCD = bytes.fromhex(
    "010004801400000000000000000000002400000001020000000000052000000020020000"
    "04002c000100000000002400ff010f0001050000000000051500000"
    "07b041fc0a058de79b583ffa24f040000"
)
HV01_SID = "S-1-5-21-3223258235-2044614816-2734654389-1103"


def test_sid_round_trip_of_known_values() -> None:
    assert sid_to_bytes("S-1-5-32-544").hex() == "01020000000000052000000020020000"
    assert sid_from_bytes(bytes.fromhex("01020000000000052000000020020000")) == "S-1-5-32-544"
    assert sid_from_bytes(sid_to_bytes("S-1-1-0")) == "S-1-1-0"
    assert sid_from_bytes(sid_to_bytes(HV01_SID)) == HV01_SID
    assert sid_to_bytes("BA") == sid_to_bytes("S-1-5-32-544")


@pytest.mark.parametrize("bad", ["", "S-1", "S-2-5-32", "X-1-5", "S-1-5-" + "-".join(["1"] * 16), "S-1-5-4294967296"])
def test_bad_sid_text_is_refused(bad: str) -> None:
    with pytest.raises(SecurityDescriptorError):
        sid_to_bytes(bad)


def test_truncated_or_foreign_sid_bytes_are_refused() -> None:
    raw = sid_to_bytes(HV01_SID)
    for cut in range(len(raw)):
        with pytest.raises(SecurityDescriptorError):
            sid_from_bytes(raw[:cut])
    with pytest.raises(SecurityDescriptorError):
        sid_from_bytes(b"\x02" + raw[1:])  # revision 2 does not exist


def test_samba_descriptor_decodes_to_the_delegating_computer() -> None:
    sd = parse_security_descriptor(SAMBA_RBCD)
    assert sd.owner == "S-1-5-32-544"
    assert sd.group is None
    assert sd.dacl == (Ace(ACCESS_ALLOWED, 0, 0xF01FF, HV01_SID),)
    assert allowed_principals(sd) == [HV01_SID]
    assert to_sddl(sd) == f"O:BAD:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;{HV01_SID})"


def test_sddl_and_binary_round_trip() -> None:
    text = (
        "O:BAG:SYD:P(A;;0xf01ff;;;S-1-5-21-1-2-3-1105)(D;;GA;;;S-1-5-21-1-2-3-1106)"
        "(OA;CIIO;RPWP;bf967a86-0de6-11d0-a285-00aa003049e2;;AU)(A;ID;CR;;;WD)"
    )
    sd = parse_sddl(text)
    assert parse_security_descriptor(build_security_descriptor(sd)) == sd
    assert parse_sddl(to_sddl(sd)) == sd
    assert sd.dacl is not None and sd.dacl[2].type == ACCESS_ALLOWED_OBJECT
    assert sd.dacl[2].object_type == "bf967a86-0de6-11d0-a285-00aa003049e2"


def test_principals_skip_denied_inherit_only_and_empty_masks_and_keep_order() -> None:
    sd = parse_sddl(
        "O:BAD:(A;;0xf01ff;;;S-1-5-21-1-2-3-1002)(A;;0xf01ff;;;S-1-5-21-1-2-3-1001)"
        "(D;;CR;;;S-1-5-21-1-2-3-1003)(A;;CR;;;S-1-5-21-1-2-3-1003)"
        "(A;IO;CR;;;S-1-5-21-1-2-3-1004)(A;;0x0;;;S-1-5-21-1-2-3-1005)(A;;CR;;;S-1-5-21-1-2-3-1002)"
    )
    assert allowed_principals(sd) == ["S-1-5-21-1-2-3-1002", "S-1-5-21-1-2-3-1001"]
    assert sd.dacl is not None and sd.dacl[4].flags & INHERIT_ONLY


def test_no_dacl_and_empty_dacl_name_no_principal() -> None:
    assert allowed_principals(parse_sddl("O:BA")) == []
    assert allowed_principals(parse_sddl("O:BAD:")) == []
    assert parse_security_descriptor(build_security_descriptor(parse_sddl("O:BAD:"))).dacl == ()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "X:BA",
        "O:BAO:SY",
        "O:BAD:(A;;CC;;S-1-5-11)",  # five fields
        "O:BAD:(Q;;CC;;;AU)",  # unknown type
        "O:BAD:(A;XX;CC;;;AU)",  # unknown flag
        "O:BAD:(A;;ZZ;;;AU)",  # unknown right
        "O:BAD:(A;;CC;not-a-guid;;AU)",
        "O:BAD:(A;;CC;;;AU",  # unbalanced
        "O:BAD:(A;;CC;;;AU)junk",
    ],
)
def test_bad_sddl_is_refused(bad: str) -> None:
    with pytest.raises(SecurityDescriptorError):
        parse_sddl(bad)


def test_malformed_binary_descriptors_are_refused_not_misread() -> None:
    with pytest.raises(SecurityDescriptorError):
        parse_security_descriptor(b"\x01\x00")
    with pytest.raises(SecurityDescriptorError, match="self-relative"):
        parse_security_descriptor(b"\x01\x00\x04\x00" + b"\x00" * 16)
    # DACL offset pointing past the end
    bad = bytearray(SAMBA_RBCD)
    struct.pack_into("<I", bad, 16, len(bad) + 4)
    with pytest.raises(SecurityDescriptorError):
        parse_security_descriptor(bytes(bad))
    # ACE count larger than the ACEs present
    bad = bytearray(SAMBA_RBCD)
    struct.pack_into("<H", bad, 0x24 + 4, 5)
    with pytest.raises(SecurityDescriptorError):
        parse_security_descriptor(bytes(bad))


def test_every_truncation_and_random_corruption_fails_cleanly() -> None:
    """Bytes from the network: any damage gives SecurityDescriptorError or a valid parse, never
    another exception (IndexError, struct.error) and never a crash of the collector."""
    for cut in range(len(SAMBA_RBCD)):
        with contextlib.suppress(SecurityDescriptorError):
            parse_security_descriptor(SAMBA_RBCD[:cut])
    rng = random.Random(5)
    for _ in range(2000):
        blob = bytearray(SAMBA_RBCD)
        for _ in range(rng.randint(1, 4)):
            blob[rng.randrange(len(blob))] = rng.randrange(256)
        try:
            sd = parse_security_descriptor(bytes(blob))
        except SecurityDescriptorError:
            continue
        assert isinstance(sd, SecurityDescriptor)
        allowed_principals(sd)


def test_built_descriptor_matches_hand_encoding() -> None:
    sd = SecurityDescriptor("S-1-5-32-544", None, (Ace(ACCESS_DENIED, 0, 0x100, "S-1-1-0"),))
    raw = build_security_descriptor(sd)
    assert raw[:4] == b"\x01\x00\x04\x80"  # revision 1, DACL present, self-relative
    assert parse_security_descriptor(raw).dacl == sd.dacl
    assert allowed_principals(parse_security_descriptor(raw)) == []
