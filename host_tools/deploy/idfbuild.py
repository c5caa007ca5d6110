"""`hearth firmware build`: the production MicroPython image of a board, built with the
official ESP-IDF container.

The build runs in Espressif's ``espressif/idf`` image at the ESP-IDF release that
MicroPython 1.28 recommends (ports/esp32/README.md), with this repository mounted at
/project: MicroPython v1.28.0 is cloned into build/firmware/ once (with the esp32
port's submodules), mpy-cross is built, then the port with
``BOARD_DIR=boards/micropython/HEARTH_<BOARD>`` (host_tools/deploy/boarddef.py). The
result, bootloader + partition table + app in one file, is copied to
build/firmware/<board>.bin and its header checked for the board's chip; write it with
``hearth flash --base build/firmware/<board>.bin``.

Without Docker, or with Docker but no running engine, nothing is attempted: the
message says what is missing and how to build by hand with a local ESP-IDF.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from host_tools.boards import ROOT, load_board
from host_tools.deploy import boarddef, esp
from host_tools.interp.build import MPY_COMMIT, MPY_TAG, UPSTREAM

IDF_IMAGE = "espressif/idf:v5.5.1"
OUT = ROOT / "build" / "firmware"
MOUNT = "/project"


class FirmwareBuildError(Exception):
    """`code` 2: something to install or start first (nothing was built); 1: the build failed."""

    def __init__(self, msg: str, code: int = 1) -> None:
        super().__init__(msg)
        self.code = code


def _by_hand(board: str) -> str:
    return (f"  or build by hand with ESP-IDF v5.5.1 and MicroPython {MPY_TAG}: in ports/esp32, "
            f"`make BOARD_DIR={boarddef.def_dir(board)} submodules all`")


def docker_problem(board: str, docker: str = "docker") -> str | None:
    """None when a Docker engine answers; else what is missing and what to do."""
    exe = shutil.which(docker)
    if exe is None:
        return ("Docker is not installed, and the firmware is built in the ESP-IDF container "
                f"({IDF_IMAGE}).\n  Install Docker Engine (Debian/Ubuntu: sudo apt-get install docker.io), start it, "
                "and run this again;\n" + _by_hand(board))
    try:
        p = subprocess.run([exe, "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True,
                           timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"`docker version` did not answer ({e}): is the Docker engine running?\n" + _by_hand(board)
    if p.returncode != 0 or not p.stdout.strip():
        why = (p.stderr or p.stdout).strip().splitlines()
        return ("Docker is installed but its engine is not running"
                + (f" ({why[-1]})" if why else "") + ".\n"
                "  Start it (`sudo systemctl start docker`, or Docker Desktop) and run this again;\n" + _by_hand(board))
    return None


@dataclass
class Plan:
    board: str
    definition: Path
    image: str
    command: list[str]
    output: Path  # build/firmware/<board>.bin
    built: Path  # where the port's make leaves firmware.bin


def plan(board: str, image: str = IDF_IMAGE, docker: str = "docker", root: Path = ROOT) -> Plan:
    """The container command that builds `board`'s firmware (nothing run)."""
    load_board(board)
    ddir = boarddef.def_dir(board)
    rel = boarddef.relative(ddir)  # inside the repository, which is mounted at /project
    name = boarddef.def_name(board)
    src = f"{MOUNT}/build/firmware/micropython-{MPY_TAG.lstrip('v')}"
    bdir = f"{MOUNT}/build/firmware/build-{name}"
    script = "\n".join([
        "set -e",
        "git config --global --add safe.directory '*'",
        f"if [ ! -f {src}/py/mpconfig.h ]; then git clone --depth 1 --branch {MPY_TAG} {UPSTREAM} {src}; fi",
        f'test "$(git -C {src} rev-parse HEAD)" = {MPY_COMMIT} || '
        f'{{ echo "{src} is not MicroPython {MPY_TAG}: remove it"; exit 3; }}',
        f"make -C {src}/mpy-cross",
        f"make -C {src}/ports/esp32 BOARD_DIR={MOUNT}/{rel} submodules",
        f"make -C {src}/ports/esp32 BOARD_DIR={MOUNT}/{rel} BUILD={bdir}",
    ])
    uid = f"{os.getuid()}:{os.getgid()}" if hasattr(os, "getuid") else "0:0"
    cmd = [docker, "run", "--rm", "-v", f"{root}:{MOUNT}", "-e", "HOME=/tmp", "--user", uid, image,
           "bash", "-c", script]
    return Plan(board, ddir, image, cmd, OUT / f"{board}.bin", root / "build" / "firmware" / f"build-{name}" / "firmware.bin")


def build(board: str, image: str = IDF_IMAGE, docker: str = "docker",
          log: Callable[[str], None] = print) -> Path:
    """Build the board's firmware image; returns build/firmware/<board>.bin."""
    b = load_board(board)
    try:
        bad = boarddef.stale(board)
    except boarddef.BoardDefError as e:
        raise FirmwareBuildError(str(e), 2) from e
    if bad:
        raise FirmwareBuildError(
            f"{boarddef.relative(boarddef.def_dir(board))} does not match boards/{board}.json "
            f"({', '.join(bad)}): regenerate it with `hearth firmware board --board {board}`", 2)
    problem = docker_problem(board, docker)
    if problem:
        raise FirmwareBuildError(problem, 2)
    p = plan(board, image, docker)
    OUT.mkdir(parents=True, exist_ok=True)
    log(f"building {boarddef.def_name(board)} in {image} (the first build clones MicroPython and its "
        "submodules: several minutes)")
    r = subprocess.run(p.command, text=True, capture_output=True)
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-25:])
        raise FirmwareBuildError(f"the firmware build failed in the container (exit {r.returncode}):\n{tail}")
    if not p.built.is_file():
        raise FirmwareBuildError(f"the container finished but left no {p.built}")
    try:
        esp.check_base_image(p.built, str(b["chip"]))
    except esp.EspError as e:
        raise FirmwareBuildError(f"the built image is wrong: {e}") from e
    shutil.copy2(p.built, p.output)
    return p.output


def shell(cmd: list[str]) -> str:
    return " ".join(shlex.quote(c) for c in cmd)
