"""Firmware that runs from flash: a ROMFS image, or modules frozen into MicroPython.

From .mpy files on the filesystem MicroPython copies every module's bytecode into the
GC heap, and on a plain ESP32 (~112 KiB of heap) the latch role does not fit. From flash
the bytecode runs in place. Two ways, chosen with ``hearth build/flash --format``:

* ``romfs``: the ``hearth`` package as a ROMFS image, written into the board's
  ``romfs`` partition (host_tools/deploy/romfs.py); MicroPython mounts it at /rom,
  which is on sys.path. Needs a MicroPython with ROMFS enabled (the hearth board
  definitions in boards/micropython/ have it; the virtual board's interpreter too).
* ``frozen``: the package is compiled into the MicroPython image itself
  (``hearth firmware build``, written with ``hearth flash --base``); on the virtual
  board, the faithful interpreter built with the same modules frozen
  (``hearth sim --frozen``).

Either way only boot.py, main.py, board.json, config.json and manifest.json stay on
the filesystem. The manifest says where the rest is (``rom`` / ``frozen``), so the
board's boot check (hearth/manifest.py) knows a complete firmware from an interrupted
one. A ``hearth`` folder left on the filesystem would come first on sys.path and hide
the firmware in flash: flashing removes it.

Which modules go to flash is decided once, in firmware_modules(): the same list makes
the frozen manifest of the board definitions and the frozen virtual interpreter (which
also has the simulated HAL, since that is the host's hardware).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from host_tools.deploy import romfs
from host_tools.deploy.build import (
    BUILD,
    CHIP_ONLY,
    FIRMWARE,
    MANIFEST,
    ROMFS_IMAGE,
    SIM_ONLY,
    BuildError,
    Manifest,
    build,
    load_build,
    sha256,
)
from host_tools.deploy.sync import (
    FRAME,
    WINDOW,
    FlashError,
    FlashResult,
    Resolver,
    _board_file,
    board_mismatch,
    flash_build,
    inventory,
)
from host_tools.transport.rawrepl import BoardExecError, RawRepl, ReplError

FORMATS = ("files", "romfs", "frozen")
FS_FILES = ("boot.py", "main.py", "board.json")  # and config.json (kept), manifest.json


def is_sim_hal(rel: str) -> bool:
    """The simulated HAL and the chip tables only it uses: the host's, never on a chip."""
    return rel in SIM_ONLY


def firmware_modules(src: Path = FIRMWARE, chip: bool = True) -> list[str]:
    """The package's modules that go to flash ("hearth/app.py", ...): a chip's less the
    simulated HAL (build.SIM_ONLY), the virtual board's less hal/esp32 (CHIP_ONLY)."""
    out = []
    for p in sorted((src / "hearth").rglob("*.py")):
        if "__pycache__" in p.parts:
            continue
        rel = p.relative_to(src).as_posix()
        if rel not in (SIM_ONLY if chip else CHIP_ONLY):
            out.append(rel)
    return out


def default_out(board: str, target: str, fmt: str) -> Path:
    return BUILD / f"{board}{'-sim' if target == 'sim' else ''}-{fmt}"


