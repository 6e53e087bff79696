"""WS-Management SOAP 1.2 envelopes: parse what pypsrp sends, build what a WinRM service answers.

Only the parts MS-WSMV/DSP0226 define and pypsrp reads are modelled: ``wsa:Action``,
``wsa:MessageID`` -> ``wsa:RelatesTo``, ``wsman:ResourceURI``, ``wsman:SelectorSet``,
``wsman:OptionSet``, ``wsman:MaxEnvelopeSize`` and ``wsman:OperationTimeout`` in the header, and
the ``rsp:`` shell bodies. Fault texts and machine-specific fields are written from memory of
real Windows responses and marked as such; pypsrp only reads the numeric code and the message.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "wsmv": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "wst": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "wsmanfault": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "pwsh": "http://schemas.microsoft.com/powershell",
    "xml": "http://www.w3.org/XML/1998/namespace",
}

# Same prefixes pypsrp registers, so both sides agree on the (process-global) ElementTree map.
for _prefix, _uri in NS.items():
    if _prefix != "xml":
        ET.register_namespace(_prefix, _uri)

ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
POWERSHELL_URI = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
SHELL_ACTION = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"


def q(prefix: str, name: str) -> str:
    """Clark-notation tag for ``prefix:name`` in the lab's namespace map."""
    return f"{{{NS[prefix]}}}{name}"


class BadRequest(Exception):
    """The envelope cannot be understood; answered as a SOAP fault, never as a crash."""


@dataclass
class Request:
    """The parts of a WS-Man request envelope the lab acts on."""

    action: str
    message_id: str
    resource_uri: str
    max_envelope_size: int
    operation_timeout: float
    selectors: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    body: ET.Element | None = None

    @property
    def short_action(self) -> str:
        """``Create``, ``Receive``, ... (the last segment of the action URI)."""
        return self.action.rsplit("/", 1)[-1]


_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")


