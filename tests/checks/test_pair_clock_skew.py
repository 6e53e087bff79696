"""pair-clock-skew: hosts and DCs within 5 minutes, judged against the collector's read times."""

from __future__ import annotations

from typing import Any

from hvlm.audit.model import Severity, Status
from tests.checks._identity import BACK, CORP, H1, H2, PAIR, assert_safe, doc, finding
from tests.support.checking import break_fact


def clock(d: dict[str, Any], host: str, utc: str, read: str | None = None, collector: str | None = None) -> None:
    fact = d["hosts"][host]["clock"]
    fact["value"]["UtcTime"] = utc
    if read:
        fact["collected_at"] = read
    if collector:
        fact["source"]["collector"] = collector


def test_pass_clocks_agree() -> None:
    f = finding("pair-clock-skew", doc(), PAIR)
    assert f.status is Status.PASS and "HV01 vs HV02 0 s" in f.message
    assert "DC of corp.contoso.com" in f.message


def test_pass_time_between_reads_cancels_out() -> None:
    # HV02 was read six minutes after HV01: its clock says six minutes later, and it is right
    d = doc()
    clock(d, H2, "2026-11-20T09:06:00Z", read="2026-11-20T09:06:00Z")
    f = finding("pair-clock-skew", d, PAIR)
    assert f.status is Status.PASS
    assert f.evidence["comparisons"][0]["method"] == "offsets against the collector's clock"


def test_fail_seven_minutes_apart() -> None:
    d = doc()
    clock(d, H2, "2026-11-20T09:07:00Z")
    for label in (PAIR, BACK):
        f = finding("pair-clock-skew", d, label)
        assert f.status is Status.FAIL and "420 s" in f.message
        assert f.fix is not None and f.fix.run_on == H2  # HV02 is the one off from the DC
        assert "w32tm /resync /rediscover" in f.fix.powershell
        assert_safe(f.fix.powershell)


def test_fail_host_off_from_its_domain_controller() -> None:
    d = doc(domains={CORP: {"info": {"dnsRoot": CORP, "objectSid": "S-1-5-21-1-2-3",
                                     "currentTime": "2026-11-20T09:06:00Z"}}})
    f = finding("pair-clock-skew", d, PAIR)
    assert f.status is Status.FAIL and "HV01 vs DC of corp.contoso.com 360 s" in f.message


def test_fail_close_to_the_limit_is_a_warning() -> None:
    d = doc()
    clock(d, H1, "2026-11-20T09:04:30Z")
    f = finding("pair-clock-skew", d, PAIR)
    assert f.status is Status.WARNING and f.severity is Severity.MEDIUM and f.fix is not None
    assert f.fix.run_on == H1


def test_fail_probe_output_timestamps_give_a_range() -> None:
    # collected_at from probe output may come from the host's own clock: the raw difference counts,
    # with the gap between the reads as uncertainty
    d = doc()
    clock(d, H1, "2026-11-20T09:00:00Z", read="2026-11-20T09:00:00Z", collector="probe-output")
    clock(d, H2, "2026-11-20T09:03:00Z", read="2026-11-20T09:03:00Z", collector="probe-output")
    f = finding("pair-clock-skew", d, PAIR)
    assert f.status is Status.WARNING and "\u00b1180" in f.message
    clock(d, H2, "2026-11-20T09:09:00Z", read="2026-11-20T09:03:00Z", collector="probe-output")
    assert finding("pair-clock-skew", d, PAIR).status is Status.FAIL
    clock(d, H2, "2026-11-20T09:00:30Z", read="2026-11-20T09:00:20Z", collector="probe-output")
    assert finding("pair-clock-skew", d, PAIR).status is Status.PASS


def test_pass_without_domain_time() -> None:
    d = doc()
    break_fact(d, "domains", CORP, "info")
    f = finding("pair-clock-skew", d, PAIR)
    assert f.status is Status.PASS and "DC of" not in f.message


def test_missing_clock() -> None:
    d = doc()
    break_fact(d, "hosts", H2, "clock")
    f = finding("pair-clock-skew", d, PAIR)
    assert f.status is Status.ERROR and "clock" in f.message
