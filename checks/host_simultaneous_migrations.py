"""The host allows at least one simultaneous live migration."""

from __future__ import annotations

from hvlm.audit.facts import Facts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check
from hvlm.checks._fixes import on_host


@check(
    id="host-simultaneous-migrations",
    title="Simultaneous live migrations at least 1",
    severity=Severity.HIGH,
    subject=SubjectKind.HOST,
    requires=("host.vmhost",),
    rationale="""MaximumVirtualMachineMigrations caps concurrent live migrations (default 2). At 0 no
    live migration can run; when the cap is reached the host logs event 21501 and further moves
    wait or fail.""",
    references=(DOCS["setup"], DOCS["set-vmhost"], DOCS["ts-lm"]),
    fix_hint="Set-VMHost -MaximumVirtualMachineMigrations 2.",
)
def run(f: Facts) -> Outcome:
    host = f.host()
    value = f["host.vmhost"]["MaximumVirtualMachineMigrations"]
    evidence = {"MaximumVirtualMachineMigrations": value}
    if isinstance(value, int) and value >= 1:
        return Outcome(Status.PASS, f"{host.fqdn} allows {value} simultaneous live migrations.", evidence=evidence)
    return Outcome(
        Status.FAIL,
        f"{host.fqdn} allows {value} simultaneous live migrations; no live migration can start.",
        on_host(
            host,
            "Allow two simultaneous live migrations (the Windows default).",
            "Set-VMHost -MaximumVirtualMachineMigrations 2",
            sets=(("MaximumVirtualMachineMigrations", "2"),),
            docs=(DOCS["set-vmhost"],),
            gui="Hyper-V Manager > Hyper-V Settings > Live Migrations > Simultaneous live migrations",
        ),
        evidence,
    )
