"""hvlm-scheduled with HVLM_KEYTAB: each run gets a fresh ticket from a keytab exported by the Samba
lab's KDC, in a ccache of that run only, which hvlm sees and which is gone after the run."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from hvlm.audit.commands.audit_cmd import example_snapshot_path
from tests.compliance.procs import REPO, env, hvlm_command
from tests.compliance.test_history import entries
from tests.compliance.test_readme_krb5 import readme_krb5_conf
from tests.compliance.test_scheduled import SCRIPT
from tests.lab.samba import SambaDC

pytestmark = pytest.mark.lab
pytest_plugins = ["tests.lab.samba.fixtures"]  # samba_dc

USER, PASSWORD = "schedauditor", "Sched-Auditor-Pass-1"  # lab-only domain account of this module


@pytest.fixture(scope="module")
def keytab(samba_dc: SambaDC, tmp_path_factory: pytest.TempPathFactory) -> Path:
    samba_dc.add_user(USER, PASSWORD)
    path = tmp_path_factory.mktemp("keytab") / "schedauditor.keytab"
    samba_dc.samba_tool("domain", "exportkeytab", str(path), f"--principal={USER}")
    assert path.is_file()
    path.chmod(0o600)
    return path


def _run(tmp_path: Path, samba_dc: SambaDC, **extra: str) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    seen = tmp_path / "klist.txt"
    # hvlm as the scan would run it, first saying which ticket it was handed
    shim = tmp_path / "hvlm-with-klist"
    shim.write_text("#!/bin/sh\n"
                    f"{{ echo \"KRB5CCNAME=$KRB5CCNAME\"; klist; }} > {shlex.quote(str(seen))} 2>&1\n"
                    f"exec {hvlm_command()} \"$@\"\n", "utf-8")
    shim.chmod(0o755)
    variables = env(HVLM=str(shim), KRB5_CONFIG=str(samba_dc.krb5_conf), HVLM_NOTIFY="cat > /dev/null", **extra)
    variables.pop("KRB5CCNAME", None)
    run = subprocess.run([str(SCRIPT), str(state), "audit", example_snapshot_path()], env=variables,
                         capture_output=True, text=True, timeout=300, check=False, cwd=REPO)
    return run, state, seen


def test_each_run_gets_a_ticket_from_the_keytab_in_its_own_ccache(
        samba_dc: SambaDC, keytab: Path, tmp_path: Path) -> None:
    principal = f"{USER}@{samba_dc.realm}"
    run, state, seen = _run(tmp_path, samba_dc, HVLM_KEYTAB=str(keytab), HVLM_PRINCIPAL=principal)
    assert run.returncode == 1 and run.stderr == "", run.stderr
    assert len(entries(state)) == 1
    text = seen.read_text("utf-8")
    cache = text.splitlines()[0].removeprefix("KRB5CCNAME=")
    assert cache.startswith("FILE:") and not cache.startswith(f"FILE:{state}")
    assert f"Default principal: {principal}" in text and f"krbtgt/{samba_dc.realm}@{samba_dc.realm}" in text
    assert not os.path.exists(cache.removeprefix("FILE:"))  # removed with the run
    again, _, _ = _run(tmp_path, samba_dc, HVLM_KEYTAB=str(keytab), HVLM_PRINCIPAL=principal)
    assert again.returncode == 1 and len(entries(state)) == 2
    assert seen.read_text("utf-8").splitlines()[0] != f"KRB5CCNAME={cache}"  # a new cache each run


def test_no_ticket_from_the_keytab_is_exit_2_and_nothing_kept(
        samba_dc: SambaDC, keytab: Path, tmp_path: Path) -> None:
    wrong = f"nosuchuser@{samba_dc.realm}"
    run, state, seen = _run(tmp_path, samba_dc, HVLM_KEYTAB=str(keytab), HVLM_PRINCIPAL=wrong)
    assert run.returncode == 2 and entries(state) == [] and not seen.exists()
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"hvlm-scheduled: error: no Kerberos ticket: kinit -k -t {keytab} {wrong} failed: ")
    run, state, _ = _run(tmp_path, samba_dc, HVLM_KEYTAB=str(keytab))
    assert run.returncode == 2 and entries(state) == []
    assert run.stderr.splitlines() == [
        "hvlm-scheduled: error: HVLM_KEYTAB is set but HVLM_PRINCIPAL is not (e.g. hvaudit@CORP.EXAMPLE)"]


def test_the_readme_krb5_conf_gets_a_ticket_from_a_real_kdc(samba_dc: SambaDC, keytab: Path, tmp_path: Path) -> None:
    """The README's krb5.conf with the lab's realm, domain and KDC address in place of the example's
    (nothing else changed): MIT kinit gets a ticket with the keytab, as hvlm-scheduled does."""
    text = readme_krb5_conf()
    text = text.replace("CORP.EXAMPLE", samba_dc.realm).replace("corp.example", samba_dc.dns_domain)
    text = re.sub(r"(?m)^(\s*kdc = ).*$", lambda m: m.group(1) + samba_dc.ip, text)
    conf = tmp_path / "krb5.conf"
    conf.write_text(text, "utf-8")
    ccache = tmp_path / "ccache"
    variables = dict(os.environ, KRB5_CONFIG=str(conf), KRB5CCNAME=f"FILE:{ccache}")
    got = subprocess.run(["kinit", "-k", "-t", str(keytab), f"{USER}@{samba_dc.realm}"], env=variables,
                         capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
    assert got.returncode == 0, got.stderr
    listed = subprocess.run(["klist", "-c", f"FILE:{ccache}"], capture_output=True, text=True, timeout=60, check=False)
    assert f"Default principal: {USER}@{samba_dc.realm}" in listed.stdout
