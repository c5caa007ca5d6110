"""Firmware onto a virtual board as a production line puts it on a real one: the app
filesystem image written into the vfs partition while the board is off (on a line,
esptool at a high baud rate). Tests and benchmarks that are not about flashing start
their boards this way; `hearth flash` over the console has its own tests and figures.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from host_tools.sim import state as simstate

_images: dict[tuple[str, str], bytes] = {}


def firmware_image(board: dict[str, Any], fmt: str) -> bytes:
    """The vfs image of `board`'s firmware as .mpy `files` or as the filesystem part of
    a `frozen` one (built once per process)."""
    from host_tools.deploy.build import build
    from host_tools.deploy.flashfw import build_frozen
    from host_tools.deploy.image import make_image, vfs_partition

    key = (board["name"], fmt)
    if key not in _images:
        with tempfile.TemporaryDirectory() as tmp:
            if fmt == "frozen":
                out, _ = build_frozen(board["name"], "sim", Path(tmp) / "fw")
            elif fmt == "files":
                out, _ = build(board["name"], "sim", Path(tmp) / "fw")
            else:
                raise ValueError(f"format is files or frozen, not {fmt!r}")
            _images[key] = make_image(out, vfs_partition(board, "sim", None)[1])[0]
    return _images[key]


def write_firmware(state: Path, board: dict[str, Any], fmt: str, flash_mb: int | None = None) -> None:
    """Into the state folder of a board that is off (or not running at all)."""
    simstate.prepare(state, board, flash_mb)
    _size, parts = simstate.flash_layout(board, flash_mb)
    simstate.write_region(state, parts["vfs"], firmware_image(board, fmt))


def install(vb: Any) -> None:
    """Power `vb` off, write its firmware into the vfs partition, power it on. A board
    running the frozen interpreter gets the frozen firmware's files, any other the .mpy."""
    vb.power_off()
    write_firmware(vb.state, vb.board, "frozen" if vb.frozen_binary is not None else "files", vb.flash_mb)
    vb.power_on()
