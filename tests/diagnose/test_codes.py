"""Error codes out of pasted messages: hexadecimal, decimal, Winsock, and the wording in four languages."""

from __future__ import annotations

import pytest

from hvlm.audit.diagnose.catalogue import CATALOGUE
from hvlm.audit.diagnose.codes import KNOWN_CODES, KNOWN_MESSAGES, find_code, normalise_code, parse_code_argument

EN = ("Virtual machine migration operation for 'VM01' failed at migration source 'HV01'. (Virtual machine ID "
      "5F1A2B3C-1111-2222-3333-444455556666)\nFailed to establish a connection with host 'HV02': No credentials are "
      "available in the security package (0x8009030E).")

MESSAGES = [
    # (language, message, code, how)
    ("en", EN, "0x8009030E", "hex"),
    ("it", "L'operazione di migrazione non è riuscita. Impossibile stabilire una connessione con l'host HV02: "
           "non sono disponibili nel pacchetto di protezione 0x8009030E credenziali", "0x8009030E", "hex"),
    ("it", "Impossibile stabilire una connessione con l'host HV02: Nel pacchetto di protezione non sono disponibili "
           "credenziali.", "0x8009030E", "wording"),
    ("it", "non sono disponibili nel pacchetto di protezione credenziali", "0x8009030E", "wording"),
    ("de", "Fehler beim Herstellen einer Verbindung mit dem Host \u201eHV02\u201c: Im Sicherheitspaket sind keine "
           "Anmeldeinformationen verfügbar.", "0x8009030E", "wording"),
    ("fr", "Échec de l’établissement d’une connexion avec l’hôte « HV02 » : Aucune information d’identification "
           "n’est disponible dans le package de sécurité.", "0x8009030E", "wording"),
    ("en", "The credentials supplied to the package were not recognized", "0x8009030D", "wording"),
    ("it", "Le credenziali fornite al pacchetto non sono state riconosciute.", "0x8009030D", "wording"),
    ("de", "Die für das Paket angegebenen Anmeldeinformationen wurden nicht erkannt.", "0x8009030D", "wording"),
    ("fr", "Les informations d'identification fournies au package n'ont pas été reconnues.", "0x8009030D", "wording"),
    ("en", "The target principal name is incorrect.", "0x80090322", "wording"),
    ("de", "Der Zielprinzipalname ist falsch.", "0x80090322", "wording"),
    ("fr", "Le nom principal de la cible est incorrect.", "0x80090322", "wording"),
    ("it", "Il nome dell'entità di destinazione non è corretto.", "0x80090322", "wording"),
    ("en", "No authority could be contacted for authentication.", "0x80090311", "wording"),
    ("de", "Es konnte keine Autorität für die Authentifizierung kontaktiert werden.", "0x80090311", "wording"),
    ("fr", "Aucune autorité n’a pu être contactée pour l’authentification.", "0x80090311", "wording"),
    ("it", "Impossibile contattare un'autorità per l'autenticazione.", "0x80090311", "wording"),
    ("en", "A connection attempt failed because the connected party did not properly respond after a period of "
           "time, or established connection failed because connected host has failed to respond.",
     "0x8007274C", "wording"),
    ("de", "Ein Verbindungsversuch ist fehlgeschlagen, da die Gegenstelle nach einer bestimmten Zeitspanne nicht "
           "richtig reagiert hat.", "0x8007274C", "wording"),
    ("fr", "Une tentative de connexion a échoué car le parti connecté n’a pas répondu convenablement au-delà d’une "
           "certaine durée.", "0x8007274C", "wording"),
    ("it", "Impossibile stabilire la connessione. Risposta non corretta della parte connessa dopo l'intervallo di "
           "tempo.", "0x8007274C", "wording"),
    ("en", "No connection could be made because the target machine actively refused it.", "0x8007274D", "wording"),
    ("de", "Es konnte keine Verbindung hergestellt werden, da der Zielcomputer die Verbindung verweigerte.",
     "0x8007274D", "wording"),
    ("fr", "Aucune connexion n’a pu être établie car l’ordinateur cible l’a expressément refusée.", "0x8007274D",
     "wording"),
    ("it", "Impossibile stabilire la connessione. Rifiuto persistente del computer di destinazione.", "0x8007274D",
     "wording"),
]


@pytest.mark.parametrize(("language", "message", "code", "how"), MESSAGES,
                         ids=[f"{m[0]}-{m[2]}-{i}" for i, m in enumerate(MESSAGES)])
