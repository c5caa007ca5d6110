"""A virtual board's state folder: the module's flash image, and older folders migrated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from littlefs import LittleFS

from host_tools.boards import load_board
from host_tools.deploy.image import read_image
from host_tools.sim import state as simstate


def _old_state(d: Path, board: str) -> None:
    # format 1: identity without a format, a 2 MiB LittleFS image and a 64 KiB journal
    d.mkdir(parents=True)
    (d / "identity.json").write_text(json.dumps({"board": board, "chip": "esp32"}))
    fs = LittleFS(block_size=4096, block_count=512, name_max=255)
    fs.makedirs("/hearth/core", exist_ok=True)
    with fs.open("/hearth/core/x.mpy", "wb") as f:
        f.write(b"module bytes")
    with fs.open("/config.json", "wb") as f:
        f.write(b'{"common": {}}')
    (d / "fs.img").write_bytes(bytes(fs.context.buffer))
    (d / "journal.img").write_bytes(b"J" * 4096 + b"\xff" * (60 * 1024))


def test_fresh_state_is_an_erased_module_flash(tmp_path: Path) -> None:
    board = load_board("printer-s3")
    simstate.prepare(tmp_path / "s", board)
    flash = (tmp_path / "s" / simstate.FLASH_IMAGE).read_bytes()
    assert len(flash) == 8 * 1024 * 1024 and set(flash) == {0xFF}
    who = json.loads((tmp_path / "s" / "identity.json").read_text())
    assert who == {"board": "printer-s3", "chip": "esp32s3", "format": simstate.FORMAT, "flash_mb": 8}


def test_older_state_folder_is_migrated_into_the_flash_image(tmp_path: Path) -> None:
    d = tmp_path / "old"
    _old_state(d, "latch-esp32")
    board = load_board("latch-esp32")
    simstate.prepare(d, board)
    assert not (d / "fs.img").exists() and not (d / "journal.img").exists()
    _size, parts = simstate.flash_layout(board)
    files = read_image(simstate.read_region(d, parts["vfs"]))
    assert files == {"hearth/core/x.mpy": b"module bytes", "config.json": b'{"common": {}}'}
    assert simstate.read_region(d, parts["journal"])[:4097] == b"J" * 4096 + b"\xff"


def test_foreign_newer_or_corrupt_state_folders_are_refused(tmp_path: Path) -> None:
    board = load_board("latch-esp32")
    d = tmp_path / "a"
    simstate.prepare(d, load_board("printer-s3"))
    with pytest.raises(simstate.SimError, match="belongs to board 'printer-s3'"):
        simstate.prepare(d, board)
    d = tmp_path / "b"
    d.mkdir()
    (d / "identity.json").write_text(json.dumps({"board": "latch-esp32", "format": 99}))
    with pytest.raises(simstate.SimError, match="newer hearth"):
        simstate.prepare(d, board)
    (d / "identity.json").write_text("{not json")
    with pytest.raises(simstate.SimError, match="corrupt"):
        simstate.prepare(d, board)


def test_another_module_size_keeps_the_flash_it_has(tmp_path: Path) -> None:
    board = load_board("printer-s3")
    d = tmp_path / "s"
    simstate.prepare(d, board)
    _size, parts = simstate.flash_layout(board)
    simstate.write_region(d, parts["journal"], b"kept")
    simstate.prepare(d, board, flash_mb=16)
    assert (d / simstate.FLASH_IMAGE).stat().st_size == 16 * 1024 * 1024
    assert simstate.read_region(d, parts["journal"])[:4] == b"kept"
    with pytest.raises(simstate.SimError, match="does not fit"):
        simstate.prepare(d, board, flash_mb=4)  # an 8 MiB table on a 4 MiB module cannot boot
