# Runs inside the MicroPython unix port before anything of the firmware: it turns
# the interpreter into a "board". Not firmware (never copied to a board); it plays
# the part of the ESP32's ROM + MicroPython's startup:
#   * the board's filesystem is a LittleFS v2 image file mounted at / (as on the
#     ESP32), so mpremote's fs commands see a board, not the host;
#   * the wire to the host-side world and the journal partition image are opened
#     before / is replaced, and handed to hearth.hal.sim as module `_hearth_sim`;
#   * boot.py always runs; main.py only after a power-on / hard reset or a soft
#     reset from the friendly REPL, exactly as MicroPython's main loop does.
# Configuration comes from environment variables set by host_tools/sim/relay.py.
import os
import sys
import vfs


class _FileBlockDev:
    # The extended block protocol littlefs wants (offset writes, erase via ioctl 6).
    def __init__(self, f, block_size, block_count):
        self.f = f
        self.bs = block_size
        self.bc = block_count

    def readblocks(self, block, buf, off=0):
        self.f.seek(block * self.bs + off)
        self.f.readinto(buf)

    def writeblocks(self, block, buf, off=None):
        _counts[0] += 1  # flash programs through the filesystem (benchmarks read these)
        if off is None:
            off = 0
        self.f.seek(block * self.bs + off)
        self.f.write(buf)  # unbuffered; survives a kill (flush would fsync: slow)

    def ioctl(self, op, arg):
        if op == 4:
            return self.bc
        if op == 5:
            return self.bs
        if op == 6:
            _counts[1] += 1
            self.f.seek(arg * self.bs)
            self.f.write(b"\xff" * self.bs)
            return 0
        return 0


class _SimModule:
    pass


_counts = [0, 0]  # [filesystem programs, filesystem erases] since this interpreter started


def _env(name, default=None):
    v = os.getenv(name)
    return default if v is None else v


def _run(path):
    try:
        os.stat(path)
    except OSError:
        return
    try:
        with open(path) as f:
            src = f.read()
        exec(compile(src, path, "exec"), {"__name__": "__main__", "__file__": path})
    except KeyboardInterrupt as e:
        sys.print_exception(e)
    except SystemExit:
        pass
    except BaseException as e:  # noqa: BLE001 - as MicroPython's pyexec prints and goes on
        sys.print_exception(e)


def _start():
    fs_path = _env("HEARTH_SIM_FS")
    mod = _SimModule()
    mod.chip = _env("HEARTH_SIM_CHIP", "esp32")
    mod.reset_cause = _env("HEARTH_SIM_CAUSE", "power_on")
    mod.speed = float(_env("HEARTH_SIM_SPEED", "1"))
    mod.board = _env("HEARTH_SIM_BOARD", "")
    link_in = _env("HEARTH_SIM_LINK_IN")
    link_out = _env("HEARTH_SIM_LINK_OUT")
    mod.link_in = open(link_in, "rb") if link_in else None
    mod.link_out = open(link_out, "wb") if link_out else None
    flash = _env("HEARTH_SIM_FLASH")
    mod.flash_file = open(flash, "r+b") if flash else None
    mod.flash_size = int(_env("HEARTH_SIM_FLASH_SIZE", "65536"))
    mod.fs_counts = _counts
    mode = _env("HEARTH_SIM_MODE", "friendly")
    if fs_path:
        f = open(fs_path, "r+b")
        size = f.seek(0, 2)
        bdev = _FileBlockDev(f, 4096, size // 4096)
        vfs.umount("/")
        vfs.mount(vfs.VfsLfs2(bdev), "/")
        os.chdir("/")
    sys.path.clear()
    sys.path.append("")
    sys.path.append("/lib")
    sys.path.append(".frozen")
    if mod.link_in is not None:
        sys.modules["_hearth_sim"] = mod
    _run("boot.py")
    if mode == "friendly":
        _run("main.py")


_start()
