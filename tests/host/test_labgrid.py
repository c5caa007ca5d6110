"""host_tools.labgrid: reading labgrid-client's text (labgrid 26), and every verb that
takes a port also taking --farm and --coordinator. The real coordinator and exporter:
tests/e2e/test_labgrid.py."""

from __future__ import annotations

import subprocess
from typing import Any

import click
import pytest

from host_tools import labgrid
from host_tools.cli import main
from host_tools.ports import PortError

PLACES = """\
Place 'bay-1':
  tags: board=printer-s3, line=1
  matches:
    farm1/bay-1/NetworkSerialPort
  acquired: None
  acquired resources:
  created: 2026-12-07 07:41:47.093854
  changed: 2026-12-07 07:41:48.108507
Place 'bay-2':
  comment: the spare
  matches:
    farm1/bay-2/NetworkSerialPort
  acquired: vm.lan/other
  acquired resources:
    farm1/bay-2/NetworkSerialPort/RawSerialPort
  created: 2026-12-07 07:41:47.093854
  changed: 2026-12-07 07:42:48.104939
"""

SHOW = """\
Place 'bay-1':
  tags: board=printer-s3, line=1
  matches:
    farm1/bay-1/NetworkSerialPort
  acquired: vm/root
  acquired resources:
    farm1/bay-1/NetworkSerialPort/RawSerialPort
  created: 2026-12-07 07:41:47.093854
  changed: 2026-12-07 07:42:48.104939
Acquired resource 'RawSerialPort' (farm1/bay-1/NetworkSerialPort/RawSerialPort):
  {'acquired': 'bay-1',
   'avail': True,
   'cls': 'NetworkSerialPort',
   'params': {'extra': {'path': '/dev/pts/6',
                        'proxy': 'localhost',
                        'proxy_required': False},
              'host': '127.0.0.1',
              'port': 40635,
              'speed': 115200}}
"""


RESOURCES = """\
Exporter 'farm1':
  Group 'bay-1' (farm1/bay-1/*):
    Resource 'RawSerialPort' (farm1/bay-1/NetworkSerialPort[/RawSerialPort]):
      {'acquired': 'bay-1',
       'avail': True,
       'cls': 'NetworkSerialPort',
       'params': {'extra': {'path': '/dev/pts/6',
                            'proxy': 'localhost',
                            'proxy_required': False},
                  'host': '127.0.0.1',
                  'port': 40635,
                  'speed': 115200}}
  Group 'bay-2' (farm1/bay-2/*):
    Resource 'RawSerialPort' (farm1/bay-2/NetworkSerialPort[/RawSerialPort]):
      {'acquired': 'bay-2',
       'avail': True,
       'cls': 'NetworkSerialPort',
       'params': {'extra': {'path': '/dev/pts/7',
                            'proxy': 'localhost',
                            'proxy_required': False},
                  'host': '127.0.0.1',
                  'port': None,
                  'speed': 115200}}
"""


def test_places_are_read_with_tags_holder_and_matches() -> None:
    p1, p2 = labgrid.parse_places(PLACES)
    assert (p1.name, p1.tags, p1.acquired) == ("bay-1", {"board": "printer-s3", "line": "1"}, None)
    assert (p2.name, p2.tags, p2.acquired, p2.comment) == ("bay-2", {}, "vm.lan/other", "the spare")
    assert p1.matches == ["farm1/bay-1/NetworkSerialPort"] and p1.has_serial_port
    assert not labgrid.Place("x", matches=["farm1/x/USBPowerPort"]).has_serial_port
    assert labgrid.Place("x", matches=["farm1/x/*"]).has_serial_port


def test_the_serial_ports_of_every_acquired_place_in_one_listing() -> None:
    a, b = labgrid.serial_ports(RESOURCES)
    assert (a["acquired"], a["path"], a["params"]["port"]) == ("bay-1", "farm1/bay-1/NetworkSerialPort/RawSerialPort",
                                                               40635)
    assert (b["acquired"], b["params"]["port"]) == ("bay-2", None)  # its ser2net is not up yet


def test_the_serial_port_of_a_place() -> None:
    (sp,) = labgrid.serial_ports(SHOW)
    assert sp["path"] == "farm1/bay-1/NetworkSerialPort/RawSerialPort"
    assert (sp["params"]["host"], sp["params"]["port"]) == ("127.0.0.1", 40635)
    assert labgrid.serial_ports(SHOW.split("Acquired resource")[0]) == []


def _done(rc: int, err: str) -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([], rc, "", err)


def test_labgrid_errors_are_said_in_one_line() -> None:
    held = _done(1, "labgrid-client: Error: Place bay-2 is already acquired by vm.lan/other. To work "
                    "simultaneously, other can execute 'labgrid-client -p bay-2 allow vm/root' on vm.lan.\n")
    ((name, msg),) = [labgrid._refusal(m) for m in labgrid._messages(held)]
    assert name == "bay-2" and "bay-2 is held by vm.lan/other" in msg and "\n" not in msg
    several = _done(1, "labgrid-client: Multiple errors occurred during acquire:\n"
                       "- Place bay-1 is already acquired by vm/x. To work simultaneously, x can execute ...\n"
                       "- You have already acquired place bay-2.\n")
    assert labgrid._messages(several) == ["Place bay-1 is already acquired by vm/x. To work simultaneously, x can "
                                          "execute ...", "You have already acquired place bay-2."]
    down = _done(1, "ERROR              root: coordinator is unavailable: failed to connect to all addresses; "
                    "last error: UNKNOWN: ipv4:127.0.0.1:1: Failed to connect to remote host: Connection refused\n"
                    "Server error: Error: Could not connect to coordinator\n")
    assert labgrid._error_of(down).startswith("cannot connect: failed to connect") and "refused" in labgrid._error_of(down)


def test_no_coordinator_no_places(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(labgrid.COORDINATOR_ENV, raising=False)
    assert labgrid.places() == []


def test_a_missing_client_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(labgrid.CLIENT_ENV, "/nonexistent/labgrid-client")
    with pytest.raises(PortError, match=labgrid.CLIENT_ENV):
        labgrid.client_path()


def _commands(group: Any, path: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out += _commands(cmd, f"{path}{name} ")
        else:
            out.append((f"{path}{name}", cmd))
    return out


def test_every_verb_that_takes_a_port_takes_farm_and_coordinator() -> None:
    with_port = [(n, c) for n, c in _commands(main) if any("--port" in p.opts for p in c.params)]
    assert len(with_port) > 15, [n for n, _ in with_port]
    for name, cmd in with_port:
        opts = {o for p in cmd.params for o in p.opts}
        assert {"--farm", "--coordinator"} <= opts, name
