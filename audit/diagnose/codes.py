"""Pull the error code out of a pasted live-migration message, in any language.

The hexadecimal HRESULT is the same in every Windows language, so it is looked for first (with or
without its 0x, and in its signed and unsigned decimal forms; Winsock numbers such as 10060 too).
A message often carries a generic wrapper code (0x80004005, "unspecified error") besides the
specific one, so a code hvlm knows wins over one it does not. Where a message was pasted without
its code, the localised text of the security or socket error is recognised by its key words
(English, Italian, German, French), matched loosely on purpose: accents, case, typographic
apostrophes and word order do not matter, since Windows' own messages (and the way people copy them
out of Hyper-V Manager) reorder the words, as in the Italian "non sono disponibili nel pacchetto di
protezione 0x8009030E credenziali".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = [
    "KNOWN_CODES",
    "KNOWN_MESSAGES",
    "CodeMatch",
    "ErrorCode",
    "KnownMessage",
    "extract_code",
    "find_code",
    "normalise_code",
    "parse_code_argument",
]


@dataclass(frozen=True)
class ErrorCode:
    code: str  # "0x8009030E"
    symbol: str  # "SEC_E_NO_CREDENTIALS"
    meaning: str  # the English system message


@dataclass(frozen=True)
class KnownMessage:
    """A live-migration error recognised by its words, which carries no code of its own."""

    id: str  # "vtpm-key-protector", its key in the diagnose catalogue
    meaning: str  # the English message


@dataclass(frozen=True)
class CodeMatch:
    """The code a message or an --error argument names, and how it was recognised."""

    code: str | None  # "0x8009030E"; None for a known message without a code
    how: str  # "argument", "hex", "decimal", "winsock" or "wording"
    text: str  # the part of the input that gave it away
    language: str | None = None  # for "wording": en, it, de, fr
    others: tuple[str, ...] = ()  # further codes in the same message
    message: str | None = None  # a KNOWN_MESSAGES id, when the message itself was recognised

    @property
    def known(self) -> bool:
        return self.message is not None or self.code in KNOWN_CODES

    @property
    def key(self) -> str | None:
        """What the diagnose catalogue is looked up by: the known message, else the code."""
        return self.message or self.code


KNOWN_CODES: dict[str, ErrorCode] = {
    c.code: c
    for c in (
        ErrorCode("0x8009030E", "SEC_E_NO_CREDENTIALS", "No credentials are available in the security package"),
        ErrorCode("0x8009030D", "SEC_E_UNKNOWN_CREDENTIALS",
                  "The credentials supplied to the package were not recognized"),
        ErrorCode("0x80090322", "SEC_E_WRONG_PRINCIPAL", "The target principal name is incorrect"),
        ErrorCode("0x80090303", "SEC_E_TARGET_UNKNOWN", "The specified target is unknown or unreachable"),
        ErrorCode("0x80090311", "SEC_E_NO_AUTHENTICATING_AUTHORITY",
                  "No authority could be contacted for authentication"),
        ErrorCode("0x8007274C", "WSAETIMEDOUT", "A connection attempt failed because the connected party did not "
                  "properly respond after a period of time"),
        ErrorCode("0x8007274D", "WSAECONNREFUSED",
                  "No connection could be made because the target machine actively refused it"),
        ErrorCode("0x80072746", "WSAECONNRESET", "An existing connection was forcibly closed by the remote host"),
        ErrorCode("0x8007271D", "WSAEACCES",
                  "An attempt was made to access a socket in a way forbidden by its access permissions"),
        ErrorCode("0x80070005", "E_ACCESSDENIED", "Access is denied"),
        ErrorCode("0x80070569", "ERROR_LOGON_TYPE_NOT_GRANTED",
                  "Logon failure: the user has not been granted the requested logon type at this computer"),
        ErrorCode("0x800705AA", "ERROR_NO_SYSTEM_RESOURCES",
                  "Insufficient system resources exist to complete the requested service"),
        ErrorCode("0x8007000E", "E_OUTOFMEMORY", "Not enough memory resources are available to complete this operation"),
        ErrorCode("0xC03A0014", "ERROR_VIRTDISK_PROVIDER_NOT_FOUND",
                  "A virtual disk support provider for the specified file was not found"),
    )
}
_SYMBOLS = {c.symbol: c.code for c in KNOWN_CODES.values()}
KNOWN_MESSAGES: dict[str, KnownMessage] = {
    m.id: m
    for m in (
        KnownMessage("vtpm-key-protector", "The key protector for the virtual machine could not be unwrapped"),
    )
}
# Key words of each known message, as _PHRASES (checked before any code: the message is the more specific).
_MESSAGE_PHRASES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "vtpm-key-protector": (
        ("en", ("key protector", "could not be unwrapped")),
    ),
}
GENERIC = frozenset({"0x80004005", "0x80070057"})  # E_FAIL, E_INVALIDARG: wrappers, never the cause

# Key words per code and language: every word of one tuple must appear (accents, case and order
# ignored). Checked in this order, so the generic "access denied" wording comes last.
_PHRASES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "0x8009030E": (
        ("en", ("no credentials are available", "security package")),
        ("en", ("no suitable credentials available",)),  # the VMMS wording around the code
        ("it", ("pacchetto di protezione", "credenziali", "non sono disponibili")),
        ("de", ("sicherheitspaket", "keine anmeldeinformationen")),
        ("fr", ("aucune information d'identification", "package de securite")),
    ),
    "0x8009030D": (
        ("en", ("credentials supplied to the package were not recognized",)),
        ("it", ("credenziali fornite al pacchetto", "non sono state riconosciute")),
        ("de", ("anmeldeinformationen", "paket", "nicht erkannt")),
        ("fr", ("informations d'identification fournies au package", "pas ete reconnues")),
    ),
    "0x80090322": (
        ("en", ("target principal name is incorrect",)),
        ("it", ("nome dell'entita di destinazione", "non e corretto")),
        ("de", ("zielprinzipalname ist falsch",)),
        ("fr", ("nom principal de la cible est incorrect",)),
    ),
    "0x80090303": (
        ("en", ("specified target is unknown or unreachable",)),
    ),
    "0x80090311": (
        ("en", ("no authority could be contacted for authentication",)),
        ("it", ("impossibile contattare", "autorita", "autenticazione")),
        ("de", ("autoritat", "authentifizierung", "keine")),
        ("fr", ("aucune autorite", "authentification")),
    ),
    "0x8007274C": (
        ("en", ("did not properly respond after a period of time",)),
        ("it", ("risposta non corretta della parte connessa",)),
        ("de", ("gegenstelle", "nicht richtig reagiert")),
        ("fr", ("n'a pas repondu convenablement",)),
    ),
    "0x8007274D": (
        ("en", ("target machine actively refused it",)),
        ("it", ("rifiuto persistente del computer di destinazione",)),
        ("de", ("zielcomputer die verbindung verweigerte",)),
        ("fr", ("l'ordinateur cible l'a expressement refusee",)),
    ),
    "0x80072746": (
        ("en", ("existing connection was forcibly closed by the remote host",)),
        ("it", ("connessione in corso interrotta forzatamente dall'host remoto",)),
        ("de", ("vorhandene verbindung wurde vom remotehost geschlossen",)),
        ("fr", ("connexion existante a du etre fermee par l'hote distant",)),
    ),
    "0x8007271D": (
        ("en", ("access a socket in a way forbidden by its access permissions",)),
    ),
    "0x80070569": (
        ("en", ("not been granted the requested logon type",)),
    ),
    "0x800705AA": (
        ("en", ("insufficient system resources exist to complete the requested service",)),
    ),
    "0x8007000E": (
        ("en", ("not enough memory resources are available",)),
    ),
    "0x80070005": (
        ("en", ("access is denied",)),
        ("it", ("accesso negato",)),
        ("de", ("zugriff verweigert",)),
        ("fr", ("acces refuse",)),
    ),
}
_WINSOCK = {10060: "0x8007274C", 10061: "0x8007274D", 10054: "0x80072746", 10013: "0x8007271D"}
# 0x8... and 0xC... HRESULTs, with or without 0x; a GUID segment (followed or preceded by '-') is not one.
_HEX = re.compile(r"(?<![\w-])(?:0x)?([89a-f][0-9a-f]{7})(?![\w-])", re.IGNORECASE)
_DEC = re.compile(r"(?<![\w.-])(-?\d{5,10})(?![\w.])")


def _fold(text: str) -> str:
    """Lower case, accents and typographic apostrophes removed, whitespace collapsed."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u02bc", "'")
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).lower().split())


