"""The WinRM shell service of one simulated host: WS-Man operations on PowerShell shells.

Implements the Windows Remote Shell operations pypsrp uses for PSRP (MS-WSMV 3.1.4):
Create, Command, Send, Receive, Signal, Delete on the Microsoft.PowerShell resource and Get on
the generic shell resource (``RunspacePool.is_alive``). Transport faults that belong to the WS-Man
layer (access denied, hangs) are injected here; HTTP-level ones live in :mod:`.server`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import uuid
import xml.etree.ElementTree as ET

from . import soap
from .model import Fault, HostSpec
from .psrp import LabStopping, ReceiveChunk, Session
from .soap import NS, WSManFault, q

log = logging.getLogger(__name__)

_COMMAND_STATE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/"
_MAX_STREAMS = 8  # stream elements per Receive response; bounds the XML overhead budget below
_ENVELOPE_MARGIN = 1024  # bytes kept free for headers, attributes and stream element tags


class Hang(Exception):
    """Raised to make the HTTP layer hold the request forever (until client or lab gives up)."""


class HostService:
    """Shell table and WS-Man dispatcher for one host. Thread-safe: one instance, many sockets."""

    def __init__(self, spec: HostSpec, stopping: threading.Event) -> None:
        self.spec = spec
        self.stopping = stopping
        self._lock = threading.Lock()
        self._shells: dict[str, Session] = {}
        self._actions: list[str] = []

    # -- introspection for tests ---------------------------------------------------------------
    def actions(self) -> list[str]:
        with self._lock:
            return list(self._actions)

    def open_shells(self) -> int:
        with self._lock:
            return len(self._shells)

    def wake_all(self) -> None:
        with self._lock:
            shells = list(self._shells.values())
        for shell in shells:
            shell.wake()

    # -- dispatch ------------------------------------------------------------------------------
    def handle(self, req: soap.Request, user: str, client_ip: str, endpoint: str) -> tuple[int, bytes]:
        """Answer one request: (HTTP status, SOAP envelope). Faults are HTTP 500, as in WinRM."""
        with self._lock:
            self._actions.append(req.short_action)
        try:
            return 200, self._dispatch(req, user, client_ip, endpoint)
        except WSManFault as fault:
            return 500, fault.to_xml(req.message_id, self.spec.name)
        except (Hang, LabStopping):
            raise
        except Exception as exc:
            # A lab bug or an output object psrpcore cannot serialize: fail loudly, in the log and
            # as a fault the client raises (WSManFaultError), instead of a silently dropped socket.
            log.exception("host %s failed to answer %s", self.spec.name, req.short_action)
            return 500, soap.fault_internal(f"{type(exc).__name__}: {exc}").to_xml(req.message_id, self.spec.name)

    def _dispatch(self, req: soap.Request, user: str, client_ip: str, endpoint: str) -> bytes:
        action = req.action
        if action == soap.TRANSFER + "Create":
            return self._create(req, user, client_ip, endpoint)
        if action == soap.TRANSFER + "Get" and req.resource_uri in (soap.SHELL_URI, soap.POWERSHELL_URI):
            return self._get(req)
        if req.resource_uri != soap.POWERSHELL_URI:
            raise soap.fault_not_supported(f"{req.short_action} on {req.resource_uri or 'no resource'}")
        if action == soap.TRANSFER + "Delete":
            return self._delete(req)
        handlers = {
            "Command": self._command,
            "Send": self._send,
            "Receive": self._receive,
            "Signal": self._signal,
        }
        if action.startswith(soap.SHELL_ACTION) and req.short_action in handlers:
            return handlers[req.short_action](req)
        raise soap.fault_not_supported(req.short_action)

    def _shell(self, req: soap.Request) -> Session:
        shell_id = req.selectors.get("ShellId", "")
        with self._lock:
            shell = self._shells.get(shell_id.upper())
        if shell is None:
            raise soap.fault_shell_not_found(shell_id)
        return shell

    @staticmethod
    def _b64(text: str | None, what: str) -> bytes:
        try:
            return base64.b64decode((text or "").strip(), validate=True)
        except binascii.Error as exc:
            raise soap.fault_invalid(f"{what} is not base64") from exc

    # -- operations ----------------------------------------------------------------------------
    def _create(self, req: soap.Request, user: str, client_ip: str, endpoint: str) -> bytes:
        if req.resource_uri != soap.POWERSHELL_URI:
            raise soap.fault_not_supported(f"Create on {req.resource_uri or 'no resource'}")
        if self.spec.fault is Fault.HANG_ON_CREATE:
            raise Hang()
        if self.spec.fault is Fault.ACCESS_DENIED:
            raise soap.fault_access_denied()
        body = req.body
        creation = body.find("pwsh:creationXml", NS) if body is not None else None
        if body is None or body.tag != q("rsp", "Shell") or creation is None:
            raise soap.fault_invalid("Create needs rsp:Shell with creationXml")
        shell_id = (body.get("ShellId") or str(uuid.uuid4())).upper()
        session = Session(shell_id, self.spec, user, client_ip, self.stopping)
        creation_data = self._b64(creation.text, "creationXml")
        try:
            session.open(creation_data)
        except Exception as exc:
            raise soap.fault_invalid(f"creationXml rejected: {exc}") from exc
        with self._lock:
            self._shells[shell_id] = session

        created = ET.Element(q("wst", "ResourceCreated"))
        ET.SubElement(created, q("wsa", "Address")).text = endpoint
        ref = ET.SubElement(created, q("wsa", "ReferenceParameters"))
        ET.SubElement(ref, q("wsman", "ResourceURI")).text = soap.POWERSHELL_URI
        sel = ET.SubElement(ref, q("wsman", "SelectorSet"))
        ET.SubElement(sel, q("wsman", "Selector"), Name="ShellId").text = shell_id
        inputs = body.findtext("rsp:InputStreams", "stdin pr", NS)
        outputs = body.findtext("rsp:OutputStreams", "stdout", NS)
        return soap.envelope(
            soap.TRANSFER + "CreateResponse", req.message_id, [created, self._shell_xml(session, inputs, outputs)]
        )

    def _shell_xml(self, session: Session, inputs: str = "stdin pr", outputs: str = "stdout") -> ET.Element:
        # Field set as in a Windows Create/Get response; the timeouts are Windows defaults.
        shell = ET.Element(q("rsp", "Shell"))
        for name, value in (
            ("ShellId", session.shell_id),
            ("Name", "WinRM1"),
            ("ResourceUri", soap.POWERSHELL_URI),
            ("Owner", session.owner),
            ("ClientIP", session.client_ip),
            ("IdleTimeOut", "PT7200.000S"),
            ("InputStreams", inputs),
            ("OutputStreams", outputs),
            ("MaxIdleTimeOut", "PT2147483.647S"),
            ("Locale", "en-US"),
            ("DataLocale", "en-US"),
            ("State", "Connected"),
        ):
            ET.SubElement(shell, q("rsp", name)).text = value
        return shell

    def _get(self, req: soap.Request) -> bytes:
        session = self._shell(req)
        return soap.envelope(soap.TRANSFER + "GetResponse", req.message_id, [self._shell_xml(session)])

    def _delete(self, req: soap.Request) -> bytes:
        session = self._shell(req)
        with self._lock:
            self._shells.pop(session.shell_id, None)
        session.wake()
        return soap.envelope(soap.TRANSFER + "DeleteResponse", req.message_id, [])

    def _command(self, req: soap.Request) -> bytes:
        session = self._shell(req)
        body = req.body
        if body is None or body.tag != q("rsp", "CommandLine"):
            raise soap.fault_invalid("Command needs rsp:CommandLine")
        data = self._b64(body.findtext("rsp:Arguments", "", NS), "Arguments")
        try:
            command_id = session.command(body.get("CommandId"), data)
        except Exception as exc:
            raise soap.fault_invalid(f"CREATE_PIPELINE rejected: {exc}") from exc
        response = ET.Element(q("rsp", "CommandResponse"))
        ET.SubElement(response, q("rsp", "CommandId")).text = command_id
        return soap.envelope(soap.SHELL_ACTION + "CommandResponse", req.message_id, [response])

    def _send(self, req: soap.Request) -> bytes:
        session = self._shell(req)
        body = req.body
        if body is None or body.tag != q("rsp", "Send"):
            raise soap.fault_invalid("Send needs rsp:Send")
        for stream in body.findall("rsp:Stream", NS):
            command_id = stream.get("CommandId")
            if command_id and not session.has_command(command_id):
                raise soap.fault_invalid(f"unknown CommandId {command_id}")
            try:
                session.send(command_id, self._b64(stream.text, "Stream"))
            except Exception as exc:
                raise soap.fault_invalid(f"PSRP data rejected: {exc}") from exc
        response = ET.Element(q("rsp", "SendResponse"))
        return soap.envelope(soap.SHELL_ACTION + "SendResponse", req.message_id, [response])

    def _receive(self, req: soap.Request) -> bytes:
        session = self._shell(req)
        body = req.body
        desired = body.find("rsp:DesiredStream", NS) if body is not None else None
        if desired is None:
            raise soap.fault_invalid("Receive needs rsp:DesiredStream")
        command_id = desired.get("CommandId")
        if command_id and not session.has_command(command_id):
            raise soap.fault_invalid(f"unknown CommandId {command_id}")
        if command_id and self.spec.fault is Fault.HANG_ON_RECEIVE:
            raise Hang()

        skeleton = self._receive_xml(req, command_id, ReceiveChunk([b""], True))
        room = req.max_envelope_size - len(skeleton) - _ENVELOPE_MARGIN
        amount = max(22, room // 4 * 3)  # base64 grows 3 bytes to 4
        chunk = session.receive(command_id, amount, _MAX_STREAMS, req.operation_timeout)
        if chunk is None:
            raise soap.fault_operation_timeout()
        xml = self._receive_xml(req, command_id, chunk)
        if len(xml) > req.max_envelope_size:  # a lab bug, never the client's problem to absorb
            raise RuntimeError(f"Receive response of {len(xml)} bytes exceeds MaxEnvelopeSize")
        return xml

    @staticmethod
    def _receive_xml(req: soap.Request, command_id: str | None, chunk: ReceiveChunk) -> bytes:
        response = ET.Element(q("rsp", "ReceiveResponse"))
        for payload in chunk.payloads:
            attrs = {"Name": "stdout"}
            if command_id:
                attrs["CommandId"] = command_id
            ET.SubElement(response, q("rsp", "Stream"), attrs).text = base64.b64encode(payload).decode()
        if command_id:
            state = "Done" if chunk.done else "Running"
            ET.SubElement(response, q("rsp", "CommandState"), CommandId=command_id, State=_COMMAND_STATE + state)
        return soap.envelope(soap.SHELL_ACTION + "ReceiveResponse", req.message_id, [response])

    def _signal(self, req: soap.Request) -> bytes:
        session = self._shell(req)
        body = req.body
        if body is None or body.tag != q("rsp", "Signal"):
            raise soap.fault_invalid("Signal needs rsp:Signal")
        command_id = body.get("CommandId") or ""
        if not session.has_command(command_id):
            raise soap.fault_invalid(f"unknown CommandId {command_id}")
        session.signal(command_id, body.findtext("rsp:Code", "", NS).strip())
        response = ET.Element(q("rsp", "SignalResponse"))
        return soap.envelope(soap.SHELL_ACTION + "SignalResponse", req.message_id, [response])
