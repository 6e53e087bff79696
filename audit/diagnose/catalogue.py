"""Which causes each error code (or known message) has, most likely first (facts document 4.1, 4.2, 7 and 7.5).

The order is the tie-break between causes of the same verdict: a cause that blocks every move
(Credential Guard with CredSSP, no trust) comes before one that blocks some (a missing name form),
and a fault the configuration shows before a hint (a recent change). A code not listed here is
unknown: the diagnosis says so and falls back to the full audit of the pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hvlm.audit.diagnose.causes import CAUSES

__all__ = ["CATALOGUE", "CodeEntry"]

_KERBEROS_0E = (
    "credssp-credential-guard", "credssp-double-hop", "auth-type-mismatch", "domain-trust", "kcd-missing",
    "kcd-name-form", "kcd-kerberos-only", "operator-not-delegable", "destination-spn", "destination-dns",
    "clock-skew", "changes-not-effective",
)
_KERBEROS_0D = (
    "auth-type-mismatch", "domain-trust", "kcd-missing", "kcd-name-form", "kcd-kerberos-only",
    "credssp-credential-guard", "credssp-double-hop", "operator-not-delegable", "destination-spn", "clock-skew",
    "changes-not-effective",
)
_REFUSED = ("dest-vmms", "dest-migration-disabled", "dest-firewall-6600", "migration-network", "registry-pol",
            "network-path")


@dataclass(frozen=True)
class CodeEntry:
    code: str
    causes: tuple[str, ...]
    family: str  # which manual checks remain: "kerberos", "socket" or "other"
    context: str  # what the code means for a live migration
    note: str = ""  # caveats of the sources (UNCONFIRMED)
    why: dict[str, str] = field(default_factory=dict)  # code-specific wording of a cause's why


CATALOGUE: dict[str, CodeEntry] = {
    e.code: e
    for e in (
        CodeEntry("0x8009030E", _KERBEROS_0E, "kerberos",
                  "The source host's VMMS had no credentials to authenticate the migration connection to the "
                  "destination: with CredSSP there is no session of the operator on the source; with Kerberos the "
                  "constrained delegation is missing or wrong."),
        CodeEntry("0x8009030D", _KERBEROS_0D, "kerberos",
                  "The destination did not recognise the credentials the source presented (\"Failed to establish a "
                  "connection with host ...\"): Microsoft's fix sets Kerberos on both hosts, constrained delegation "
                  "with \"any authentication protocol\" for cifs and the migration service on both host objects, "
                  "then purges the tickets (klist purge -li 0x3e7) or waits: Microsoft says 15 minutes, but a ticket "
                  "obtained before the change can stay valid for up to 10 hours by default."),
        CodeEntry("0x80090322", ("destination-spn", "destination-dns", "destination-name-alias"), "kerberos",
                  "The ticket was issued for a principal name that is not the destination's: an SPN or name "
                  "mismatch.",
                  note="Microsoft documents this code for a cluster-to-cluster move whose live-migration network "
                  "order picked a private network; as a general SPN/name mismatch it is UNCONFIRMED."),
        CodeEntry("0x80090303", ("destination-spn", "destination-dns", "domain-trust", "kcd-missing",
                                 "destination-name-alias"), "kerberos",
                  "The KDC does not know the target principal (KDC_ERR_S_PRINCIPAL_UNKNOWN).",
                  note="Only a third-party report ties this code to live migration; its fix is correct SPNs and "
                  "delegation."),
        CodeEntry("0x80090311", ("domain-trust", "dc-unreachable", "destination-dns"), "kerberos",
                  "No domain controller (KDC) could be contacted to authenticate the connection.",
                  note="No Microsoft live-migration article covers this code (UNCONFIRMED in that context)."),
        CodeEntry("0x8007274C", ("dest-firewall-6600", "migration-network", "dest-migration-disabled", "dest-vmms",
                                 "registry-pol", "network-path"), "socket",
                  "The connection to the destination on TCP 6600 timed out (WSAETIMEDOUT, 10060)."),
        CodeEntry("0x8007274D", _REFUSED, "socket",
                  "The destination refused the connection on TCP 6600 (WSAECONNREFUSED, 10061): nothing listens "
                  "there for this source."),
        CodeEntry("0x80072746", _REFUSED, "socket",
                  "The destination reset the migration connection (WSAECONNRESET, 10054); Microsoft's checks are "
                  "those of a refused connection."),
        CodeEntry("0x8007271D", ("dest-firewall-6600", "security-software", "migration-network"), "socket",
                  "The migration socket was forbidden (WSAEACCES, 10013): firewall or antivirus."),
        CodeEntry("0x80070005", ("operator-local-admin", "kcd-missing", "kcd-kerberos-only", "destination-spn",
                                 "auth-type-mismatch", "operator-not-delegable", "changes-not-effective"), "kerberos",
                  "Access denied: Microsoft's troubleshooting guide points at delegation, SPN or Kerberos "
                  "configuration; rights on the hosts are the other usual suspect."),
        CodeEntry("0x80070569", ("user-rights",), "other",
                  "\"Failed to create Planned Virtual Machine at migration destination: Logon failure\": the planned "
                  "VM's account lacks a user right on the destination."),
        CodeEntry("0x800705AA", ("destination-memory",), "other",
                  "The destination lacks the resources (memory) to take the VM; the move fails before 10%."),
        CodeEntry("0x8007000E", ("destination-memory",), "other",
                  "The destination ran out of memory for the VM; the move fails before 10%."),
        CodeEntry("0xC03A0014", ("iso-path", "disk-path"), "other",
                  "A virtual disk provider was not found: the destination could not open a file of the VM, most "
                  "often an attached ISO that does not exist there, or a virtual disk it cannot reach."),
        # a message without a code of its own (Hyper-V shows it with the VMMS or HGS client event)
        CodeEntry("vtpm-key-protector", ("vtpm-guardian",), "other",
                  "The destination could not unwrap the key protector of a VM with a virtual TPM: it does not "
                  "hold a guardian the key protector names (Local mode: the source's UntrustedGuardian "
                  "certificates), or its Host Guardian Service did not release the key.",
                  note="The message carries no error code of its own; the event (10698 per a Microsoft support "
                  "blog) varies."),
    )
}

for _entry in CATALOGUE.values():  # a typo in a cause id must fail at import, not in front of a user
    for _cause_id in (*_entry.causes, *_entry.why):
        if _cause_id not in CAUSES:
            raise ValueError(f"{_entry.code} names an unknown cause {_cause_id!r}")