def normalise_code(text: str) -> str | None:
    """"0x8009030e", "8009030E", "80070005", "-2146893042", "2148074254" or "10060" -> "0x...."; else None.

    Eight decimal digits that are no valid decimal HRESULT ("80070005") are the hexadecimal code
    written without its 0x, as Windows often prints it.
    """
    t = text.strip()
    if re.fullmatch(r"0[xX][0-9a-fA-F]{1,8}", t):
        return f"0x{int(t, 16):08X}"
    if re.fullmatch(r"-?\d+", t):
        n = int(t)
        if n in _WINSOCK:
            return _WINSOCK[n]
        if -(2**31) <= n < 0:
            n += 2**32
        if 0x80000000 <= n <= 0xFFFFFFFF:
            return f"0x{n:08X}"
        return "0x" + t if re.fullmatch(r"[89]\d{7}", t) else None
    if re.fullmatch(r"[0-9a-fA-F]{8}", t):
        return "0x" + t.upper()
    return None


def parse_code_argument(text: str) -> CodeMatch | None:
    """What --error names: a code in any of the forms above, or a symbol such as SEC_E_NO_CREDENTIALS."""
    symbol = _SYMBOLS.get(text.strip().upper())
    code = symbol or normalise_code(text)
    return CodeMatch(code, "argument", text.strip()) if code else None


