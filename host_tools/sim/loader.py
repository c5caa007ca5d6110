# Runs inside the MicroPython unix port before anything of the firmware (started by
# bootrun.py, which runs boot.py and main.py after it): it turns the interpreter into a "board". Not firmware (never copied to a board); it plays
# the part of the ESP32's ROM, MicroPython's startup and its frozen _boot.py:
#   * the module's flash is one image file; the board's partition table says where
#     the vfs, journal and romfs partitions are (the relay passes their offsets);
#   * the vfs partition is mounted as LittleFS v2 at /, as _boot.py does; a blank one
#     is formatted with a stock boot.py ("Performing initial setup"), and one that does
#     not mount (e.g. an image made for another flash size) loops in fs_corrupted(),
#     as inisetup.py does, before boot.py could ever run;
#   * flash programs and erases take the chip's time (the CPU runs from flash and
#     stalls meanwhile);
#   * boot.py always runs; main.py only after a power-on / hard reset or a soft
#     reset from the friendly REPL, exactly as MicroPython's main loop does.
# The ROMFS partition is mapped and mounted at /rom by the interpreter itself
# (MICROPY_ROMFS, host_tools/interp), before this runs, as on a chip.
# Configuration comes from environment variables set by host_tools/sim/relay.py.
import micropython
import os
import sys
import time
import vfs


