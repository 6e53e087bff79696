"""A WinRM endpoint for tests: real WS-Management SOAP over HTTP(S) with real PSRP inside.

Like moto for AWS: unmodified pypsrp talks to simulated Windows hosts (one 127.0.0.1 port each)
whose pipelines are answered by Python responders::

    from pypsrp.powershell import PowerShell, RunspacePool
    from pypsrp.wsman import WSMan

    facts = lambda script, params: PipelineResult(output=['{"vms": 3}'])
    with WinRMLab([HostSpec("hv01", facts)], scheme="https", auth="basic", users={"admin": "pw"}) as lab:
        wsman = WSMan("127.0.0.1", port=lab.port("hv01"), ssl=True, auth="basic",
                      username="admin", password="pw", cert_validation=lab.ca_cert_path)
        with wsman, RunspacePool(wsman) as pool:
            assert PowerShell(pool).add_script("Get-Facts").invoke() == ['{"vms": 3}']

``WinRMLab.client_kwargs(host, user, password)`` gives the matching ``WSMan``/``Client`` keyword
arguments for any scheme and auth. Kerberos: ``auth="kerberos"`` (NTLM refused) or ``"negotiate"``
with the keytab of the hosts' computer accounts from the Samba lab (``kerberos.py`` here and in
tests/lab/samba). Benchmarks: ``python -m tests.lab.winrm.bench``.
"""

from .lab import WinRMLab, closed_port
from .model import Fault, HostSpec, PipelineResult, Responder

__all__ = ["Fault", "HostSpec", "PipelineResult", "Responder", "WinRMLab", "closed_port"]
