"""The simulated host answers the shipped probe only: as hvlm sends it, or as Ansible's psrp
connection plugin sends it for the `raw` action (the text, then "\\nexit $LASTEXITCODE")."""

from __future__ import annotations

import json

import pytest

from hvlm.audit.collect.probe import probe_script
from tests.lab.hostsim import ANSIBLE_RAW_SUFFIX, SimHost, is_probe
from tests.support.fleet import HostModel

PROBE = probe_script()


def test_the_probe_as_hvlm_and_as_ansible_raw_sends_it_is_recognised() -> None:
    assert ANSIBLE_RAW_SUFFIX == "\nexit $LASTEXITCODE"
    assert is_probe(PROBE)
    assert is_probe(PROBE + ANSIBLE_RAW_SUFFIX)


@pytest.mark.parametrize("script", [
    PROBE.rstrip("\n") + ANSIBLE_RAW_SUFFIX,  # the trailing newline lost on the way
    PROBE.replace("\n", "\r\n") + ANSIBLE_RAW_SUFFIX,  # line endings changed
    "& {" + PROBE + "}" + ANSIBLE_RAW_SUFFIX,  # wrapped otherwise
    PROBE + ANSIBLE_RAW_SUFFIX + "\nGet-Process",  # something run after it
    "Get-Process\n" + PROBE,  # something run before it
    PROBE[:-20],  # cut short
    ANSIBLE_RAW_SUFFIX,
    "",
])
def test_anything_else_is_not_the_probe(script: str) -> None:
    assert not is_probe(script)


def test_the_host_answers_the_wrapped_probe_and_refuses_anything_else() -> None:
    host = SimHost(HostModel("HV01", index=1, build=20348))
    answered = host(PROBE + ANSIBLE_RAW_SUFFIX, {})
    assert answered.terminating_error is None and not answered.errors
    assert json.loads(str(answered.output[0]))["computer"]["fqdn"] == host.name
    refused = host("Get-Process" + ANSIBLE_RAW_SUFFIX, {})
    assert refused.output == [] and refused.terminating_error == "hostsim: this simulated host only runs the hvlm probe"
