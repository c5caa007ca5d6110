"""Virtual boards for end-to-end tests: each test module gets fresh boards in tmp dirs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from host_tools.sim.bench import BenchClient
from host_tools.sim.relay import VirtualBoard

ROOT = Path(__file__).resolve().parents[2]
MPREMOTE = str(Path(sys.executable).with_name("mpremote"))


def mpremote(port: str, *args: str, timeout: float = 60, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MPREMOTE, "connect", port, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


@pytest.fixture
def make_board(tmp_path: Path):
    boards: list[VirtualBoard] = []

    def make(name: str, **kw: Any) -> VirtualBoard:
        vb = VirtualBoard(name, tmp_path / f"state-{name}-{len(boards)}", **kw)
        vb.start()
        boards.append(vb)
        return vb

    yield make
    for vb in boards:
        vb.stop()


def flash_board(vb: VirtualBoard) -> None:
    from host_tools.deploy.mpremote_flash import flash

    flash(vb.board_name, vb.console_path)


def bench(vb: VirtualBoard) -> BenchClient:
    return BenchClient(vb.bench_path)


def wait_for(pred: Any, timeout: float = 10.0, every: float = 0.05) -> Any:
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(every)