class _Timing:
    # Datasheet figures of the module's SPI NOR flash, per 256-byte page program and
    # per 4 KiB sector erase (HEARTH_SIM_FLASH_TIMING="program_us,erase_us"), scaled
    # by the virtual board's speed.
    def __init__(self, spec, speed):
        p, e = (spec or "0,0").split(",")
        self.program_us = int(p)
        self.erase_us = int(e)
        self.speed = speed

    def program(self, nbytes):
        if self.program_us:
            time.sleep_us(int((nbytes + 255) // 256 * self.program_us / self.speed))

    def erase(self):
        if self.erase_us:
            time.sleep_us(int(self.erase_us / self.speed))


class _RegionBlockDev:
    # A partition of the flash image, with the extended block protocol littlefs wants
    # (offset writes, erase via ioctl 6).
    def __init__(self, f, offset, size, timing):
        self.f = f
        self.base = offset
        self.bc = size // 4096
        self.t = timing
        # An erase writes 0xFF from this, 16 times: no 4 KiB block per erase (a chip's
        # erase allocates nothing; on a small heap a 4 KiB hole may not be there).
        self.ff = b"\xff" * 256

    def readblocks(self, block, buf, off=0):
        self.f.seek(self.base + block * 4096 + off)
        self.f.readinto(buf)

    def writeblocks(self, block, buf, off=None):
        _counts[0] += 1  # flash programs through the filesystem (benchmarks read these)
        if off is None:
            # the basic protocol: erase, then program (littlefs always passes off)
            self.ioctl(6, block)
            off = 0
        self.t.program(len(buf))
        self.f.seek(self.base + block * 4096 + off)
        self.f.write(buf)  # unbuffered; survives a kill (flush would fsync: slow)

    def ioctl(self, op, arg):
        if op == 4:
            return self.bc
        if op == 5:
            return 4096
        if op == 6:
            _counts[1] += 1
            self.t.erase()
            self.f.seek(self.base + arg * 4096)
            for _ in range(16):
                self.f.write(self.ff)
            return 0
        return 0


class _SimModule:
    pass


_counts = [0, 0]  # [filesystem programs, filesystem erases] since this interpreter started


def _env(name, default=None):
    v = os.getenv(name)
    return default if v is None else v


def _parts(spec):
    # "name:offset:size,..." -> {name: (offset, size)}
    out = {}
    for item in (spec or "").split(","):
        if item:
            name, off, size = item.split(":")
            out[name] = (int(off, 0), int(size, 0))
    return out


def _run(path):
    try:
        os.stat(path)
    except OSError:
        return
    try:
        # The source is garbage once compiled, as in pyexec_file on a chip: main.py's
        # text must not sit on the heap for as long as the app runs.
        with open(path) as f:
            code = compile(f.read(), path, "exec")
        exec(code, {"__name__": "__main__", "__file__": path})
    except KeyboardInterrupt as e:
        sys.print_exception(e)
    except SystemExit:
        pass
    except BaseException as e:  # noqa: BLE001 - as MicroPython's pyexec prints and goes on
        sys.print_exception(e)


def _booted():
    # tell the relay the board's root is mounted (or the host's gone): Ctrl-C may break in
    mod = sys.modules.get("_hearth_sim")
    if mod is not None and mod.link_out is not None:
        mod.link_out.write(b"B\n")


def _fs_corrupted():
    # ports/esp32/modules/inisetup.py: the board never gets to boot.py.
    micropython.kbd_intr(3)  # as inisetup: this loop can be stopped with Ctrl-C
    _booted()
    while 1:
        print("""\
The filesystem appears to be corrupted. If you had important data there, you
may want to make a flash snapshot to try to recover it. Otherwise, perform
factory reprogramming of MicroPython firmware (completely erase flash, followed
by firmware programming).
""")
        time.sleep(3)


def _mount_vfs(bdev):
    try:
        vfs.umount("/")
    except OSError:
        pass
    try:
        vfs.mount(vfs.VfsLfs2(bdev), "/")
    except OSError:
        buf = bytearray(4096)
        bdev.readblocks(0, buf)
        for b in buf:
            if b != 0xFF:
                _fs_corrupted()
        print("Performing initial setup")
        vfs.VfsLfs2.mkfs(bdev)
        vfs.mount(vfs.VfsLfs2(bdev), "/")
        with open("/boot.py", "w") as f:
            f.write("# This file is executed on every boot (including wake-boot from deepsleep)\n")
    os.chdir("/")


def _start():
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
    mod.partitions = _parts(_env("HEARTH_SIM_PARTS"))
    mod.timing = _Timing(_env("HEARTH_SIM_FLASH_TIMING"), mod.speed)
    mod.fs_counts = _counts
    mode = _env("HEARTH_SIM_MODE", "friendly")
    if mod.link_in is not None:
        # The chip's peripherals, frozen into the faithful interpreter (rom/_simlink.py);
        # an interpreter without them (HEARTH_INTERP=unix64) compiles them from the host.
        try:
            import _simlink
        except ImportError:
            sys.path.append(_env("HEARTH_SIM_LOADER").rsplit("/", 1)[0] + "/rom")
            import _simlink

            sys.path.pop()
        mod.world = _simlink.LinkWorld(mod)
        sys.modules["_hearth_sim"] = mod
    if mod.flash_file is not None and "vfs" in mod.partitions:
        off, size = mod.partitions["vfs"]
        # A chip mounts its root in frozen _boot.py before anyone can break in; here the
        # host's root is unmounted first, so a Ctrl-C in between would leave no root.
        micropython.kbd_intr(-1)
        try:
            _mount_vfs(_RegionBlockDev(mod.flash_file, off, size, mod.timing))
        finally:
            micropython.kbd_intr(3)
    _booted()
    # As the esp32 port: '' and '.frozen' (mp_init), '/rom' and '/rom/lib' when a ROMFS
    # is mounted, then '/lib' (main.c).
    path = ["", ".frozen"]
    if vfs.rom_ioctl(1) > 0:
        try:
            os.stat("/rom")
            path += ["/rom", "/rom/lib"]
        except OSError:
            pass  # a ROMFS partition without a valid image: not mounted
    sys.path.clear()
    sys.path.extend(path + ["/lib"])
    return mode


def _setup():
    # Called by host_tools/sim/bootrun.py, which then runs boot.py and main.py. The
    # one-shot code above leaves the heap first: a chip has it in ROM, C and frozen
    # _boot.py, none of it on the heap its app runs in. What stays: the block device
    # the root filesystem uses, the flash timing, _run.
    mode = _start()
    g = globals()
    for name in ("_start", "_mount_vfs", "_fs_corrupted", "_booted", "_parts", "_env", "_setup"):
        del g[name]
    return mode
