"""Both hosts of a pair use the same live-migration authentication type."""

from __future__ import annotations

from hvlm.audit.facts import Facts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check
from hvlm.checks._ad import auth_type
from hvlm.checks._fixes import HOST_ADMIN, on_host
from hvlm.checks._keys import auth_part


@check(
    id="pair-auth-type-match",
    title="Same live-migration authentication type on both hosts",
    severity=Severity.HIGH,
    subject=SubjectKind.PAIR,
    rollback=True,
    requires=("source.vmhost", "destination.vmhost"),
    rationale="""VirtualMachineMigrationAuthenticationType (CredSSP or Kerberos, Get-VMHost) must be
    the same on both hosts: Microsoft's troubleshooting checklist says to check that the protocol is
    identical on each side, and the documented fix for 0x8009030D sets Kerberos on both. A mismatch
    fails. The fix moves the CredSSP side to Kerberos, which is Microsoft's recommendation (and the
    only choice on Windows Server 2025 with Credential Guard), together with the constrained
    delegation the pair-kcd checks ask for.""",
    references=(DOCS["setup"], DOCS["set-vmhost"], DOCS["ts-lm"]),
    fix_hint="Set-VMHost -VirtualMachineMigrationAuthenticationType Kerberos on the CredSSP host.",
    parts=(auth_part, auth_part),
)
def run(f: Facts) -> Outcome:
    src, dst = f.host("source"), f.host("destination")
    sa, da = auth_type(f["source.vmhost"]), auth_type(f["destination.vmhost"])
    evidence = {"source": sa, "destination": da}
    if sa == da:
        return Outcome(Status.PASS, f"{src.short} and {dst.short} both use {sa}.", evidence=evidence)
    credssp = src if sa == "CredSSP" else dst
    return Outcome(
        Status.FAIL,
        f"{src.short} uses {sa} but {dst.short} uses {da} for live migration: moves between them fail to "
        "authenticate (0x8009030D or 0x8009030E).",
        on_host(
            credssp,
            f"Switch {credssp.short} to Kerberos, like its peer, and set up constrained delegation for the pair "
            "(see pair-kcd-migration-service and pair-kcd-cifs).",
            "Set-VMHost -VirtualMachineMigrationAuthenticationType Kerberos",
            docs=(DOCS["setup"], DOCS["set-vmhost"]),
            gui="Hyper-V Manager > Hyper-V Settings > Live Migrations > Advanced Features > "
            "Authentication protocol: Use Kerberos",
            run_as=HOST_ADMIN,
            sets=(("VirtualMachineMigrationAuthenticationType", "Kerberos"),),
        ),
        evidence,
    )
