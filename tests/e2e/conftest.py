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


# The heap the e2e boards run with. The firmware from .mpy files does not fit a stock
# chip's heap yet (bench/heap.py measures by how much; ROMFS/frozen firmware does):
# until it does, e2e boards get this fixed heap. None: the stock chip's split heap.
E2E_HEAP: dict[str, str | None] = {"latch-esp32": "160K", "printer-s3": "192K"}


def board(name: str, state: Path, **kw: Any) -> VirtualBoard:
    kw.setdefault("heap", E2E_HEAP.get(name))
    return VirtualBoard(name, state, **kw)


@pytest.fixture
def make_board(tmp_path: Path):
    boards: list[VirtualBoard] = []

    def make(name: str, **kw: Any) -> VirtualBoard:
        vb = board(name, tmp_path / f"state-{name}-{len(boards)}", **kw)
        vb.start()
        boards.append(vb)
        return vb

    yield make
    for vb in boards:
        vb.stop()


_images: dict[str, bytes] = {}


def flash_board(vb: VirtualBoard) -> None:
    """Give a virtual board the firmware as a production line would: the app filesystem
    image written into the vfs partition while the board is off (esptool at a high baud
    rate on a real line). Serial flashing has its own tests (test_flash.py, and
    test_mpremote.py for mpremote)."""
    import tempfile

    from host_tools.deploy.build import build
    from host_tools.deploy.image import make_image, vfs_partition
    from host_tools.sim import state as simstate

    name = vb.board_name
    if name not in _images:
        with tempfile.TemporaryDirectory() as tmp:
            out, _man = build(name, "sim", Path(tmp) / "fw")
            _images[name] = make_image(out, vfs_partition(vb.board, "sim", None)[1])[0]
    _size, parts = simstate.flash_layout(vb.board, vb.flash_mb)
    vb.power_off()
    simstate.write_region(vb.state, parts["vfs"], _images[name])
    vb.power_on()


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
