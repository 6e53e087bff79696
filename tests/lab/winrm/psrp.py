"""The PowerShell side of one shell: a psrpcore ServerRunspacePool and the pipelines it runs.

psrpcore does the real protocol work (fragments, CLIXML, state messages); this module decides
what the simulated host *does*: it hands each pipeline to the host's responder, holds the result
back until the host's latency has passed, and cuts the outgoing PSRP data into Receive-sized
pieces that each hold whole fragments (MS-PSRP 2.2.4) and fit the client's MaxEnvelopeSize.

Waiting is a deadline plus a condition variable: a slow host costs nothing but the request
thread that is already parked on the client's Receive.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

from psrpcore import (
    CreatePipelineEvent,
    InitRunspacePoolEvent,
    PSRPPayload,
    ServerPipeline,
    ServerRunspacePool,
    StreamType,
)
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PipelineState,
    PSInvocationState,
    PSVersion,
)

from .model import Fault, HostSpec, PipelineResult

log = logging.getLogger(__name__)

_FRAGMENT_HEADER = 21  # ObjectId(8) FragmentId(8) flags(1) length(4), big endian
_MESSAGE_PID_OFFSET = 4 + 4 + 16  # Destination, MessageType, RPID, then PID (GUID, little endian)

# ApplicationPrivateData is opaque to the protocol; Windows PowerShell 5.1 sends a PSVersionTable
# (the client reads it as $PSVersionTable of the remote session). The values below are those of a
# Windows Server 2019 host as remembered, not captured; psrpcore adds PSRemotingProtocolVersion
# and SerializationVersion.
_PS_VERSION_TABLE: dict[str, str] = {
    "PSVersion": "5.1.17763.1",
    "PSEdition": "Desktop",
    "BuildVersion": "10.0.17763.1",
    "CLRVersion": "4.0.30319.42000",
    "WSManStackVersion": "3.0",
}


class LabStopping(Exception):
    """The lab is shutting down; the request in flight is dropped."""


def _application_private_data() -> dict[str, object]:
    table = {k: PSVersion(v) if k != "PSEdition" else v for k, v in _PS_VERSION_TABLE.items()}
    return {"PSVersionTable": table}


def _exception(message: str, type_names: list[str]) -> NETException:
    exc = NETException(Message=message, HResult=-2146233087)
    exc.PSObject.type_names = [*type_names, *exc.PSTypeNames]
    return exc


def write_error_record(message: str) -> tuple[NETException, ErrorCategoryInfo, str]:
    """The pieces of the record ``Write-Error "message"`` produces in Windows PowerShell."""
    exc = _exception(
        message,
        [
            "Microsoft.PowerShell.Commands.WriteErrorException",
            "System.SystemException",
        ],
    )
    info = ErrorCategoryInfo(Category=ErrorCategory.NotSpecified, Reason="WriteErrorException")
    return exc, info, "Microsoft.PowerShell.Commands.WriteErrorException"


def throw_error_record(message: str) -> ErrorRecord:
    """The record ``throw "message"`` produces: a RuntimeException whose id is the message."""
    exc = _exception(
        message,
        [
            "System.Management.Automation.RuntimeException",
            "System.SystemException",
        ],
    )
    return ErrorRecord(
        Exception=exc,
        CategoryInfo=ErrorCategoryInfo(Category=ErrorCategory.OperationStopped, Reason="RuntimeException"),
        FullyQualifiedErrorId=message,
    )


@dataclass
class _Run:
    """A pipeline from CREATE_PIPELINE to its final state."""

    pipeline: ServerPipeline
    command_id: str
    ready_at: float = 0.0
    result: PipelineResult | None = None
    out_string: str | None = None  # None, "stream" or "plain": an Out-String at the pipeline's end
    emitted: bool = False


@dataclass
class ReceiveChunk:
    """One Receive response's worth of PSRP data for one target (pool or pipeline)."""

    payloads: list[bytes]
    done: bool  # the pipeline reached a final state and everything was sent


@dataclass
class _Invocation:
    script: str
    params: dict[str, object]
    out_string: str | None
    unsupported: str | None = None


