"""`hearth print` and `hearth diag heater-test` called in-process close the serial port
they opened, whatever happens on the wire (BoardClient does not own a port it is given)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from host_tools import cli
from host_tools.transport import serialport


class SilentPort:
    """A pyserial-like port on which the board never answers."""

    name = "fake"

    def __init__(self) -> None:
        self.closed = False
        self.timeout = 0.01

    def read(self, n: int = 1) -> bytes:
        return b""

    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        pass

    def reset_input_buffer(self) -> None:
        pass

    @property
    def in_waiting(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> SilentPort:
    p = SilentPort()
    monkeypatch.setattr(serialport, "open_port", lambda *a, **k: p)
    monkeypatch.setattr("host_tools.ports.resolve", lambda v: v)
    return p


def test_print_closes_the_port(port: SilentPort, tmp_path: Path) -> None:
    job = tmp_path / "j.gcode"
    job.write_text("M83\nG1 E1 F60\n")
    r = CliRunner().invoke(cli.main, ["print", "--port", "/dev/fake", str(job)])
    assert r.exit_code != 0  # nobody answers
    assert port.closed


def test_heater_test_closes_the_port(port: SilentPort, tmp_path: Path) -> None:
    r = CliRunner().invoke(cli.main, ["diag", "heater-test", "--port", "/dev/fake", "--yes", "--seconds", "1",
                                      "--out", str(tmp_path / "h")])
    assert r.exit_code != 0
    assert port.closed
