"""Sentences both renderers (text and HTML) print from a diagnosis document, so they say the same thing."""

from __future__ import annotations

from typing import Any

from hvlm.audit.diagnose.codes import GENERIC

__all__ = ["LANGUAGES", "fallback_note", "recognised"]

LANGUAGES = {"en": "English", "it": "Italian", "de": "German", "fr": "French"}
_HOW = {"hex": "its hexadecimal code in the message", "decimal": "its decimal code in the message",
        "winsock": "its Winsock error number in the message"}
_TRIED = ("hvlm looked for a hexadecimal or decimal error code, a Winsock error number and the wording of the errors "
          "it knows in English, Italian, German and French, and found none of them")


def recognised(code: dict[str, Any]) -> str:
    """How the code was found, for "(...)" after it: "given with --error", "recognised from ..."; "" without one."""
    rec = code.get("recognised")
    if not rec:
        return ""
    if rec["how"] == "argument":
        return "given with --error"
    if rec["how"] == "wording":
        return f"recognised from the {LANGUAGES.get(rec['language'] or '', 'localised')} wording of the message"
    return "recognised from " + _HOW.get(str(rec["how"]), str(rec["how"]))


def fallback_note(doc: dict[str, Any]) -> str:
    """Why an unknown code (or an unrecognised message) lists the move's full audit, and whether it found anything."""
    code = doc["code"]["code"]
    if code is None:
        why = f"The message was not recognised: {_TRIED}."
    elif code in GENERIC:
        why = (f"{code} is a generic wrapper code that does not name the cause; paste the whole message (the specific "
               "code is usually further in) or give it with --error. hvlm has no cause list for it.")
    else:
        why = f"hvlm has no cause list for {code}."
    if not doc["causes"]:
        return why + " The full audit of this move found no problem of severity medium and up."
    return why + " So these are the problems the full audit of this move (source -> destination) found, severity " \
                 "medium and up; any of them may be the cause:"
