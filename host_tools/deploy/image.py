"""`hearth image`: the app filesystem as one LittleFS v2 image for the vfs partition.

A production line writes it with esptool in one pass (`hearth flash --image`); the
virtual board boots from it (`hearth sim --image`, via install_sim_image()). Block size
4096 (the ESP32's flash sector), block count = partition size / 4096: MicroPython
mounts the image only when the block count matches its partition exactly.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from littlefs import LittleFS, LittleFSError

from host_tools.deploy.build import MANIFEST, Manifest, load_build
from host_tools.sim import state as simstate

BLOCK = 4096
# MicroPython's stock partition tables: vfs at 0x200000 on a 4 MiB ESP32 module,
# 6 MiB from 0x200000 on the 8 MiB S3 build. A board file may override with
# "flash": {"vfs_offset": N, "vfs_size": N}.
VFS = {
    "esp32": (0x200000, 0x200000),
    "esp32s2": (0x200000, 0x200000),
    "esp32c3": (0x200000, 0x200000),
    "esp32c6": (0x200000, 0x200000),
    "esp32s3": (0x200000, 0x600000),
}
SIM_VFS = (0, simstate.FS_BLOCK * simstate.FS_BLOCKS)


class ImageError(Exception):
    pass


def vfs_partition(board: dict[str, Any], target: str = "board") -> tuple[int, int]:
    if target == "sim":
        return SIM_VFS
    fl = board.get("flash") or {}
    if "vfs_offset" in fl and "vfs_size" in fl:
        return int(fl["vfs_offset"]), int(fl["vfs_size"])
    chip = board.get("chip", "")
    if chip not in VFS:
        raise ImageError(f"no vfs partition known for chip {chip!r}: add \"flash\" to the board file")
    return VFS[chip]


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


def install_sim_image(image: Path, state_dir: Path) -> Path:
    """Make a virtual board's filesystem this image (`hearth sim --image FILE`)."""
    want = simstate.FS_BLOCK * simstate.FS_BLOCKS
    try:
        data = image.read_bytes()
    except OSError as e:
        raise ImageError(f"cannot read {image}: {e}") from e
    if len(data) != want:
        raise ImageError(
            f"{image} is {len(data)} bytes; a virtual board's filesystem is {want} bytes: "
            "make it with `hearth image --board NAME --target sim`"
        )
    try:
        read_image(data)
    except (LittleFSError, OSError, ValueError) as e:
        raise ImageError(f"{image} is not a LittleFS image with {simstate.FS_BLOCK}-byte blocks: {e}") from e
    state_dir.mkdir(parents=True, exist_ok=True)
    dest = state_dir / simstate.FS_IMAGE
    tmp = dest.with_suffix(".tmp")
    shutil.copyfile(image, tmp)
    tmp.replace(dest)
    return dest
