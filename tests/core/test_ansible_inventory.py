"""`hvlm inventory from-ansible`: Ansible INI and YAML inventories as hvlm inventories."""

from __future__ import annotations

from pathlib import Path

import pytest

from hvlm.audit.ansible_inventory import expand_hosts
from hvlm.audit.cli import main
from hvlm.audit.inventory import load_inventory

INI = """\
# Hyper-V hosts
hv00.corp.example ansible_host=10.0.0.9

[prod]
hv01.corp.example ansible_host=10.0.0.1 ansible_port=5986
hv02.corp.example  ansible_host="10.0.0.2"   # the second one

[dev]
hv0[3:4].corp.example

[site:children]
prod
dev

[dev:vars]
ansible_port=5985
ansible_user=CORP\\\\auditor
"""

YAML = """\
all:
  hosts:
    hv00.corp.example:
      ansible_host: 10.0.0.9
  children:
    site:
      children:
        prod:
          hosts:
            hv01.corp.example:
              ansible_host: 10.0.0.1
              ansible_port: 5986
            hv02.corp.example:
              ansible_host: 10.0.0.2
        dev:
          hosts:
            hv0[3:4].corp.example:
          vars:
            ansible_port: 5985
"""


def _convert(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str,
             *extra: str) -> tuple[int, str, Path]:
    src = tmp_path / name
    src.write_text(text, "utf-8")
    out = tmp_path / "fleet.toml"
    capsys.readouterr()
    code = main(["inventory", "from-ansible", str(src), "-o", str(out), *extra])
    return code, capsys.readouterr().err, out


@pytest.mark.parametrize(("name", "text"), [("hosts.ini", INI), ("hosts", INI), ("inventory.yml", YAML)])
def test_ini_and_yaml_become_the_same_hvlm_inventory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str
) -> None:
    code, err, out = _convert(tmp_path, capsys, name, text)
    assert code == 0, err
    assert "hvlm: wrote" in err and "5 hosts, 3 groups" in err
    assert "group dev sets ansible_port as a group variable, which hvlm does not read" in err
    inv = load_inventory(out)  # hvlm reads what it wrote
    assert inv.host_names == [f"hv0{i}.corp.example" for i in range(5)]
    assert inv.connection("hv00.corp.example") == {"address": "10.0.0.9"}
    assert inv.connection("hv01.corp.example") == {"address": "10.0.0.1", "port": 5986}
    assert inv.connection("hv02.corp.example") == {"address": "10.0.0.2"}
    assert inv.connection("hv03.corp.example") == {}  # group vars are not read
    assert dict(inv.groups) == {
        "prod": ("hv01.corp.example", "hv02.corp.example"),
        "dev": ("hv03.corp.example", "hv04.corp.example"),
        "site": ("hv01.corp.example", "hv02.corp.example", "hv03.corp.example", "hv04.corp.example"),
    }
    assert ("hv01.corp.example", "hv04.corp.example") in inv.pairs  # through site
    assert not any("hv00.corp.example" in p for p in inv.pairs)  # in no group: no move planned


def test_without_groups_every_pair_is_planned_and_stdout_is_the_default(capsys: pytest.CaptureFixture[str],
                                                                        tmp_path: Path) -> None:
    src = tmp_path / "hosts"
    src.write_text("a.corp.example\nb.corp.example ansible_port=5985\n")
    assert main(["inventory", "from-ansible", str(src)]) == 0
    text = capsys.readouterr().out
    assert '{ name = "b.corp.example", port = 5985 }' in text and "[groups]" not in text


def test_host_ranges_expand_as_ansible_does() -> None:
    assert expand_hosts("hv[01:03].x") == ["hv01.x", "hv02.x", "hv03.x"]
    assert expand_hosts("hv[8:10]") == ["hv8", "hv9", "hv10"]
    assert expand_hosts("db-[a:c]") == ["db-a", "db-b", "db-c"]
    assert expand_hosts("n[0:6:3]") == ["n0", "n3", "n6"]
    assert expand_hosts("r[1:2]-[a:b]") == ["r1-a", "r1-b", "r2-a", "r2-b"]


@pytest.mark.parametrize(("name", "text", "needle"), [
    ("h.ini", "[prod\nhv01\n", "h.ini at line 1: unclosed section header"),
    ("h.ini", "[prod:weird]\nhv01\n", "h.ini at line 1: unknown section [prod:weird]"),
    ("h.ini", "hv01 ansible_port=http\n", "h.ini at line 1: ansible_port must be a port number from 1 to 65535, not 'http'"),
    ("h.ini", "hv01 ansible_port=70000\n", "ansible_port must be a port number"),
    ("h.ini", "hv01 junk\n", "h.ini at line 1: expected key=value after the host name, not 'junk'"),
    ("h.ini", "hv[3:1]\n", "h.ini at line 1: host pattern 'hv[3:1]': range [3:1] runs backwards"),
    ("h.ini", "hv01 ansible_host='unterminated\n", "h.ini at line 1: cannot split the line"),
    ("h.ini", "# nothing\n", "h.ini: the Ansible inventory has no hosts"),
    ("h.ini", "HV01\nhv01\n", "h.ini at hosts[1]: cannot become an hvlm inventory: host 'hv01' is named twice"),
    ("h.ini", "[a:children]\nb\n[b:children]\na\n[b]\nhv01\n", "h.ini: group a contains itself (a -> b -> a)"),
    ("h.yml", "all:\n  hosts: [hv01]\n", "h.yml at /all/hosts: hosts is a mapping of host names"),
    ("h.yml", "all:\n  hosts:\n    hv01:\n      ansible_port: [1]\n", "ansible_port must be a port number"),
    ("h.yml", "all:\n  hostz: {}\n", "h.yml at /all/hostz: unknown key 'hostz' in a group"),
    ("h.yml", "all: [\n", "h.yml at line 2 column 1: invalid YAML"),
    ("h.yml", "- hv01\n", "h.yml at /: an Ansible YAML inventory is a mapping of groups"),
    ("h.yml", "all:\n  hosts:\n    hv01:\n      ansible_host: !vault |\n        abc\n",
     "h.yml at line 4 column 21: invalid YAML"),
])
def test_bad_ansible_inventories_are_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, needle: str
) -> None:
    code, err, out = _convert(tmp_path, capsys, name, text)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hvlm: error: "), err
    assert needle in lines[0], lines[0]
    assert not out.exists()


def test_an_existing_output_is_kept_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "fleet.toml").write_text("keep me\n")
    code, err, out = _convert(tmp_path, capsys, "h.ini", "hv01\n")
    assert code == 2 and "fleet.toml exists; give --force" in err and out.read_text() == "keep me\n"
    code, err, out = _convert(tmp_path, capsys, "h.ini", "hv01\n", "--force")
    assert code == 0 and load_inventory(out).host_names == ["hv01"]


def test_unreadable_or_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = _convert(tmp_path, capsys, "h.ini", "")
    assert code == 2
    src = tmp_path / "bin.ini"
    src.write_bytes(b"\xff\xfe\x00junk")
    assert main(["inventory", "from-ansible", str(src)]) == 2
    assert "not UTF-8 text" in capsys.readouterr().err
    assert main(["inventory", "from-ansible", str(tmp_path / "none.ini")]) == 2
    assert "none.ini: cannot read file" in capsys.readouterr().err
