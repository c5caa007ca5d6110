"""hearth ports and --port auto: USB bridges by VID:PID, virtual boards by their runtime
records, and no guessing between two boards."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from serial.tools import list_ports_common

from host_tools import ports
from host_tools.cli import main


def _usb(device: str, vid: int | None, pid: int | None, desc: str = "") -> list_ports_common.ListPortInfo:
    p = list_ports_common.ListPortInfo(device, skip_link_detection=True)
    p.vid, p.pid, p.description = vid, pid, desc or device
    return p


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("HEARTH_RUNTIME", str(tmp_path / "rt"))
    usb: list[Any] = []
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda *a, **k: list(usb))

    class W:
        def __init__(self) -> None:
            self.usb = usb

        def sim(self, name: str, pid: int | None = None, console: Path | None = None) -> Path:
            state = tmp_path / f"state-{name}"
            state.mkdir(exist_ok=True)
            (state / "bench.sock").write_text("")
            con = console or tmp_path / f"pts-{name}"
            con.touch()
            d = ports.runtime_dir()
            f = d / f"{name}.json"
            f.write_text(json.dumps({"pid": pid or os.getpid(), "board": name, "console": str(con), "state": str(state)}))
            return con

    return W()


@pytest.mark.parametrize("vid,pid,name", [
    (0x10C4, 0xEA60, "CP210x"), (0x1A86, 0x7523, "CH340"), (0x1A86, 0x55D4, "CH9102"),
    (0x0403, 0x6001, "FTDI FT232R"), (0x303A, 0x1001, "ESP32-C3/C6 USB-Serial/JTAG"),
    (0x303A, 0x4001, "ESP32-S2/S3 native USB (MicroPython)"),
])
def test_bridges_by_vid_pid(vid: int, pid: int, name: str) -> None:
    assert ports.bridge_name(vid, pid) == name


def test_unknown_products() -> None:
    assert ports.bridge_name(0x303A, 0x9999) == "Espressif (unknown product)"
    assert ports.bridge_name(0x1234, 0x5678) is None and ports.bridge_name(None, None) is None


def test_lists_usb_and_virtual(world: Any) -> None:
    world.usb += [_usb("/dev/ttyUSB0", 0x10C4, 0xEA60), _usb("/dev/ttyS0", None, None), _usb("/dev/ttyACM3", 0x046D, 0xC52B)]
    con = world.sim("latch-esp32")
    found = ports.list_all()
    by = {p.device: p for p in found}
    assert by["/dev/ttyUSB0"].bridge == "CP210x" and by["/dev/ttyUSB0"].vid_pid == "10c4:ea60"
    assert by[str(con)].kind == "virtual" and by[str(con)].board == "latch-esp32" and by[str(con)].bench
    assert not by["/dev/ttyS0"].likely_board and not by["/dev/ttyACM3"].likely_board
    assert [p.device for p in ports.candidates()] == ["/dev/ttyUSB0", str(con)]


def test_stale_sim_records_are_skipped(world: Any, tmp_path: Path) -> None:
    world.sim("dead", pid=2**22 + 12345)  # no such process
    con = world.sim("gone")
    con.unlink()  # its pty is gone
    assert ports.list_virtual() == []
    assert list(ports.runtime_dir().glob("*.json")) == []  # stale records are deleted, not just skipped


def test_auto_picks_the_one_board(world: Any) -> None:
    world.usb.append(_usb("/dev/ttyACM0", 0x303A, 0x1001))
    assert ports.resolve("auto") == "/dev/ttyACM0"
    assert ports.resolve("/dev/ttyUSB7") == "/dev/ttyUSB7"  # explicit ports are not checked here


def test_auto_refuses_to_guess(world: Any) -> None:
    world.usb.append(_usb("/dev/ttyUSB0", 0x1A86, 0x7523))
    con = world.sim("printer-s3")
    with pytest.raises(ports.PortError) as e:
        ports.resolve("auto")
    msg = str(e.value)
    assert "will not guess between 2 boards" in msg and "/dev/ttyUSB0 (CH340)" in msg and f"{con} (printer-s3)" in msg


def test_auto_with_no_board(world: Any) -> None:
    world.usb.append(_usb("/dev/ttyS0", None, None))
    with pytest.raises(ports.PortError, match="found no board"):
        ports.resolve("auto")


def test_cli_ports_json_and_auto_refusal(world: Any) -> None:
    world.usb.append(_usb("/dev/ttyUSB0", 0x0403, 0x6001, "FT232R USB UART"))
    world.sim("latch-esp32")
    r = CliRunner().invoke(main, ["ports", "--json"])
    assert r.exit_code == 0
    rows = json.loads(r.stdout)
    assert {x["bridge"] or x["kind"] for x in rows} == {"FTDI FT232R", "virtual"}
    r = CliRunner().invoke(main, ["ports"])
    assert "0403:6001" in r.stdout and "virtual latch-esp32" in r.stdout
    for verb in (["hello"], ["status"], ["diag"], ["config", "show"], ["monitor", "--duration", "1"],
                 ["flash", "--board", "latch-esp32"]):
        r = CliRunner().invoke(main, [*verb, "--port", "auto"])
        assert r.exit_code == 2 and "will not guess between 2 boards" in r.stderr, (verb, r.output)


def test_probe_reports_a_port_that_cannot_open(world: Any, tmp_path: Path) -> None:
    info = ports.PortInfo(device=str(tmp_path / "nope"), kind="usb")
    ports.probe(info, 0.1)
    assert info.hello is None and "no such port" in (info.probe_error or "")


def test_flash_resolves_auto(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 12, defect 1: `hearth flash --port auto` was sent to a port named "auto"
    con = world.sim("printer-s3")
    seen: list[Any] = []

    def fake_flash_ports(board: str | None, plist: list[str], known: dict[str, str], *a: Any) -> int:
        seen.append((board, plist, known))
        return 0

    monkeypatch.setattr("host_tools.cli.deploy_run.flash_ports", fake_flash_ports)
    r = CliRunner().invoke(main, ["flash", "--board", "printer-s3", "--port", "auto"])
    assert r.exit_code == 0, r.output
    assert seen == [("printer-s3", [str(con)], {str(con): "printer-s3"})]
    # without --board: a virtual board found by auto knows its board
    r = CliRunner().invoke(main, ["flash", "--port", "auto"])
    assert r.exit_code == 0, r.output
    assert seen[-1] == (None, [str(con)], {str(con): "printer-s3"})