def _codes_in(message: str) -> list[tuple[str, str, str]]:
    """(code, how, text) for every numeric code in the message, in order of appearance."""
    found: list[tuple[int, str, str, str]] = []
    for match in _HEX.finditer(message):
        raw = match.group(0)
        bare = not raw.lower().startswith("0x")
        if bare and (raw[0] not in "89cC" or not any(c.isdigit() for c in raw)):
            continue  # bare: only 8... and C... HRESULTs, and never a word such as "cafebabe"
        found.append((match.start(), "0x" + match.group(1).upper(), "hex", raw))
    for match in _DEC.finditer(message):
        raw = match.group(1)
        n = int(raw)
        if n in _WINSOCK:
            found.append((match.start(), _WINSOCK[n], "winsock", raw))
        elif -(2**31) <= n < 0 or 0x80000000 <= n <= 0xFFFFFFFF:
            found.append((match.start(), f"0x{n % 2**32:08X}", "decimal", raw))
    found.sort()
    return [(code, how, raw) for _, code, how, raw in found]


def _wording(message: str) -> CodeMatch | None:
    folded = _fold(message)
    for code, variants in _PHRASES.items():
        for language, words in variants:
            if all(word in folded for word in words):
                return CodeMatch(code, "wording", " ... ".join(words), language)
    return None


def _known_message(message: str, distinct: list[str]) -> CodeMatch | None:
    """A known message (its own cause list), with the first specific code the message also carries."""
    folded = _fold(message)
    for message_id, variants in _MESSAGE_PHRASES.items():
        for language, words in variants:
            if all(word in folded for word in words):
                code = next((c for c in distinct if c not in GENERIC), None)
                return CodeMatch(code, "wording", " ... ".join(words), language,
                                 tuple(c for c in distinct if c != code), message_id)
    return None


def find_code(message: str) -> CodeMatch | None:
    """The error code a pasted message carries: a known message without a code of its own first (the vTPM
    key protector), then a known numeric code, then any specific numeric code, then the localised wording of
    a known error; None when nothing is recognised."""
    numeric = _codes_in(message)
    distinct = list(dict.fromkeys(code for code, _, _ in numeric))
    known = _known_message(message, distinct)
    if known is not None:
        return known
    ranked = sorted(numeric, key=lambda item: (item[0] not in KNOWN_CODES, item[0] in GENERIC))
    if ranked and (ranked[0][0] in KNOWN_CODES or ranked[0][0] not in GENERIC):
        code, how, raw = ranked[0]
        return CodeMatch(code, how, raw, None, tuple(c for c in distinct if c != code))
    worded = _wording(message)
    if worded is not None:
        return CodeMatch(worded.code, worded.how, worded.text, worded.language,
                         tuple(c for c in distinct if c != worded.code))
    if ranked:  # only a generic wrapper code: say which, it is all there is
        code, how, raw = ranked[0]
        return CodeMatch(code, how, raw, None, tuple(c for c in distinct if c != code))
    return None


def extract_code(message: str) -> str | None:
    """Just the code of find_code(message)."""
    match = find_code(message)
    return match.code if match else None
