"""The inbound live-migration firewall rule (TCP 6600) is enabled."""

from __future__ import annotations

from typing import Any

from hvlm.audit.facts import Facts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._fixes import on_host

RULE = "VIRT-MIGL-In-TCP-NoScope"


@check(
    id="host-firewall-6600",
    title="Live-migration firewall rule (TCP 6600) enabled",
    severity=Severity.HIGH,
    subject=SubjectKind.HOST,
    requires=("host.firewall_rules",),
    rationale="""The migration data channel listens on TCP 6600; the Hyper-V role adds the inbound
    rule "Hyper-V (MIG-TCP-In)" (VIRT-MIGL-In-TCP-NoScope) for it. Disabled or blocking, the
    destination refuses the connection (0x8007274D, 0x8007271D). The check runs per host, not per
    pair: pair checks run in both directions, so every host of a planned pair is a destination, and
    one finding per host gives its fix once instead of once per incoming pair. A rule that is absent
    is a warning: the port may be opened by a differently named Group Policy rule, which was not
    collected.""",
    references=(DOCS["ts-lm"], DOCS["enable-netfirewallrule"], DOCS["setup"]),
    fix_hint="Enable-NetFirewallRule -Name 'VIRT-MIGL-In-TCP-NoScope'.",
)
def run(f: Facts) -> Outcome:
    host = f.host()
    rules = [r for r in f["host.firewall_rules"] if str(r.get("Name", "")).lower() == RULE.lower()]
    evidence: dict[str, Any] = {"rules": rules}
    docs = (DOCS["enable-netfirewallrule"], DOCS["ts-lm"])
    if not rules:
        return Outcome(
            Status.WARNING,
            f"{host.fqdn} has no firewall rule {RULE}; TCP 6600 may be closed unless a Group Policy rule opens it.",
            on_host(
                host,
                "Re-create the Hyper-V live-migration rule (or open TCP 6600 in the Group Policy that manages "
                "the firewall).",
                f"New-NetFirewallRule -Name {ps_quote(RULE)} -DisplayName 'Hyper-V (MIG-TCP-In)' -Direction Inbound "
                "-Protocol TCP -LocalPort 6600 -Program '%systemroot%\\system32\\vmms.exe' -Action Allow -Profile Any",
                docs=docs,
            ),
            evidence,
        )
    enabled = [r for r in rules if r.get("Enabled") is True]
    blocking = [r for r in enabled if str(r.get("Action") or "Allow").lower() == "block"]
    if enabled and not blocking:
        return Outcome(Status.PASS, f"{host.fqdn} allows inbound live migration on TCP 6600 ({RULE}).",
                       evidence=evidence)
    if blocking:
        message = f"{host.fqdn}'s rule {RULE} blocks inbound TCP 6600: live migrations to it are refused."
        ps = f"Set-NetFirewallRule -Name {ps_quote(RULE)} -Action Allow"
        summary = "Set the rule back to Allow (where Group Policy manages it, change it there)."
    else:
        message = f"{host.fqdn}'s rule {RULE} (Hyper-V (MIG-TCP-In), TCP 6600) is disabled: live migrations to it are refused."
        ps = f"Enable-NetFirewallRule -Name {ps_quote(RULE)}"
        summary = "Enable the Hyper-V live-migration firewall rule (where Group Policy manages it, enable it there)."
    return Outcome(
        Status.FAIL,
        message,
        on_host(host, summary, ps, docs=docs,
                gui="Windows Defender Firewall with Advanced Security > Inbound Rules > Hyper-V (MIG-TCP-In) > Enable Rule"),
        evidence,
    )
