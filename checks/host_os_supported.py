"""The host runs a Windows Server release that supports non-clustered live migration."""

from __future__ import annotations

from hvlm.audit.facts import Facts
from hvlm.audit.knowledge import DOCS, os_release
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check
from hvlm.checks._fixes import LOCAL_ADMIN, on_host


@check(
    id="host-os-supported",
    title="OS release supports non-clustered live migration",
    severity=Severity.HIGH,
    subject=SubjectKind.HOST,
    requires=("host.operating_system",),
    rationale="""Microsoft documents live migration without Failover Clustering for hosts running
    Windows Server 2012 R2 and later. The release is told apart by BuildNumber (9600 2012 R2, 14393
    2016, 17763 2019, 20348 2022, 26100 2025): Version 10.0 covers 2016 to 2025. Windows Server 2012
    (9200) and older are outside the documented matrix. A build this tool does not know is reported
    as a warning, not a pass, because its support cannot be confirmed.""",
    references=(DOCS["setup"], DOCS["vmversion"]),
    fix_hint="Upgrade the host to Windows Server 2012 R2 or later (2019 or newer recommended).",
)
def run(f: Facts) -> Outcome:
    host = f.host()
    os_info = f["host.operating_system"]
    build = os_info["BuildNumber"]
    release = os_release(build)
    evidence = {"Caption": os_info["Caption"], "Version": os_info["Version"], "BuildNumber": build}
    upgrade = on_host(
        host,
        "Upgrade the host to a supported Windows Server release (in-place upgrade or reinstall), "
        "after moving its VMs off with a cold move.",
        "# Check the installed release first:\n"
        "Get-CimInstance -ClassName Win32_OperatingSystem | Select-Object -Property 'Caption', 'Version', 'BuildNumber'",
        docs=(DOCS["setup"],),
        run_as=LOCAL_ADMIN,
        kind="manual",
    )
    if release is None:
        older = int(build) < 9600
        return Outcome(
            Status.FAIL if older else Status.WARNING,
            f"{host.fqdn} runs build {build} ({os_info['Caption']}), "
            + ("older than Windows Server 2012 R2." if older else "which this tool cannot place in the support matrix."),
            upgrade,
            evidence,
        )
    evidence["release"] = release.name
    if not release.supported:
        return Outcome(
            Status.FAIL,
            f"{host.fqdn} runs {release.name} (build {build}); non-clustered live migration is documented "
            "for Windows Server 2012 R2 and later.",
            upgrade,
            evidence,
        )
    return Outcome(Status.PASS, f"{host.fqdn} runs {release.name} (build {build}).", evidence=evidence)
