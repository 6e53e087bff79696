"""What a test declares about a simulated host: how it answers pipelines and how it misbehaves.

Everything here is plain data so a test reads like a fixture table. Behaviour that lives in the
PowerShell layer (output, Write-Error, throw) is the responder's business and travels in a
:class:`PipelineResult`; behaviour of the transport (HTTP status codes, WS-Man faults, hangs,
certificates) is a :class:`Fault` on the host.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass
class PipelineResult:
    """What one pipeline produced on the simulated host.

    ``output`` objects are serialized with psrpcore (str, int, float, bool, None, lists and dicts
    work; a probe that writes one JSON string is the common case). ``errors`` become
    non-terminating error records, as ``Write-Error`` makes them. ``terminating_error`` set means
    the script threw: the pipeline ends Failed and, as in PowerShell, the output written before
    the throw is still delivered.
    """

    output: list[object] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    terminating_error: str | None = None


Responder = Callable[[str, Mapping[str, object]], PipelineResult]
"""``(script, parameters) -> PipelineResult``.

``script`` is the text of the pipeline's first command: the script block for
``PowerShell.add_script(...)``, the command name for ``add_cmdlet(...)``, and the ``-Command`` text
when the client wraps it in ``Invoke-Expression`` (what ``Client.execute_ps`` does). ``parameters``
are that command's named parameters; positional arguments appear under their index ("0", "1").
"""


class Fault(enum.Enum):
    """Transport-level misbehaviour of a simulated host. Each names what the client sees."""

    ACCESS_DENIED = "access_denied"
    """Authentication succeeds, the shell Create is answered HTTP 500 with a WSManFault code 5."""

    SERVICE_UNAVAILABLE = "service_unavailable"
    """Every request is answered HTTP 503 with no SOAP body (HTTP.sys queue full, service stopping)."""

    BROKEN_POOL = "broken_pool"
    """The RunspacePool reports Opened then Broken during the open handshake."""

    HANG_ON_CREATE = "hang_on_create"
    """The Create request is read but never answered (a wedged WinRM service)."""

    HANG_ON_RECEIVE = "hang_on_receive"
    """The pool opens, but a pipeline's Receive is never answered (a host stuck mid-command)."""

    UNTRUSTED_CERT = "untrusted_cert"
    """HTTPS only: the listener presents a certificate from a CA the client was not given."""

    CONNECTION_RESET = "connection_reset"
    """The TCP connection is reset as soon as a request arrives (firewall, crashed listener)."""


@dataclass
class HostSpec:
    """One simulated Windows host. It gets its own port on 127.0.0.1.

    ``latency`` delays each pipeline's results by that many seconds (a slow host that still
    answers correctly). The delay is a deadline the waiting Receive sleeps towards, so it costs no
    server thread beyond the one already serving that client's connection.
    """

    name: str
    responder: Responder
    fault: Fault | None = None
    latency: float = 0.0
