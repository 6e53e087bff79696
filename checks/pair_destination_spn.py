"""The destination's computer object carries the Microsoft Virtual System Migration Service SPNs."""

from __future__ import annotations

from collections.abc import Hashable

from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._ad import (
    MIGRATION_SERVICE,
    ad_fix,
    ad_host,
    auth_type,
    missing,
    outside_domain,
    spn_forms,
    unavailable,
    uses_kerberos,
)
from hvlm.checks._keys import workgroup


def _destination(dst: RoleFacts) -> tuple[str, bool | None, bool | None]:
    """The destination's authentication type; does its object register the migration service by each name
    (None: no object, an error)?"""
    comp = dst["ad_computer"]
    if comp is None:
        return auth_type(dst["vmhost"]), None, None
    have = {str(s).strip().casefold() for s in comp.get("servicePrincipalName") or []}
    short, fqdn = spn_forms(MIGRATION_SERVICE, dst.ref)
    return auth_type(dst["vmhost"]), short.casefold() in have, fqdn.casefold() in have


def _src_part(src: RoleFacts) -> Hashable:
    return workgroup(src), auth_type(src["vmhost"])


def _dst_part(dst: RoleFacts) -> Hashable:
    return workgroup(dst), _destination(dst)


@check(
    id="pair-destination-spn",
    title="Destination registers the migration service SPNs",
    severity=Severity.HIGH,
    subject=SubjectKind.PAIR,
    rollback=True,
    requires=(
        "source.vmhost?",
        "destination.vmhost?",
        "destination.ad_computer?",
        "source.computer_system?",
        "destination.computer_system?",
    ),
    rationale="""Kerberos can only issue the source a ticket for "Microsoft Virtual System Migration
    Service/<destination>" if that SPN is registered on the destination's computer object. Hyper-V
    registers it (with the Virtual Console Service) by NetBIOS name and FQDN; Microsoft's
    troubleshooting guide checks it with setspn -L and restores a missing one with setspn -s. Both
    forms are checked case-insensitively on the destination, for pairs where either host uses
    Kerberos; a missing form fails. Not applicable when both hosts use CredSSP, or when a host is
    not in a domain (host-domain-member reports that). The short form is the NetBIOS name, the
    first 15 characters of the host's name.""",
    references=(DOCS["ts-2026"], DOCS["setup"], DOCS["setspn"]),
    fix_hint='setspn -S "Microsoft Virtual System Migration Service/<name>" <destination> for each missing name.',
    parts=(_src_part, _dst_part),
)
def run(f: Facts) -> Outcome:
    src, dst = ad_host(f, "source"), ad_host(f, "destination")
    skip = outside_domain(f, "source", "destination", what="a Kerberos service ticket for the destination")
    if skip is not None:
        return skip
    svh, dvh = f.optional("source.vmhost"), f.optional("destination.vmhost")
    if not uses_kerberos(svh, dvh):
        return Outcome(Status.NOT_APPLICABLE, f"{src.short} and {dst.short} both use CredSSP: no service ticket is "
                       "requested.", evidence={"source": auth_type(svh), "destination": auth_type(dvh)})
    comp = f.optional("destination.ad_computer")
    if comp is None:
        return unavailable(f, "destination.ad_computer")
    spns = [str(s) for s in comp.get("servicePrincipalName") or []]
    wanted = list(spn_forms(MIGRATION_SERVICE, dst))
    absent = missing(spns, wanted)
    evidence = {"authentication": {"source": auth_type(svh), "destination": auth_type(dvh)},
                "destination_object": comp.get("distinguishedName") or comp["sAMAccountName"], "expected": wanted,
                "missing": absent,
                "registered_migration_spns": [s for s in spns if s.casefold().startswith(MIGRATION_SERVICE.casefold())]}
    if not absent:
        return Outcome(Status.PASS, f"{dst.short} registers {' and '.join(wanted)}.", evidence=evidence)
    account = f"{dst.short}"
    lines = ["setspn -L " + ps_quote(account)]
    lines += [f"setspn -S {ps_quote(spn)} {ps_quote(account)}" for spn in absent]
    return Outcome(
        Status.FAIL,
        f"{dst.short}'s computer object lacks {', '.join(absent)}: the source cannot get a Kerberos ticket for the "
        f"destination's migration service, so Kerberos moves from {src.short} fail.",
        ad_fix(
            summary=f"Register the missing migration-service SPNs on {dst.short}'s computer object (setspn -S checks "
            f"for duplicates first). Run it in {dst.domain}.",
            run_on=f"a machine in {dst.domain} with the AD DS tools (RSAT-AD-Tools)",
            powershell="\n".join(lines),
            docs=(DOCS["ts-2026"], DOCS["setspn"]),
        ),
        evidence,
    )