def describe_pipeline(commands: list[object]) -> _Invocation:
    """Reduce a pipeline to (script, parameters) for the responder.

    Models three shapes: ``add_script``/``add_cmdlet`` with parameters; that command followed by
    ``Out-String [-Stream]``; and ``Invoke-Expression -Command <script> | Out-String -Stream``,
    which is how ``pypsrp.client.Client.execute_ps`` wraps a script. Anything else (several
    statements, other downstream commands) is refused loudly rather than answered wrongly.
    """
    if not commands:
        return _Invocation("", {}, None, "empty pipeline")
    cmds = list(commands)
    if any(getattr(c, "end_of_statement", False) for c in cmds[:-1]):
        return _Invocation("", {}, None, "pipelines with several statements are not modelled")

    out_string: str | None = None
    last = cmds[-1]
    if len(cmds) > 1 and str(last.command_text).lower() == "out-string":  # type: ignore[attr-defined]
        names = {str(n).lower() for n, _ in last.parameters if n}  # type: ignore[attr-defined]
        out_string = "stream" if "stream" in names else "plain"
        cmds = cmds[:-1]
    if len(cmds) != 1:
        return _Invocation("", {}, None, "pipelines of several commands are not modelled")

    first = cmds[0]
    text = str(first.command_text)  # type: ignore[attr-defined]
    params: dict[str, object] = {}
    for index, (name, value) in enumerate(first.parameters):  # type: ignore[attr-defined]
        params[str(name) if name else str(index)] = value
    if text.lower() == "invoke-expression" and not first.is_script:  # type: ignore[attr-defined]
        lowered = {k.lower(): v for k, v in params.items()}
        command = lowered.get("command", lowered.get("0"))
        if command is None:
            return _Invocation("", {}, None, "Invoke-Expression without -Command")
        return _Invocation(str(command), {}, out_string)
    return _Invocation(text, params, out_string)


def _apply_out_string(output: list[object], mode: str | None) -> list[object]:
    """Approximate Out-String: objects become text (str() stands in for PowerShell formatting)."""
    if mode is None:
        return output
    if mode == "stream":
        lines: list[object] = []
        for item in output:
            lines.extend(re.split(r"\r?\n", "" if item is None else str(item)))
        return lines
    return ["".join(("" if item is None else str(item)) + "\r\n" for item in output)]


def pipeline_id_of(fragment_data: bytes) -> uuid.UUID:
    """The PID of the PSRP message starting in ``fragment_data`` (a CREATE_PIPELINE fragment)."""
    if len(fragment_data) < _FRAGMENT_HEADER + _MESSAGE_PID_OFFSET + 16:
        raise ValueError("fragment too short to hold a PSRP message header")
    flags = fragment_data[16]
    if not flags & 0x1:
        raise ValueError("Command data must start a PSRP message")
    start = _FRAGMENT_HEADER + _MESSAGE_PID_OFFSET
    return uuid.UUID(bytes_le=bytes(fragment_data[start : start + 16]))


