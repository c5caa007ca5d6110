"""A virtual board's state folder: identity and the module's whole SPI flash.

`flash.bin` is the module's flash (the board file's size, 4/8/16 MiB), laid out by the
board's partition table (host_tools/deploy/partitions.py): the interpreter mounts the
vfs partition as its LittleFS root, the firmware's journal and ROMFS live in their own
partitions. A fresh board's flash is erased (0xFF) everywhere, as a module from the
factory with MicroPython just flashed: the first boot formats the vfs partition, as
MicroPython's inisetup does.

State folders from before this layout (format 1: fs.img + journal.img) are migrated:
the files of the old filesystem are copied into the new vfs partition and the journal
image into the journal partition.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from host_tools import boards
from host_tools.boards import BoardError
from host_tools.deploy import partitions

FLASH_IMAGE = "flash.bin"
IDENTITY = "identity.json"
FS_BLOCK = 4096
FORMAT = 2
# format 1 (before the flash model): separate images
_OLD_FS, _OLD_JOURNAL = "fs.img", "journal.img"


class SimError(BoardError):
    """A problem with the virtual board's set-up, worded for the person at the terminal."""


def flash_layout(board: dict[str, Any], flash_mb: int | None = None) -> tuple[int, dict[str, partitions.Part]]:
    """The board's flash layout (host_tools/boards.py), a board that cannot boot as a SimError."""
    try:
        return boards.flash_layout(board, flash_mb)
    except BoardError as e:
        raise SimError(str(e)) from e


def _erased(f: Any, start: int, end: int) -> None:
    blk = b"\xff" * (1 << 16)
    f.seek(start)
    while start < end:
        n = min(len(blk), end - start)
        f.write(blk[:n])
        start += n


def prepare(state: Path, board: dict[str, Any], flash_mb: int | None = None) -> Path:
    """Create the state folder for `board`, or check that an existing one belongs to it."""
    state.mkdir(parents=True, exist_ok=True)
    ident = state / IDENTITY
    who: dict[str, Any] = {}
    if ident.exists():
        try:
            who = json.loads(ident.read_text())
        except json.JSONDecodeError as e:
            raise SimError(f"{ident} is corrupt ({e}); remove the state folder to start fresh") from e
        if who.get("board") != board["name"]:
            raise SimError(
                f"state folder {state} belongs to board {who.get('board')!r}, not {board['name']!r}: "
                "use another --state folder or remove this one"
            )
        if int(who.get("format", 1)) > FORMAT:
            raise SimError(f"state folder {state} was made by a newer hearth (format {who['format']}): "
                           "update hearth or use another --state folder")
    size, parts = flash_layout(board, flash_mb)
    flash = state / FLASH_IMAGE
    if not flash.exists():
        with flash.open("wb") as f:
            _erased(f, 0, size)
        if int(who.get("format", FORMAT)) < FORMAT or (state / _OLD_FS).exists():
            _migrate(state, parts)
    elif flash.stat().st_size != size:
        # Another module size (a bench knob): the flash keeps its bytes where both have them.
        old = flash.stat().st_size
        with flash.open("r+b") as f:
            if size > old:
                _erased(f, old, size)
            f.truncate(size)
    ident.write_text(json.dumps({"board": board["name"], "chip": board["chip"], "format": FORMAT,
                                 "flash_mb": size // partitions.MB}, indent=1) + "\n")
    return state


def _migrate(state: Path, parts: dict[str, partitions.Part]) -> None:
    """Format 1 -> 2: files into the vfs partition, the journal image into its partition."""
    from littlefs import LittleFS, LittleFSError

    old_fs, old_j = state / _OLD_FS, state / _OLD_JOURNAL
    flash = state / FLASH_IMAGE
    if old_fs.exists():
        vfs = parts["vfs"]
        try:
            data = old_fs.read_bytes()
            src = LittleFS(block_size=FS_BLOCK, block_count=len(data) // FS_BLOCK, mount=False)
            src.context.buffer = bytearray(data)
            src.mount()
            dst = LittleFS(block_size=FS_BLOCK, block_count=vfs.size // FS_BLOCK, name_max=255)
            for root, dirs, files in src.walk("/"):
                for d in dirs:
                    dst.makedirs((root.rstrip("/") + "/" + d), exist_ok=True)
                for name in files:
                    p = root.rstrip("/") + "/" + name
                    with src.open(p, "rb") as fi, dst.open(p, "wb") as fo:
                        fo.write(fi.read())
        except (LittleFSError, OSError, ValueError) as e:
            raise SimError(f"cannot migrate {old_fs} (an older virtual board's filesystem): {e}; "
                           "remove the state folder to start fresh") from e
        with flash.open("r+b") as f:
            f.seek(vfs.offset)
            f.write(bytes(dst.context.buffer))
        old_fs.unlink()
    if old_j.exists():
        j = parts.get("journal")
        data = old_j.read_bytes()
        if j is not None and len(data) <= j.size:
            with flash.open("r+b") as f:
                f.seek(j.offset)
                f.write(data)
        old_j.unlink()


def read_region(state: Path, part: partitions.Part) -> bytes:
    with (state / FLASH_IMAGE).open("rb") as f:
        f.seek(part.offset)
        return f.read(part.size)


def write_region(state: Path, part: partitions.Part, data: bytes) -> None:
    if len(data) > part.size:
        raise SimError(f"{len(data)} bytes do not fit the {part.name} partition ({part.size} bytes)")
    with (state / FLASH_IMAGE).open("r+b") as f:
        f.seek(part.offset)
        f.write(data)
