"""What "the same finding" means: stable finding ids, and messages with the subject's names blanked.

Shared by the report builder (which groups findings by check, status and message shape) and by
the renderers and `hvlm diagnose` (which name findings by the same ids in every output).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["DIGITS", "finding_id", "finding_ids", "names_shape", "shape_key"]

_PLACEHOLDERS = {
    "host": "‹host›",
    "source": "‹source›",
    "destination": "‹destination›",
    "vm": "‹VM›",
    "vm_id": "‹VM id›",
    "domain": "‹domain›",
    "operator": "‹operator›",
}
_HOST_FIELDS = ("host", "source", "destination", "domain")  # DNS names: case-insensitive
DIGITS = re.compile(r"\d+")


# --- identity and shape of a finding -------------------------------------------------------------


def _subject_key(subject: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in subject.items() if k != "label"}


def finding_id(check_id: str, subject: dict[str, Any]) -> str:
    """The stable id of one check's finding on one subject, e.g. `host-os-supported:3f2a9c1b`."""
    blob = json.dumps([check_id, _subject_key(subject)], sort_keys=True, ensure_ascii=False)
    return f"{check_id}:{hashlib.sha256(blob.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


def finding_ids(findings: Sequence[dict[str, Any]]) -> list[str]:
    """A stable id per finding: its check and a hash of its subject, e.g. `host-os-supported:3f2a9c1b`.

    The same check on the same subject gets the same id in every run, so a fix script, a CSV row
    and a JUnit test case can be traced to each other and across runs. A check that reports the
    same subject twice gets `-2`, `-3` suffixes in report order.
    """
    seen: dict[str, int] = {}
    out: list[str] = []
    for f in findings:
        base = finding_id(f["check_id"], f["subject"])
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def _name_forms(subject: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(name, placeholder, case-insensitive) for every name of the subject, longest first.

    DNS names (host, source, destination, domain) match case-insensitively and by their first
    label too ("HV01" for hv01.corp.contoso.com); VM and operator names match exactly.
    """
    forms: dict[str, tuple[str, bool]] = {}
    for key, placeholder in _PLACEHOLDERS.items():
        value = subject.get(key)
        if not isinstance(value, str) or not value:
            continue
        dns = key in _HOST_FIELDS
        forms.setdefault(value, (placeholder, dns))
        if dns and "." in value:
            short = value.split(".", 1)[0]
            if len(short) >= 2:
                forms.setdefault(short, (placeholder, True))
    return sorted(((v, p, ci) for v, (p, ci) in forms.items()), key=lambda f: -len(f[0]))


def _word(ch: str) -> bool:
    return ch.isalnum() or ch in "_-"


def names_shape(message: str, subject: dict[str, Any]) -> str:
    """The message with the subject's own names replaced by placeholders such as ‹host›.

    A name only counts as a whole word: not preceded or followed by a letter, digit, `_` or `-`
    ("hv01-old" is not hv01). Longer names win over the short names they contain. Plain string
    search, not a regex per subject: reports of 500 hosts shape tens of thousands of messages.
    """
    forms = _name_forms(subject)
    if not forms:
        return message
    lowered = message.lower()
    if len(lowered) != len(message):  # a case mapping changed the length: compare exactly only
        lowered = message
    taken: list[tuple[int, int, str]] = []
    for value, placeholder, ci in forms:
        hay, needle = (lowered, value.lower()) if ci else (message, value)
        if not needle or len(needle) != len(value):
            hay, needle = message, value
        start = 0
        while True:
            k = hay.find(needle, start)
            if k < 0:
                break
            end = k + len(needle)
            start = k + 1
            if (k > 0 and _word(message[k - 1])) or (end < len(message) and _word(message[end])):
                continue
            if any(k < e and s < end for s, e, _ in taken):
                continue
            taken.append((k, end, placeholder))
    if not taken:
        return message
    taken.sort()
    out: list[str] = []
    pos = 0
    for s, e, placeholder in taken:
        out.append(message[pos:s])
        out.append(placeholder)
        pos = e
    out.append(message[pos:])
    return "".join(out)


def shape_key(message: str, subject: dict[str, Any]) -> str:
    """What "the same message" means for grouping: names blanked out, and numbers too."""
    return DIGITS.sub("#", names_shape(message, subject))
