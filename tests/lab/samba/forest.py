"""Two forests with a two-way forest trust: LAB.TEST (an existing :class:`SambaDC`) and LAB2.TEST.

Usage::

    forest = SambaForest(dc1, tmp_path / "dc2")   # dc1: a SambaDC for LAB.TEST
    forest.start()        # LAB2.TEST on 127.0.0.3 (~1 s from cache), trust create + validate (~2 s)
    ...                   # trustedDomain CN=lab2.test,CN=System,DC=lab,DC=test and its mirror
    forest.stop()         # trust deleted on both sides, DC2 stopped; dc1 keeps running

How it works and why (measured on Samba 4.17):

- A trust needs each DC's smbd and winbindd, and smbd finds winbindd only at /run/samba/winbindd,
  whatever smb.conf says. Two DCs on one machine therefore each run in their own mount namespace
  with the lab's winbindd dir and resolv.conf bind-mounted there (:meth:`SambaDC.namespaced`).
- Name resolution goes one way only: DC1's DNS forwards names outside lab.test to DC2
  (``dns forwarder``), DC2's processes use DC1 as their nameserver. Two DCs forwarding to each
  other would bounce a query for any unknown name between them forever.
- ``samba-tool domain trust create lab2.test --type=forest --direction=both
  --create-location=both`` runs in DC1's namespace, with LAB2's Administrator password in the
  PASSWD environment variable; Samba has no such channel for the local DC's password, so it is
  passed as ``--local-dc-password`` (visible in ``ps`` for the 2 s the command runs; never logged).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from types import TracebackType

from ._proc import LabError, run
from .config import DEFAULT_ADMIN_PASSWORD
from .dc import SambaDC, mount_namespaces_available

FOREST2_IP = "127.0.0.3"


class SambaForest:
    """DC1 (given, LAB.TEST) plus DC2 (LAB2.TEST, started here) in a validated two-way forest trust."""

    def __init__(
        self,
        dc1: SambaDC,
        lab_dir: Path | str,
        *,
        realm: str = "LAB2.TEST",
        netbios_domain: str | None = None,
        host_name: str = "dc2",
        ip: str = FOREST2_IP,
        admin_password: str = DEFAULT_ADMIN_PASSWORD,
    ) -> None:
        self.dc1 = dc1
        self.dc2 = SambaDC(
            lab_dir,
            realm=realm,
            netbios_domain=netbios_domain,
            host_name=host_name,
            ip=ip,
            admin_password=admin_password,
            require_strong_auth=dc1.require_strong_auth,
            use_namespace=True,
            nameserver=dc1.ip,
        )
        self.trusted = False
        #: what ``samba-tool domain trust create`` printed (its validation lines)
        self.trust_output = ""
        self.timings: dict[str, float] = {}

    def start(self) -> None:
        """Start DC2 and create the trust; on failure stop DC2 and raise LabError saying why."""
        if not mount_namespaces_available():
            raise LabError(
                "a forest trust needs each DC in its own mount namespace (unshare --mount: root with "
                "CAP_SYS_ADMIN), because smbd finds winbindd only at /run/samba/winbindd; "
                "not available on this machine"
            )
        if self.dc1.use_namespace is False:
            raise LabError("the LAB.TEST DC runs outside a mount namespace (use_namespace=False)")
        dc1, dc2 = self.dc1, self.dc2
        if dc1.settings.dns_forwarder != dc2.ip or not dc1.running:
            dc1.restart(dns_forwarder=dc2.ip)
        dc1.extra_kdcs[dc2.realm] = dc2.ip
        dc2.extra_kdcs[dc1.realm] = dc1.ip
        dc1.write_krb5_conf()
        try:
            dc2.start()
            started = time.monotonic()
            self.trust_output = self._create_trust()
            self.timings["trust_create"] = time.monotonic() - started
            self.trusted = True
        except BaseException:
            dc2.stop()
            raise
        if "Success." not in self.trust_output:
            self.stop()
            raise LabError(f"forest trust {dc1.realm} <-> {dc2.realm} not validated:\n{self.trust_output}")

    def stop(self) -> None:
        """Delete the trust on both sides (so LAB.TEST is as before) and stop DC2."""
        try:
            if self.trusted and self.dc1.running and self.dc2.running:
                self._trust("delete", "--delete-location=both")
        finally:
            self.trusted = False
            self.dc1.extra_kdcs.pop(self.dc2.realm, None)
            if self.dc1.running:
                self.dc1.write_krb5_conf()
            self.dc2.stop()

    def __enter__(self) -> SambaForest:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _create_trust(self, attempts: int = 3) -> str:
        """Create the trust, retrying a transient failure.

        Seen on a loaded 2-core machine: DC2's LSA answering NT_STATUS_NO_MEMORY (0xC0000017,
        "Not Enough Quota") to the first connection just after start. A half-made trust is
        deleted before the next attempt; the last failure is raised as it came.
        """
        for attempt in range(1, attempts + 1):
            try:
                return self._trust("create", "--type=forest", "--direction=both", "--create-location=both")
            except LabError:
                if attempt == attempts:
                    raise
                with contextlib.suppress(LabError):
                    self._trust("delete", "--delete-location=both")
                time.sleep(2.0 * attempt)
        raise AssertionError("unreachable")

    def _trust(self, action: str, *options: str) -> str:
        dc1, dc2 = self.dc1, self.dc2
        command = dc1.namespaced(
            [
                "samba-tool", "domain", "trust", action, dc2.dns_domain, *options,
                "-s", str(dc1.smb_conf),
                "-U", f"{dc2.netbios_domain}\\{dc2.admin_user}",
                f"--local-dc-username={dc1.admin_user}",
                f"--local-dc-password={dc1.admin_password}",
            ]
        )  # fmt: skip
        env = {"PASSWD": dc2.admin_password, "KRB5_CONFIG": str(dc1.krb5_conf)}
        result = run(command, env=env, secrets=[dc1.admin_password, dc2.admin_password], timeout=120)
        return result.stdout