def test_localised_messages(language: str, message: str, code: str, how: str) -> None:
    match = find_code(message)
    assert match is not None and (match.code, match.how) == (code, how)
    if how == "wording":
        assert match.language == language


@pytest.mark.parametrize(("message", "code", "how"), [
    ("HRESULT -2146893042", "0x8009030E", "decimal"),
    ("error 2148074254 while connecting", "0x8009030E", "decimal"),
    ("Socket error 10060 to 192.168.50.12:6600", "0x8007274C", "winsock"),
    ("WSA error 10061", "0x8007274D", "winsock"),
    ("failed with error 8009030d", "0x8009030D", "hex"),
    ("Error: 80070005", "0x80070005", "hex"),
])
def test_numeric_forms(message: str, code: str, how: str) -> None:
    match = find_code(message)
    assert match is not None and (match.code, match.how) == (code, how)


def test_a_known_code_wins_over_a_generic_wrapper() -> None:
    match = find_code("Migration did not succeed (0x80004005). Failed to connect: (0x8007274D)")
    assert match is not None and match.code == "0x8007274D" and match.others == ("0x80004005",)


def test_only_a_generic_code_is_reported_as_it_is() -> None:
    match = find_code("The operation failed (0x80004005).")
    assert match is not None and match.code == "0x80004005" and not match.known


def test_a_specific_code_wins_over_wording_of_another() -> None:
    match = find_code("No credentials are available in the security package (0x8009030D)")
    assert match is not None and match.code == "0x8009030D"


@pytest.mark.parametrize("message", [
    "Virtual machine ID 5F1A2B3C-1111-2222-3333-444455556666 failed",  # a GUID segment is no code
    "Event 21502 on port 6600 after 12345 ms",
    "deadbeef cafebabe",
    "",
])
def test_no_false_codes(message: str) -> None:
    assert find_code(message) is None


@pytest.mark.parametrize(("text", "code"), [
    ("0x8009030E", "0x8009030E"), ("0x8009030e", "0x8009030E"), ("8009030E", "0x8009030E"),
    ("-2146893042", "0x8009030E"), ("2148074254", "0x8009030E"), ("10060", "0x8007274C"),
    ("80070005", "0x80070005"), ("SEC_E_NO_CREDENTIALS", "0x8009030E"), ("wsaeconnrefused", "0x8007274D"),
])
def test_error_argument_forms(text: str, code: str) -> None:
    match = parse_code_argument(text)
    assert match is not None and match.code == code and match.how == "argument"


@pytest.mark.parametrize("text", ["", "foo", "12", "0x"])
def test_bad_error_arguments(text: str) -> None:
    assert parse_code_argument(text) is None
    assert normalise_code(text) is None


def test_every_code_with_causes_is_known_and_the_reverse() -> None:
    assert set(CATALOGUE) == set(KNOWN_CODES) | set(KNOWN_MESSAGES)
    for required in ("0x8009030E", "0x8009030D", "0x80090322", "0x80090311", "0x8007274C", "0x8007274D"):
        assert CATALOGUE[required].causes


def test_the_vtpm_key_protector_message_is_known_without_a_code() -> None:
    message = ("The key protector for the virtual machine 'db02' could not be unwrapped. Details are included in "
               "the HostGuardianServiceClient event log.")
    match = find_code(message)
    assert match is not None and match.code is None and match.message == "vtpm-key-protector"
    assert match.known and match.key == "vtpm-key-protector" and match.how == "wording"
    assert KNOWN_MESSAGES["vtpm-key-protector"].meaning in message.replace(" 'db02'", "")
    # a generic wrapper code beside it does not replace the message; a specific one is kept beside it
    assert find_code(message + " (0x80004005)").code is None  # type: ignore[union-attr]
    both = find_code(message + " Error 0x80070490.")
    assert both is not None and both.code == "0x80070490" and both.key == "vtpm-key-protector"


def test_the_field_blocker_codes_are_recognised_in_messages() -> None:
    for text, code in (
        ("A virtual disk support provider for the specified file was not found. (0xC03A0014)", "0xC03A0014"),
        ("Logon failure: the user has not been granted the requested logon type at this computer.", "0x80070569"),
        ("Insufficient system resources exist to complete the requested service. (0x800705AA)", "0x800705AA"),
    ):
        match = find_code(text)
        assert match is not None and match.code == code and CATALOGUE[code].causes, text