def parse_duration(text: str | None, default: float) -> float:
    """xs:duration as WS-Man uses it (``PT20S``, ``PT60.000S``) to seconds."""
    if not text:
        return default
    m = _DURATION.match(text.strip())
    if not m:
        return default
    hours, minutes, seconds = m.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def parse_request(data: bytes) -> Request:
    """Parse a request envelope; raise :class:`BadRequest` for anything malformed."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise BadRequest(f"not XML: {exc}") from exc
    header = root.find("s:Header", NS)
    if root.tag != q("s", "Envelope") or header is None:
        raise BadRequest("not a SOAP 1.2 envelope")

    def text(path: str) -> str:
        el = header.find(path, NS)
        return (el.text or "").strip() if el is not None else ""

    action = text("wsa:Action")
    message_id = text("wsa:MessageID")
    if not action or not message_id:
        raise BadRequest("missing wsa:Action or wsa:MessageID")
    try:
        max_env = int(text("wsman:MaxEnvelopeSize") or "153600")
    except ValueError as exc:
        raise BadRequest("bad MaxEnvelopeSize") from exc

    selectors = {
        el.get("Name", ""): (el.text or "").strip() for el in header.findall("wsman:SelectorSet/wsman:Selector", NS)
    }
    options = {el.get("Name", ""): (el.text or "").strip() for el in header.findall("wsman:OptionSet/wsman:Option", NS)}
    body = root.find("s:Body", NS)
    return Request(
        action=action,
        message_id=message_id,
        resource_uri=text("wsman:ResourceURI"),
        max_envelope_size=max_env,
        operation_timeout=parse_duration(text("wsman:OperationTimeout"), 60.0),
        selectors=selectors,
        options=options,
        body=body[0] if body is not None and len(body) else None,
    )


def envelope(action: str, relates_to: str, body_children: list[ET.Element]) -> bytes:
    """A response envelope with the addressing headers pypsrp checks (RelatesTo must match)."""
    env = ET.Element(q("s", "Envelope"))
    header = ET.SubElement(env, q("s", "Header"))
    ET.SubElement(header, q("wsa", "Action")).text = action
    ET.SubElement(header, q("wsa", "MessageID")).text = f"uuid:{str(uuid.uuid4()).upper()}"
    ET.SubElement(header, q("wsa", "To")).text = ANONYMOUS
    ET.SubElement(header, q("wsa", "RelatesTo")).text = relates_to
    body = ET.SubElement(env, q("s", "Body"))
    body.extend(body_children)
    xml: bytes = ET.tostring(env, encoding="utf-8", xml_declaration=False)
    return xml


@dataclass(frozen=True)
class WSManFault(Exception):
    """A WS-Management fault; sent as HTTP 500, which is how WinRM reports them."""

    code: int
    subcode: str
    message: str
    sender: bool = True  # s:Sender (client's fault) vs s:Receiver (service's fault)

    def to_xml(self, relates_to: str, machine: str) -> bytes:
        fault = ET.Element(q("s", "Fault"))
        code = ET.SubElement(fault, q("s", "Code"))
        ET.SubElement(code, q("s", "Value")).text = "s:Sender" if self.sender else "s:Receiver"
        sub = ET.SubElement(code, q("s", "Subcode"))
        ET.SubElement(sub, q("s", "Value")).text = f"w:{self.subcode}"
        reason = ET.SubElement(fault, q("s", "Reason"))
        ET.SubElement(reason, q("s", "Text"), {q("xml", "lang"): "en-US"}).text = self.message
        detail = ET.SubElement(fault, q("s", "Detail"))
        wf = ET.SubElement(detail, q("wsmanfault", "WSManFault"), Code=str(self.code), Machine=machine)
        ET.SubElement(wf, q("wsmanfault", "Message")).text = self.message
        xml = envelope(FAULT_ACTION, relates_to, [fault])
        # The subcode is a QName in the WS-Man namespace; declare its "w" prefix the way
        # Windows does (as xmlns:w on the envelope).
        return xml.replace(b"<s:Envelope ", f'<s:Envelope xmlns:w="{NS["wsman"]}" '.encode(), 1)


# Fault values below: codes are the documented Win32/WSMan error numbers; the message texts are
# paraphrased from memory of Windows Server responses (not captured from a live host).
def fault_access_denied() -> WSManFault:
    return WSManFault(5, "AccessDenied", "Access is denied.")


def fault_operation_timeout() -> WSManFault:
    # ERROR_WSMAN_OPERATION_TIMEDOUT 0x80338029; pypsrp retries the Receive on exactly this code.
    return WSManFault(
        0x80338029,
        "TimedOut",
        "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.",
        sender=False,
    )


def fault_shell_not_found(shell_id: str) -> WSManFault:
    # 0x8033805B; pypsrp's RunspacePool.is_alive() treats this code as "pool closed".
    return WSManFault(
        0x8033805B,
        "InvalidSelectors",
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell "
        "was not found on the server. Possible causes are: the specified ShellId is incorrect or the "
        "shell no longer exists on the server. Provide the correct ShellId or create a new shell and "
        "try again.",
    )


def fault_not_supported(what: str) -> WSManFault:
    # 0x803381E1 stands in for "action/resource not supported"; the exact code Windows picks for
    # each unsupported combination was not verified.
    return WSManFault(
        0x803381E1, "ActionNotSupported", f"The WS-Management service does not support the request: {what}."
    )


def fault_invalid(what: str) -> WSManFault:
    # ERROR_WSMAN_INVALID_* family; the precise code for each malformed input was not verified.
    return WSManFault(0x8033800E, "InvalidParameter", f"The WS-Management request is not valid: {what}.")


def fault_internal(what: str) -> WSManFault:
    # The lab's own failure; the code is ERROR_INTERNAL_ERROR (1359) and the text says "hvlm lab".
    return WSManFault(1359, "InternalError", f"hvlm WinRM lab internal error: {what}", sender=False)
