"""Class keys: judging one subject per class gives every subject the status a full judgement gives.

Random fleets mix every kind of difference the keys must see (builds, authentication, delegation
entries, resource-based delegation, CPUs, switches, VM versions and memory, clocks, errors), so a
key that misses an input shows up as a subject whose status differs; the engine tests show that a
class is judged once, a failing class subject by subject, and that a too-coarse key is caught.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Mapping
from typing import Any

import pytest

from hvlm.audit import engine
from hvlm.audit.commands.audit_cmd import example_snapshot_path
from hvlm.audit.engine import evaluate, run_checks, verify_classes
from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.model import Fix, Outcome, Severity, Status, Subject, SubjectKind
from hvlm.audit.registry import Check, CheckDefinitionError, check, load_registry
from hvlm.audit.snapshot import FactError, Snapshot, error_fact
from tests.support.fleet import (
    MIGRATION_SERVICE,
    WHEN,
    ComputerModel,
    HostModel,
    VMModel,
    build_snapshot,
    delegation_entries,
)

CHECKS = list(load_registry(include_entry_points=False))
UNKEYED = {"pair-clock-skew"}  # reads provenance (collected_at), which a key cannot see

GiB = 1024**3
CORP, FAB = "corp.contoso.com", "lab.fabrikam.com"
SIDS = {CORP: "S-1-5-21-1111111111-2222222222-3333333333", FAB: "S-1-5-21-4444444444-5555555555-6666666666"}
BUILDS = (9600, 14393, 17763, 20348, 26100)
VERSIONS = ("4.0", "5.0", "8.0", "9.0", "10.0", "12.0")
CPUS = (
    ("GenuineIntel", "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"),
    ("GenuineIntel", "Intel(R)  Xeon(R) Gold 6338 CPU @ 2.00GHz "),  # same model, other spacing
    ("GenuineIntel", "Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz"),
    (" genuineintel", "INTEL(R) XEON(R) GOLD 6338 CPU @ 2.00GHZ"),  # same vendor and model, other case
    ("AuthenticAMD", "AMD EPYC 7763 64-Core Processor"),
)
SWITCHES = (["vSwitch-Prod"], ["vswitch-prod"], ["vSwitch-Prod", "Backup"], [])
ADAPTERS: tuple[list[tuple[str, str | None]], ...] = (
    [("Network Adapter", "vSwitch-Prod")],
    [("Network Adapter", "vswitch-prod")],
    [("Network Adapter", "Backup"), ("Second", "vSwitch-Prod")],
    [("Network Adapter", None)],
    [],
)
SUBNETS = (None, None, [("10.99.0.0/16", 0)], [("192.168.50.0/25", 0)], [("192.168.50.11", 0)], [("no subnet", 0)])
ERROR_SECTIONS = (
    "vmhost", "device_guard", "supported_versions", "ip_interfaces", "operating_system", "processor",
    "vm_switches", "clock", "migration_networks", "vms", "computer_system",
)


def _clock(offset: int) -> str:
    return f"2026-11-20T09:{offset // 60 + 10:02d}:{offset % 60:02d}Z"


def _host(rng: random.Random, i: int) -> HostModel:
    vendor, model = rng.choice(CPUS)
    vms = [
        VMModel(
            f"vm{i:02d}-{j}",
            version=rng.choice(VERSIONS),
            state=rng.choice(("Running", "Running", "Off", "Saved")),
            memory_startup=rng.choice((2, 8, 16)) * GiB,
            memory_assigned=rng.choice((None, None, 4 * GiB, 0)),
            compatibility_for_migration=rng.random() < 0.4,
            adapters=list(rng.choice(ADAPTERS)),
        )
        for j in range(rng.randint(0, 4))
    ]
    errors = {}
    if rng.random() < 0.4:
        for section in rng.sample(ERROR_SECTIONS, rng.randint(1, 2)):
            errors[section] = ("access_denied", "Access is denied.")
    if rng.random() < 0.2:  # then the documented table of the build decides
        errors["supported_versions"] = ("not_supported", "Get-VMHostSupportedVersion is not available.")
    return HostModel(
        f"HV{i:02d}",
        domain=FAB if rng.random() < 0.4 else CORP,
        part_of_domain=rng.random() < 0.95,
        index=rng.choice((i + 1, 150 + i)),
        build=rng.choice(BUILDS),
        cpu_vendor=vendor,
        cpu_name=model,
        auth=rng.choice(("Kerberos", "Kerberos", "CredSSP")),
        performance=rng.choice(("Compression", "TCPIP", "SMB", "SMB")),
        rdma=rng.random() < 0.5,
        use_any_network=rng.random() < 0.15,
        migration_networks=rng.choice(SUBNETS),
        switches=list(rng.choice(SWITCHES)),
        vms=vms,
        free_memory=rng.choice((256, 16, 9, 4)) * GiB,
        credential_guard=rng.random() < 0.3,
        utc_time=_clock(rng.choice((0, 0, 30, 250, 290, 310, 600))),
        supported_versions=rng.choice((None, None, ["8.0", "9.0", "10.0"], ["5.0"], ["9.0", "12.0"])),
        errors=errors,
    )


def _computer(rng: random.Random, i: int, host: HostModel, others: list[HostModel]) -> ComputerModel:
    entries: list[str] = []
    for dest in others:
        if rng.random() < 0.1:
            continue  # no delegation to this destination at all
        for entry in delegation_entries(dest):
            if rng.random() < 0.1:
                continue  # one form missing
            entries.append(entry.upper() if rng.random() < 0.1 else entry)
    rbcd = [(f"{SIDS[o.domain]}-{3000 + int(o.name[2:])}", f"{o.name}$") for o in others if rng.random() < 0.15]
    spns = None
    if rng.random() < 0.15:  # the migration service registered by one name only
        spns = [f"HOST/{host.name}", f"{MIGRATION_SERVICE}/{rng.choice((host.name, host.fqdn))}"]
    return ComputerModel(host, f"{SIDS[host.domain]}-{3000 + i}", delegate_to=entries,
                         any_protocol=rng.random() < 0.8, rbcd=rbcd, spns=spns)


def _trusts(rng: random.Random, partner: str) -> Any:
    choice = rng.random()
    if choice < 0.1:
        return error_fact("access_denied", "Access is denied.", "ldap", None, "trusts", WHEN)
    if choice < 0.35:
        return []
    attributes = rng.choice((0, 0x8, 0x20))
    name = "contoso.com" if attributes == 0x8 and partner == CORP else partner
    return [{"trustPartner": name, "flatName": None, "trustDirection": rng.choice((1, 2, 3)), "trustType": 2,
             "trustAttributes": attributes}]


def random_fleet(seed: int) -> Snapshot:
    rng = random.Random(seed)
    hosts = [_host(rng, i) for i in range(rng.randint(6, 10))]
    groups = [hosts[: len(hosts) // 2], hosts[len(hosts) // 2 :]]
    pairs = [(a.fqdn, b.fqdn) for g in groups for a in g for b in g if a is not b and rng.random() < 0.7]
    computers: dict[str, list[ComputerModel]] = {}
    for i, h in enumerate(hosts):
        if rng.random() < 0.9:  # else: no computer object in AD
            computers.setdefault(h.domain, []).append(_computer(rng, i, h, [o for o in hosts if o is not h]))
    domains = {
        dom: {
            "info": {"dnsRoot": dom, "nETBIOSName": dom.split(".")[0].upper(), "objectSid": SIDS[dom],
                     "currentTime": _clock(rng.choice((0, 40, 320)))},
            "trusts": _trusts(rng, FAB if dom == CORP else CORP),
        }
        for dom in (CORP, FAB)
    }
    groups_of = [f"{SIDS[CORP]}-513", *(f"{SIDS[d]}-512" for d in (CORP, FAB) if rng.random() < 0.4)]
    operator = None if rng.random() < 0.1 else {
        "domain": CORP, "sAMAccountName": "hvadmin", "distinguishedName": "CN=hvadmin,DC=corp,DC=contoso,DC=com",
        "userPrincipalName": f"hvadmin@{CORP}", "objectSid": f"{SIDS[CORP]}-1105", "userAccountControl": 0x200,
        "tokenGroups": groups_of, "memberOf": [],
    }
    doc = build_snapshot(hosts, computers=computers, domains=domains, operator=operator, pairs=pairs or None,
                         collector=rng.choice(("example", "probe")))
    for sections in doc["hosts"].values():  # VM fields that may come back empty
        for vm in sections["vms"].get("value", []):
            roll = rng.random()
            if roll < 0.05:
                vm["CompatibilityForMigrationEnabled"] = None
            elif roll < 0.1:
                del vm["NetworkAdapters"]
            elif roll < 0.15:
                vm["MemoryStartup"] = None
                vm["MemoryAssigned"] = None
    return Snapshot.from_document(doc)


def key_conflicts(snapshot: Snapshot, chk: Check) -> dict[Hashable, set[tuple[str, ...]]]:
    """The key contract itself: subjects with equal keys get the same statuses in a full judgement.

    Stricter than verify_classes, which cannot see two failing statuses (fail, warning, error) share a
    class, since the engine judges every subject of a failing class in full anyway."""
    statuses: dict[Subject, list[str]] = {}
    for f in run_checks(snapshot, [chk], keep_passed=True).findings:
        statuses.setdefault(f.subject, []).append(f.status.value)
    run = engine._Run(snapshot, keep_passed=False, list_passed=False)
    checker = engine._Checker(run, chk)
    operator = checker.common.get("operator")
    groups: dict[Hashable, set[tuple[str, ...]]] = {}
    vm_check = chk.meta.subject is SubjectKind.VM
    for d in run.out.directions:
        if not d.planned and (vm_check or not chk.meta.rollback):
            continue
        src, dst = checker.side("source", d.source), checker.side("destination", d.destination)
        if src.blocking or dst.blocking or (
            operator is not None and isinstance(operator[1], FactError) and "operator" in chk.meta.required
        ):
            continue  # judged in full without a key
        pair = Subject(chk.meta.subject, source=d.source, destination=d.destination)
        if not vm_check:
            assert chk.key is not None or chk.parts is not None
            groups.setdefault(checker.key(src, dst), set()).add(tuple(sorted(statuses[pair])))
            continue
        assert chk.vm_key is not None
        keyed = chk.key is not None or chk.parts is not None
        pk = checker.key(src, dst) if keyed else (d.source, d.destination)
        for vm in src.facts["vms"] or []:
            got = tuple(sorted(statuses[engine._vm_subject(pair, vm)]))
            groups.setdefault((pk, chk.vm_key(vm, src.facts)), set()).add(got)
    return {k: v for k, v in groups.items() if len(v) > 1}


@pytest.mark.parametrize("seed", range(10))
def test_random_fleets_classes_agree_with_full_judgement(seed: int) -> None:
    snapshot = random_fleet(seed)
    assert verify_classes(snapshot, CHECKS) == []
    for chk in CHECKS:
        if chk.key is not None or chk.parts is not None or chk.vm_key is not None:
            assert key_conflicts(snapshot, chk) == {}, chk.meta.id
    # the classes did spare judgements (else the comparison above proved little)
    ev = run_checks(snapshot, CHECKS)
    assert any(n < sum(ev.counts[c].values()) for c, n in ev.classes.items())


def test_random_fleets_reach_every_status() -> None:
    """The fleets are varied enough to exercise the keys: every pair and VM check sees two statuses or more."""
    seen: dict[str, set[str]] = {}
    for seed in range(10):
        for f in run_checks(random_fleet(seed), CHECKS, keep_passed=True).findings:
            seen.setdefault(f.check_id, set()).add(f.status.value)
    for chk in CHECKS:
        if chk.meta.subject in (SubjectKind.PAIR, SubjectKind.VM):
            assert len(seen.get(chk.meta.id, ())) >= 2, (chk.meta.id, seen.get(chk.meta.id))


def test_shipped_example_classes_agree_with_full_judgement() -> None:
    snapshot = Snapshot.load(example_snapshot_path())
    assert verify_classes(snapshot, CHECKS) == []
    for chk in CHECKS:
        if chk.key is not None or chk.parts is not None or chk.vm_key is not None:
            assert key_conflicts(snapshot, chk) == {}, chk.meta.id


def test_every_pair_and_vm_check_has_a_key() -> None:
    for chk in CHECKS:
        if chk.meta.subject in (SubjectKind.PAIR, SubjectKind.VM) and chk.meta.id not in UNKEYED:
            assert chk.key is not None or chk.parts is not None, chk.meta.id
        if chk.meta.subject is SubjectKind.VM:
            assert chk.vm_key is not None, chk.meta.id


# --- the engine's class path -------------------------------------------------------------------

META: dict[str, Any] = dict(
    title="t", severity=Severity.HIGH, rationale="why", references=("https://example.invalid/doc",), fix_hint="fix"
)
FIX = Fix(summary="do it", run_on="the source", run_as="an admin", powershell="Get-VMHost")


def _fleet(auths: list[str], vms: int = 0) -> Snapshot:
    hosts = [HostModel(f"HV{i:02d}", index=i, auth=a,
                       vms=[VMModel(f"vm{i}-{j}", memory_startup=(2 + j % 2) * GiB) for j in range(vms)])
             for i, a in enumerate(auths, 1)]
    return Snapshot.from_document(build_snapshot(hosts))


def _auth(side: RoleFacts) -> Hashable:
    return side["vmhost"]["VirtualMachineMigrationAuthenticationType"]


class Counting:
    """A pair check that fails for a CredSSP source, naming the subject, and counts its calls."""

    def __init__(self, key: Any) -> None:
        self.calls = 0
        self.check: Check = check(id="test-counting", subject=SubjectKind.PAIR,
                                  requires=("source.vmhost", "destination.vmhost"), key=key, **META)(self.run)

    def run(self, f: Facts) -> Outcome:
        self.calls += 1
        src, dst = f.host("source").short, f.host("destination").short
        if f["source.vmhost"]["VirtualMachineMigrationAuthenticationType"] == "CredSSP":
            return Outcome(Status.FAIL, f"{src} -> {dst} uses CredSSP", FIX)
        return Outcome(Status.PASS, f"{src} -> {dst} uses Kerberos")


def test_a_keyed_check_is_called_once_per_passing_class() -> None:
    counting = Counting(lambda s, d: _auth(s))
    ev = run_checks(_fleet(["Kerberos"] * 5), [counting.check])
    assert counting.calls == 1
    assert ev.counts["test-counting"] == {"pass": 20}
    assert ev.classes["test-counting"] == 1


def test_a_failing_class_is_judged_subject_by_subject() -> None:
    counting = Counting(lambda s, d: _auth(s))
    ev = run_checks(_fleet(["Kerberos", "CredSSP", "Kerberos", "CredSSP"]), [counting.check])
    failed = [f for f in ev.findings if f.status is Status.FAIL]
    assert counting.calls == 1 + 6  # one Kerberos class; each of the 6 moves from a CredSSP host in full
    assert ev.counts["test-counting"] == {"pass": 6, "fail": 6}
    assert len(failed) == 6
    for f in failed:  # each message names its own pair
        assert f.message == f"{f.subject.source.split('.')[0].upper()} -> " \
                            f"{f.subject.destination.split('.')[0].upper()} uses CredSSP"  # type: ignore[union-attr]
        assert f.fix == FIX


def test_verify_classes_reports_a_too_coarse_key(monkeypatch: pytest.MonkeyPatch) -> None:
    counting = Counting(lambda s, d: "everything alike")  # ignores the authentication type
    snapshot = _fleet(["Kerberos", "CredSSP", "Kerberos"])  # the first move (HV01 -> HV02) passes
    problems = verify_classes(snapshot, [counting.check])
    assert len(problems) == 4  # HV02 -> HV01 and HV02 -> HV03 counted as passes, not failures
    assert all("hv02.corp.contoso.com ->" in p for p in problems)
    assert any("full 1 x fail, by class 0 x fail" in p for p in problems)
    monkeypatch.setenv("HVLM_VERIFY_CLASSES", "1")
    with pytest.raises(AssertionError, match="class keys disagree"):
        evaluate(snapshot, [counting.check])
    monkeypatch.setenv("HVLM_VERIFY_CLASSES", "")
    assert [f.status for f in evaluate(snapshot, [counting.check])].count(Status.FAIL) == 2


def test_vm_classes_are_judged_once_per_pair_class_and_vm_key() -> None:
    calls: list[str] = []

    def vm_key(vm: Mapping[str, Any], src: RoleFacts) -> Hashable:
        return vm["MemoryStartup"]

    @check(id="test-vm-classes", subject=SubjectKind.VM, requires=("source.vms", "destination.vmhost"),
           key=lambda s, d: "any", vm_key=vm_key, **META)
    def per_vm(f: Facts) -> Outcome:
        assert f.vm is not None
        calls.append(str(f.vm["Name"]))
        return Outcome(Status.PASS, f"{f.vm['Name']} fits")

    ev = run_checks(_fleet(["Kerberos"] * 3, vms=4), [per_vm])
    assert len(calls) == 2  # two memory sizes, one pair class
    assert ev.counts["test-vm-classes"] == {"pass": 3 * 2 * 4}
    calls.clear()
    full = run_checks(_fleet(["Kerberos"] * 3, vms=4), [per_vm], keep_passed=True)  # tests, diagnose: in full
    assert len(calls) == 24 and len(full.findings) == 24


def test_role_facts_derived_is_computed_once_per_host() -> None:
    made: list[str] = []

    def key(s: RoleFacts, d: RoleFacts) -> Hashable:
        def count(side: RoleFacts) -> int:
            made.append(side.ref.name)
            return len(side["vm_switches"])

        return d.derived("switches", count)

    chk = check(id="test-derived", subject=SubjectKind.PAIR, requires=("destination.vm_switches",), key=key,
                **META)(lambda f: Outcome(Status.PASS, "ok"))
    run_checks(_fleet(["Kerberos"] * 4), [chk])
    assert sorted(made) == sorted(f"hv0{i}.corp.contoso.com" for i in range(1, 5))


def test_classed_counts_equal_full_counts() -> None:
    """The tally of skipped subjects adds up to what judging every subject counts, check by check."""
    for seed in (3, 7):
        snapshot = random_fleet(seed)
        assert run_checks(snapshot, CHECKS).counts == run_checks(snapshot, CHECKS, keep_passed=True).counts


def test_a_pair_free_vm_class_is_judged_once_per_source() -> None:
    """vm-smb-storage's parts differ for every host (delegation entries), but a VM with no file on a share
    passes whatever the hosts: that class is judged once per source, not once per planned move."""
    registry = load_registry()
    smb = next(c for c in registry if c.meta.id == "vm-smb-storage")
    snapshot = _fleet(["Kerberos"] * 4, vms=3)
    ev = run_checks(snapshot, [smb])
    assert ev.counts["vm-smb-storage"] == {"pass": 4 * 3 * 3}
    assert ev.classes["vm-smb-storage"] == 4  # one per source (12 planned moves)
    assert verify_classes(snapshot, [smb]) == []


def test_pair_free_vm_classes_need_optional_destination_facts() -> None:
    with pytest.raises(CheckDefinitionError, match="vm_pair_free"):
        check(id="test-free", subject=SubjectKind.VM, requires=("source.vms", "destination.vmhost"),
              vm_key=lambda vm, src: None, vm_pair_free=lambda k: True, **META)(lambda f: [])
