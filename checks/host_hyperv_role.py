"""The Hyper-V role is installed and the Virtual Machine Management service runs."""

from __future__ import annotations

from hvlm.audit.facts import Facts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check
from hvlm.checks._fixes import LOCAL_ADMIN, on_host


@check(
    id="host-hyperv-role",
    title="Hyper-V role installed and VMMS running",
    severity=Severity.CRITICAL,
    subject=SubjectKind.HOST,
    # vmms is optional: without the role there is no vmms service to read, and the verdict is a fail
    requires=("host.hyperv_feature", "host.vmms_service?"),
    rationale="""Live migration is performed by the Hyper-V Virtual Machine Management service (vmms)
    on both hosts. Without the role, or with vmms stopped, the host can neither send nor receive a
    virtual machine. Best Practices Analyzer rule 3 also requires vmms to start automatically.""",
    references=(DOCS["setup"], DOCS["install"]),
    fix_hint="Install the Hyper-V role, or start vmms and set it to start automatically.",
)
def run(f: Facts) -> Outcome:
    host = f.host()
    feature = f["host.hyperv_feature"]
    service = f.optional("host.vmms_service")
    evidence = {"InstallState": feature["InstallState"]}
    if service is not None:
        evidence.update({"vmms.Status": service["Status"], "vmms.StartType": service.get("StartType")})
    if feature["InstallState"] != "Installed":
        return Outcome(
            Status.FAIL,
            f"The Hyper-V role is not installed on {host.fqdn} (InstallState {feature['InstallState']}).",
            on_host(
                host,
                "Install the Hyper-V role with its management tools; the host restarts.",
                "Install-WindowsFeature -Name Hyper-V -IncludeManagementTools -Restart",
                docs=(DOCS["install"],),
                gui="Server Manager > Manage > Add Roles and Features > Hyper-V",
                run_as=LOCAL_ADMIN,
                kind="disruptive",
            ),
            evidence,
        )
    if service is None:
        err = f.unavailable("host.vmms_service")
        reason = f"{err.path}: {err.message}" if err else "the vmms service state was not collected"
        return Outcome(Status.ERROR, f"could not check: Hyper-V is installed on {host.fqdn} but {reason}", evidence=evidence)
    if service["Status"] != "Running" or service.get("StartType") not in ("Automatic", None):
        problem = []
        if service["Status"] != "Running":
            problem.append(f"is {service['Status']}")
        if service.get("StartType") not in ("Automatic", None):
            problem.append(f"starts {service['StartType']}")
        status = Status.FAIL if service["Status"] != "Running" else Status.WARNING
        return Outcome(
            status,
            f"The Hyper-V Virtual Machine Management service (vmms) on {host.fqdn} {' and '.join(problem)}.",
            on_host(
                host,
                "Set vmms to start automatically and start it.",
                "Set-Service -Name vmms -StartupType Automatic\nStart-Service -Name vmms",
                docs=(DOCS["install"],),
                gui="services.msc > Hyper-V Virtual Machine Management > Startup type: Automatic > Start",
                run_as=LOCAL_ADMIN,
            ),
            evidence,
            severity=None if status is Status.FAIL else Severity.MEDIUM,
        )
    return Outcome(Status.PASS, f"Hyper-V is installed on {host.fqdn} and vmms is running.", evidence=evidence)