def _fs_part(cdir: Path, cman: Manifest, out: Path) -> dict[str, tuple[int, str]]:
    """Copy what stays on the filesystem from a compiled build into `out`."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in (*FS_FILES, *cman.keep):
        shutil.copy2(cdir / name, out / name)
    return {p: cman.files[p] for p in FS_FILES}


def build_romfs(board: str, target: str = "sim", out: Path | None = None,
                src: Path = FIRMWARE) -> tuple[Path, Manifest]:
    """The firmware as a ROMFS image (romfs.img) plus the filesystem part, in `out`."""
    from host_tools.boards import load_board
    from host_tools.deploy import partitions

    with tempfile.TemporaryDirectory(prefix="hearth-romfs-") as tmp:
        cdir, cman = build(board, target, Path(tmp) / "fw", src=src)
        chip = cman.target != "sim"
        rom: dict[str, tuple[int, str]] = {}
        data: dict[str, bytes] = {}
        for rel, meta in cman.files.items():
            if not rel.startswith("hearth/") or (chip and is_sim_hal(rel)):
                continue
            rom[rel] = meta
            data[rel] = (cdir / rel).read_bytes()
        image = romfs.make_image(data)
        try:
            part = partitions.board_layout(load_board(board)).get("romfs")
        except partitions.PartitionError as e:
            raise BuildError(str(e)) from e
        if part is None:
            raise BuildError(f"board {board!r} has no romfs partition in its partition table "
                             f"({load_board(board)['flash']['partitions']}): add one, or use --format frozen")
        try:
            romfs.check_fits(image, part.size)
        except romfs.RomfsError as e:
            raise BuildError(str(e)) from e
        out = out or default_out(board, cman.target, "romfs")
        files = _fs_part(cdir, cman, out)
    (out / ROMFS_IMAGE).write_bytes(image)
    man = Manifest(board=cman.board, target=cman.target, fw=cman.fw, mpy=cman.mpy, files=files,
                   keep=dict(cman.keep), native=[n for n in cman.native if n in rom], rom=rom,
                   romfs=(len(image), sha256(image)))
    (out / MANIFEST).write_bytes(man.to_json())
    return out, man


def build_frozen(board: str, target: str = "sim", out: Path | None = None,
                 src: Path = FIRMWARE) -> tuple[Path, Manifest]:
    """The filesystem part of a frozen firmware (the package itself is in the MicroPython
    image: `hearth firmware build`, or the virtual board's frozen interpreter)."""
    with tempfile.TemporaryDirectory(prefix="hearth-frozen-") as tmp:
        cdir, cman = build(board, target, Path(tmp) / "fw", src=src)
        out = out or default_out(board, cman.target, "frozen")
        files = _fs_part(cdir, cman, out)
    man = Manifest(board=cman.board, target=cman.target, fw=cman.fw, mpy=cman.mpy, files=files,
                   keep=dict(cman.keep), frozen=True)
    (out / MANIFEST).write_bytes(man.to_json())
    return out, man


def build_format(board: str, target: str, fmt: str, out: Path | None = None,
                 src: Path = FIRMWARE) -> tuple[Path, Manifest]:
    if fmt == "romfs":
        return build_romfs(board, target, out, src)
    if fmt == "frozen":
        return build_frozen(board, target, out, src)
    if fmt == "files":
        return build(board, target, out, src=src)
    raise BuildError(f"unknown format {fmt!r}: use {', '.join(FORMATS)}")


# ---- flashing -------------------------------------------------------------------------------
# Removes /hearth from the filesystem: it would come first on sys.path and hide /rom or
# the frozen modules (even empty: MicroPython takes a folder for a package).
RMTREE = b"""import os
def _t(p):
 try:l=list(os.ilistdir(p))
 except OSError:return
 for e in l:
  q=p+'/'+e[0]
  if e[1]==0x4000:_t(q)
  else:os.remove(q)
 os.rmdir(p)
_t('/hearth')
"""

# Which hearth is frozen into this MicroPython ("-": none). Prints "# platform version".
FROZEN_PROBE = b"""import sys
for k in list(sys.modules):
 if k=='hearth' or k.startswith('hearth.'):del sys.modules[k]
_p=sys.path[:];sys.path[:]=['.frozen']
try:
 import hearth;_v=hearth.VERSION
except (ImportError,AttributeError):_v='-'
sys.path[:]=_p
print('#',sys.platform,_v)
"""

Progress = Callable[[str, int, int], None]


def _noprogress(phase: str, done: int, total: int) -> None:
    pass


def flash_romfs(build_dir: Path | Resolver, port: str, progress: Progress = _noprogress, frame: int = FRAME,
                window: int = WINDOW, timeout: float = 10.0, check_hello: bool = True, baud: int = 115200,
                compress: bool = True, force: bool = False) -> FlashResult:
    """Flash a ROMFS build: the image into the romfs partition (unless the board has it
    already), then the filesystem part with the manifest last. Raises nothing: see
    `.ok` and `.code`, as flash_build."""
    return _flash_in_flash("romfs", build_dir, port, progress, frame, window, timeout, check_hello, baud, compress,
                           force)


def flash_frozen(build_dir: Path | Resolver, port: str, progress: Progress = _noprogress, frame: int = FRAME,
                 window: int = WINDOW, timeout: float = 10.0, check_hello: bool = True, baud: int = 115200,
                 compress: bool = True, force: bool = False) -> FlashResult:
    """Flash the filesystem part of a frozen firmware, after checking that the board's
    MicroPython has this firmware version frozen in."""
    return _flash_in_flash("frozen", build_dir, port, progress, frame, window, timeout, check_hello, baud, compress,
                           force)


def _flash_in_flash(fmt: str, build: Path | Resolver, port: str, progress: Progress, frame: int, window: int,
                    timeout: float, check_hello: bool, baud: int, compress: bool, force: bool) -> FlashResult:
    t0 = time.monotonic()
    res = FlashResult(port, "?", "?")
    try:
        r = RawRepl.open(port, baud)
    except Exception as e:  # noqa: BLE001 - PortError and serial errors alike
        res.message, res.code = str(e), 2
        return res
    changed = False
    written = sent = 0
    build_dir: Path | None = None
    try:
        progress("connect", 0, 0)
        try:
            r.enter()
            # A clean interpreter: the app is not in RAM, nothing of it runs from /rom.
            r.soft_reset_raw(max(timeout, 10.0))
        except ReplError as e:
            raise FlashError(str(e), 2) from e
        head = r.run(FROZEN_PROBE, timeout).decode(errors="replace").split()
        platform, version = (head[1], head[2]) if len(head) >= 3 else ("", "-")
        if fmt == "romfs":
            info = romfs.probe(r, timeout)
        build_dir = build if isinstance(build, Path) else build(platform)
        man = load_build(build_dir)
        res.board, res.build = man.board, man.build
        # The board file must be for this chip (and role): checked before the image goes.
        inventory(r, max(timeout, 30.0))
        why = board_mismatch(_board_file(build_dir, man.board), r.chip, r.installed)
        if why and not force:
            raise FlashError(why)
        if fmt == "romfs":
            if not man.romfs:
                raise FlashError(f"{build_dir} is not a ROMFS build: make one with `hearth build --format romfs`", 2)
            image = romfs.read_image_file(build_dir / ROMFS_IMAGE)
            if info.size == 0:
                raise FlashError(
                    f"{r.name}: this board's MicroPython has no ROMFS partition (vfs.rom_ioctl): build the hearth "
                    f"firmware with `hearth firmware build --board {man.board}`, write it with "
                    "`hearth flash --base FIRMWARE.bin`, or flash with --format files", 2)
            romfs.check_fits(image, info.size)
            if version != "-":
                raise FlashError(
                    f"{r.name}: this board's MicroPython has the hearth firmware ({version}) frozen in, and frozen "
                    "modules come before /rom on sys.path: flash it with --format frozen, or write a MicroPython "
                    "image without hearth frozen in first", 2)
            if (info.image_size, info.image_sha) != man.romfs:
                progress("romfs", 0, len(image))
                changed = True
                # From here until the new manifest is written, the board boots as incomplete.
                r.run(b"import os\ntry:os.remove('/manifest.json')\nexcept OSError:pass\n", timeout)
                _, sent = romfs.write_image(r, image, info, progress, timeout, frame, window)
                written = len(image)
        else:
            if not man.frozen:
                raise FlashError(f"{build_dir} is not a frozen build: make one with `hearth build --format frozen`", 2)
            if version == "-":
                raise FlashError(
                    f"{r.name}: this board's MicroPython has no hearth firmware frozen in: build it with "
                    f"`hearth firmware build --board {man.board}` and write it with `hearth flash --base "
                    "FIRMWARE.bin` (a virtual board: `hearth sim --frozen`)", 2)
            if version != man.fw:
                raise FlashError(f"{r.name}: the firmware frozen into this board is version {version}, this build "
                                 f"is {man.fw}: rebuild and write the MicroPython image first "
                                 f"(`hearth firmware build --board {man.board}`, `hearth flash --base`)")
        changed = True
        r.run(RMTREE, max(timeout, 30.0))
    except (FlashError, romfs.RomfsError) as e:
        res.message, res.code = str(e), e.code
    except BuildError as e:
        res.message, res.code = str(e), 2
    except BoardExecError as e:
        res.message, res.code = f"{r.name}: the board failed: {e}", 1
    except ReplError as e:
        res.message = (f"{e}. If the board reset or lost power mid-flash it boots safe (incomplete firmware): "
                       "run `hearth flash` again.")
        res.code = 1
    finally:
        if res.code and not changed:
            try:
                r.reset()  # nothing changed: the app starts again as it was
            except ReplError:
                pass
        wire = r.wire_out
        r.close()
    if res.code:
        res.seconds = time.monotonic() - t0
        res.wire_bytes = wire
        return res
    assert build_dir is not None
    fs = flash_build(build_dir, port, progress=progress, frame=frame, window=window, timeout=timeout,
                     check_hello=check_hello, baud=baud, compress=compress, force=force)
    if written:
        fs.sent_files.insert(0, ROMFS_IMAGE)
        fs.payload_bytes += written
        fs.sent_bytes += sent
        fs.unchanged = False
    fs.wire_bytes += wire
    fs.seconds = time.monotonic() - t0
    return fs


FLASHERS = {"files": flash_build, "romfs": flash_romfs, "frozen": flash_frozen}


# ---- the frozen virtual board -------------------------------------------------------------
UNIX_FREEZE = BUILD / "frozen-unix"


def stage_unix(dest: Path = UNIX_FREEZE, src: Path = FIRMWARE) -> Path:
    """The folder the unix interpreter freezes: firmware_modules() with the simulated HAL.
    Rewritten only where it differs (its content is the interpreter's cache key)."""
    want = {rel: (src / rel).read_bytes() for rel in firmware_modules(src, chip=False)}
    dest.mkdir(parents=True, exist_ok=True)
    for p in sorted(dest.rglob("*"), reverse=True):
        rel = p.relative_to(dest).as_posix()
        if p.is_file() and rel not in want:
            p.unlink()
        elif p.is_dir() and not any(p.iterdir()):
            p.rmdir()
    for rel, data in want.items():
        f = dest / rel
        if not f.is_file() or f.read_bytes() != data:
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(data)
    return dest


def frozen_interpreter(build_if_missing: bool = True) -> Path:
    """The faithful interpreter with the firmware frozen in (built once per firmware)."""
    import sys

    from host_tools import interp
    from host_tools.interp.build import BuildError as InterpBuildError
    from host_tools.interp.build import binary_path
    from host_tools.interp.build import build as build_interp

    if not interp.faithful():
        raise interp.InterpreterMissing("frozen firmware needs the ESP32-faithful interpreter "
                                        "(unset HEARTH_INTERP=unix64)")
    d = stage_unix()
    p = binary_path(d)
    if p.is_file():
        return p
    if not build_if_missing:
        raise interp.InterpreterMissing("the frozen interpreter is not built: run "
                                        "`python -m host_tools.interp build --freeze build/frozen-unix`")
    try:
        return build_interp(d, log=lambda s: print("interp:", s, file=sys.stderr, flush=True))
    except InterpBuildError as e:
        raise interp.InterpreterMissing(str(e)) from e
