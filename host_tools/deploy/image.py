"""`hearth image`: the app filesystem as one LittleFS v2 image for the vfs partition.

A production line writes it with esptool in one pass (`hearth flash --image`); the
virtual board boots from it (`hearth sim --image`, via install_sim_image()). Block size
4096 (the ESP32's flash sector), block count = partition size / 4096: MicroPython
mounts the image only when the block count matches its partition exactly, and the
partition comes from the board's partition table and the module's flash size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from littlefs import LittleFS, LittleFSError

from host_tools.boards import BoardError, flash_layout
from host_tools.deploy import partitions
from host_tools.deploy.build import MANIFEST, Manifest, load_build

BLOCK = 4096


class ImageError(Exception):
    pass


def vfs_partition(board: dict[str, Any], target: str = "board", flash_bytes: int | None = None) -> tuple[int, int]:
    """(offset, size) of the board's vfs partition on a module with `flash_bytes` of flash
    (the board file's size by default): from its partition table, with MicroPython's
    automatic vfs when the table has none. The virtual board has the same flash layout
    as the real one, so `target` does not change it."""
    try:
        part = partitions.board_layout(board, flash_bytes).get("vfs")
    except partitions.PartitionError as e:
        raise ImageError(str(e)) from e
    if part is None:
        raise ImageError(f"board {board.get('name')!r} has no room for a vfs partition in its flash")
    return part.offset, part.size


def make_image(build_dir: Path, size: int) -> tuple[bytes, Manifest, int]:
    """-> (image bytes, manifest, bytes of file data). The manifest is written last."""
    man = load_build(build_dir)
    if size % BLOCK or size < 8 * BLOCK:
        raise ImageError(f"partition size {size} is not a multiple of {BLOCK} of at least 8 blocks")
    fs = LittleFS(block_size=BLOCK, block_count=size // BLOCK, name_max=255)
    names = [*man.order(), *sorted(man.keep), MANIFEST]
    data_bytes = 0
    try:
        for rel in names:
            parts = rel.split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                try:
                    fs.mkdir(d)
                except FileExistsError:
                    pass
            data = (build_dir / rel).read_bytes()
            with fs.open(rel, "wb") as f:
                f.write(data)
            data_bytes += len(data)
    except (LittleFSError, OSError) as e:
        raise ImageError(
            f"the firmware ({data_bytes} bytes so far, at {rel}) does not fit a {size // 1024} KiB "
            f"vfs partition ({e}): make the partition larger or the firmware smaller"
        ) from e
    return bytes(fs.context.buffer), man, data_bytes


def read_image(image: bytes) -> dict[str, bytes]:
    """All files of a LittleFS image (for tests and checks)."""
    fs = LittleFS(block_size=BLOCK, block_count=len(image) // BLOCK, mount=False)
    fs.context.buffer = bytearray(image)
    fs.mount()
    out = {}
    for root, _dirs, files in fs.walk("/"):
        for name in files:
            p = (root.rstrip("/") + "/" + name).lstrip("/")
            with fs.open(p, "rb") as f:
                out[p] = f.read()
    return out


def install_sim_image(image: Path, state_dir: Path, board: dict[str, Any]) -> None:
    """Write this image into a virtual board's vfs partition (`hearth sim --image FILE`),
    refusing one sized for another partition (on a chip it would not mount, and stock
    MicroPython would loop in fs_corrupted() before boot.py)."""
    from host_tools.sim import state as simstate  # only this virtual-board verb needs the simulator

    try:
        data = image.read_bytes()
    except OSError as e:
        raise ImageError(f"cannot read {image}: {e}") from e
    try:
        size, parts = flash_layout(board)
    except BoardError as e:
        raise ImageError(str(e)) from e
    vfs = parts["vfs"]
    if len(data) != vfs.size:
        raise ImageError(
            f"{image} is {len(data)} bytes; {board['name']}'s vfs partition is {vfs.size} bytes "
            f"on a {size >> 20} MiB module: make it with `hearth image --board {board['name']}`"
        )
    try:
        read_image(data)
    except (LittleFSError, OSError, ValueError) as e:
        raise ImageError(f"{image} is not a LittleFS image with {BLOCK}-byte blocks: {e}") from e
    simstate.prepare(state_dir, board)
    simstate.write_region(state_dir, vfs, data)
