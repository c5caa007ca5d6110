"""Virtual boards for end-to-end tests: each test module gets fresh boards in tmp dirs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from host_tools.protocol import BoardClient, ProtocolTimeout
from host_tools.sim.bench import BenchClient
from host_tools.sim.relay import VirtualBoard

ROOT = Path(__file__).resolve().parents[2]
MPREMOTE = str(Path(sys.executable).with_name("mpremote"))


def mpremote(port: str, *args: str, timeout: float = 60, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MPREMOTE, "connect", port, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


# What the e2e boards run:
#  "frozen"  the firmware frozen into the faithful interpreter, the stock chip heap: the
#            production path that fits (bench/heap.py); the default;
#  "files"   .mpy files on the filesystem (`hearth flash`): they do not fit a stock
#            chip's heap yet, so these boards get E2E_HEAP (tests of flashing itself);
#  "plain"   the plain interpreter at the stock heap (ROMFS tests flash their own).
E2E_HEAP: dict[str, str] = {"latch-esp32": "160K", "printer-s3": "192K"}


def board(name: str, state: Path, firmware: str = "frozen", **kw: Any) -> VirtualBoard:
    if firmware == "frozen":
        kw.setdefault("frozen", True)
    elif firmware == "files":
        kw.setdefault("heap", E2E_HEAP[name])
    elif firmware != "plain":
        raise ValueError(f"firmware is frozen, files or plain, not {firmware!r}")
    return VirtualBoard(name, state, **kw)


@pytest.fixture
def make_board(tmp_path: Path):
    boards: list[VirtualBoard] = []

    def make(name: str, firmware: str = "frozen", **kw: Any) -> VirtualBoard:
        vb = board(name, tmp_path / f"state-{name}-{len(boards)}", firmware, **kw)
        vb.start()
        boards.append(vb)
        return vb

    yield make
    for vb in boards:
        vb.stop()


def flash_board(vb: VirtualBoard) -> None:
    """The firmware as a production line writes it (host_tools/sim/install.py). Serial
    flashing has its own tests (test_flash.py, test_flashfw.py, test_mpremote.py)."""
    from host_tools.sim.install import install

    install(vb)


def bench(vb: VirtualBoard) -> BenchClient:
    return BenchClient(vb.bench_path)


def hello_or_none(c: BoardClient) -> dict[str, Any] | None:
    """The board's hello, or None while it does not answer yet (for wait_for)."""
    try:
        return c.request("hello", timeout=0.5, retries=0)
    except ProtocolTimeout:
        return None


def wait_for(pred: Any, timeout: float = 10.0, every: float = 0.05) -> Any:
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(every)