@dataclass
class Session:
    """One Runspace Pool shell on a simulated host (the WS-Man ShellId is the pool id)."""

    shell_id: str
    host: HostSpec
    owner: str
    client_ip: str
    stopping: threading.Event
    created: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.pool = ServerRunspacePool(application_private_data=_application_private_data())
        self.cond = threading.Condition()
        self._runs: dict[uuid.UUID, _Run] = {}
        self._by_command: dict[str, uuid.UUID] = {}
        self._outbox: dict[uuid.UUID | None, deque[bytes]] = {}

    # -- input ---------------------------------------------------------------------------------
    def open(self, creation_data: bytes) -> None:
        """Feed the ``creationXml`` of the Create (SESSION_CAPABILITY + INIT_RUNSPACEPOOL)."""
        with self.cond:
            self._feed(creation_data, None)

    def command(self, command_id: str | None, data: bytes) -> str:
        """Start a pipeline from the first CREATE_PIPELINE fragment(s) carried by Command.

        Returns the CommandId: the client's if it sent one, else the PSRP pipeline id (for PSRP
        the two are the same GUID, MS-PSRP 3.1.5.3.3).
        """
        pid = pipeline_id_of(data)
        with self.cond:
            if pid in self._runs:
                raise ValueError(f"pipeline {pid} already exists")
            # psrpcore needs the pipeline object before it can process CREATE_PIPELINE.
            run = _Run(ServerPipeline(self.pool, pid), (command_id or str(pid)).upper())
            self._runs[pid] = run
            self._by_command[run.command_id] = pid
            self._feed(data, pid)
            self.cond.notify_all()
            return run.command_id

    def send(self, command_id: str | None, data: bytes) -> None:
        """More input: the rest of a large CREATE_PIPELINE, pipeline input, host responses."""
        with self.cond:
            pid = self._pid(command_id) if command_id else None
            self._feed(data, pid)
            self.cond.notify_all()

    def has_command(self, command_id: str) -> bool:
        with self.cond:
            return command_id.upper() in self._by_command

    def _pid(self, command_id: str) -> uuid.UUID:
        try:
            return self._by_command[command_id.upper()]
        except KeyError:
            raise KeyError(command_id) from None

    def _feed(self, data: bytes, pid: uuid.UUID | None) -> None:
        self.pool.receive_data(PSRPPayload(data, StreamType.default, pid))
        while True:
            event = self.pool.next_event()
            if event is None:
                return
            if isinstance(event, InitRunspacePoolEvent) and self.host.fault is Fault.BROKEN_POOL:
                # Documented state transition (MS-PSRP 2.2.3.4): Opened -> Broken with a reason.
                # The reason text is the lab's own.
                self.pool.set_broken(throw_error_record("The runspace pool is broken (hvlm lab fault)."))
            elif isinstance(event, CreatePipelineEvent):
                self._plan(self._runs[event.pipeline_id], event)
            # Everything else (capability, pipeline input, key exchange) psrpcore answers itself
            # or the lab does not model.

    def _plan(self, run: _Run, event: CreatePipelineEvent) -> None:
        inv = describe_pipeline(list(event.pipeline.commands))
        run.out_string = inv.out_string
        if inv.unsupported:
            run.result = PipelineResult(terminating_error=f"hvlm WinRM lab: {inv.unsupported}")
        else:
            try:
                run.result = self.host.responder(inv.script, inv.params)
            except Exception as exc:  # a responder bug must not look like a transport failure
                log.exception("responder for host %s raised", self.host.name)
                run.result = PipelineResult(terminating_error=f"hvlm WinRM lab: responder raised {exc!r}")
        run.ready_at = time.monotonic() + max(0.0, self.host.latency)

    # -- output --------------------------------------------------------------------------------
    def _emit_due(self, now: float) -> None:
        for run in self._runs.values():
            if run.emitted or run.result is None or run.ready_at > now:
                continue
            run.emitted = True
            pipe, result = run.pipeline, run.result
            pipe.start()
            for item in _apply_out_string(result.output, run.out_string):
                pipe.write_output(item)
            for message in result.errors:
                exc, info, fqid = write_error_record(message)
                pipe.write_error(exc, info, fully_qualified_error_id=fqid)
            if result.terminating_error is None:
                pipe.complete()
            else:
                # psrpcore has no public "fail": send the documented PIPELINE_STATE Failed message
                # (MS-PSRP 2.2.2.21) carrying the error record, and record the state.
                pipe.prepare_message(
                    PipelineState(
                        PipelineState=int(PSInvocationState.Failed),
                        ExceptionAsErrorRecord=throw_error_record(result.terminating_error),
                    )
                )
                pipe.state = PSInvocationState.Failed

    def _drain(self, amount: int) -> None:
        while True:
            payload = self.pool.data_to_send(amount)
            if payload is None:
                return
            self._outbox.setdefault(payload.pipeline_id, deque()).append(payload.data)

    def _next_wake(self, deadline: float) -> float:
        pending = [r.ready_at for r in self._runs.values() if not r.emitted and r.result is not None]
        return min([deadline, *pending])

    def receive(self, command_id: str | None, amount: int, max_payloads: int, timeout: float) -> ReceiveChunk | None:
        """Long-poll like WinRM: return data as soon as there is some, None after ``timeout``."""
        target = self._pid(command_id) if command_id else None
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if self.stopping.is_set():
                    raise LabStopping()
                now = time.monotonic()
                self._emit_due(now)
                self._drain(amount)
                chunk = self._take(target, amount, max_payloads)
                if chunk is not None:
                    return chunk
                if now >= deadline:
                    return None
                # Capped so a lab shutdown is noticed even if nobody notifies.
                self.cond.wait(min(self._next_wake(deadline) - now, 1.0))

    def _take(self, target: uuid.UUID | None, amount: int, max_payloads: int) -> ReceiveChunk | None:
        box = self._outbox.get(target)
        if not box:
            return None
        payloads = [box.popleft()]
        size = len(payloads[0])
        while box and len(payloads) < max_payloads and size + len(box[0]) <= amount:
            size += len(box[0])
            payloads.append(box.popleft())
        done = False
        if target is not None:
            run = self._runs[target]
            done = not box and run.pipeline.state in (
                PSInvocationState.Completed,
                PSInvocationState.Failed,
                PSInvocationState.Stopped,
            )
        return ReceiveChunk(payloads, done)

    # -- control -------------------------------------------------------------------------------
    def signal(self, command_id: str, code: str) -> None:
        """Terminate closes a finished pipeline; ctrl_c stops a running one (MS-WSMV 3.1.4.12)."""
        with self.cond:
            pid = self._pid(command_id)
            run = self._runs[pid]
            if code.endswith("ctrl_c") and run.pipeline.state == PSInvocationState.Running:
                run.pipeline.stop()
            elif code.endswith("/Terminate") or code.endswith("ctrl_c"):
                if not run.emitted:
                    run.emitted = True  # a pipeline terminated before it finished never reports
                if run.pipeline.state in (PSInvocationState.NotStarted, PSInvocationState.Running):
                    run.pipeline.state = PSInvocationState.Stopped
                run.pipeline.close()
                del self._runs[pid]
                del self._by_command[run.command_id]
                self._outbox.pop(pid, None)
            self.cond.notify_all()

    def wake(self) -> None:
        with self.cond:
            self.cond.notify_all()
