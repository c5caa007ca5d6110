"""`hearth build`: compile the firmware for one board into build/NAME/ with a manifest.

What goes on the board's filesystem root:

* ``boot.py`` and ``main.py`` as source (MicroPython runs only these two names);
* every other module of ``firmware/hearth`` as ``.mpy`` from mpy-cross: bytecode, plus
  native machine code for the few hot modules in ``NATIVE`` and for the functions
  decorated ``@micropython.viper``/``native``. The architecture is the chip's
  (``xtensawin`` for ESP32/S2/S3, ``rv32imc`` for C3/C6). The virtual board is the
  unix port, which cannot load xtensa/riscv code: ``target="sim"`` is bytecode only,
  except the functions decorated viper/native, which cannot be bytecode: those modules
  use the interpreter's own architecture (``x86`` for the 32-bit faithful build, ``x64``
  for the 64-bit wheel) or, on
  a host mpy-cross cannot emit for, stay ``.py`` source for the board to compile;
* ``board.json`` (the board file) and ``config.json`` (``{}``: every setting at its
  default; written to a board only when it has none, so ``hearth config`` edits survive);
* ``manifest.json``: for every file its size and sha256, plus firmware version, mpy
  version, target and the build id (a hash of all of that: no timestamps, no absolute
  paths, so the same sources always give the same manifest).

A firmware that runs from flash instead (host_tools/deploy/flashfw.py) has a manifest
with ``rom`` (the files of its ROMFS image, mounted at /rom, and ``romfs``: the image's
size and sha256) or ``frozen`` (the package is frozen into the MicroPython image); its
``files`` are then only what stays on the filesystem.

The board's ``boot.py`` reads the manifest: a missing manifest or a listed file with
the wrong size means an incomplete firmware, and ``main.py`` then does not start the app.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host_tools.boards import ROOT, BoardError, load_board
from host_tools.deploy import board_rules

FIRMWARE = ROOT / "firmware"
BUILD = ROOT / "build"
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
ROMFS_IMAGE = "romfs.img"  # a ROMFS build's image, beside its manifest (never on the filesystem)
SOURCE_FILES = ("boot.py", "main.py")
# Hot modules compiled to native machine code on a real chip (their inner loops run
# every control tick). Everything else stays bytecode: smaller, and portable.
NATIVE = ("hearth/control/pid.py", "hearth/control/thermal.py")
# Written only when the board has none: the user's configuration is not firmware.
KEEP = ("config.json",)
# Early in every flash: after these, an interrupted flash boots safe whatever else is left.
FIRST = ("boot.py", "main.py", "hearth/safe_boot.mpy", "hearth/manifest.mpy", "hearth/__init__.mpy", "board.json")

CHIP_ARCH = {
    "esp32": "xtensawin",
    "esp32s2": "xtensawin",
    "esp32s3": "xtensawin",
    "esp32c3": "rv32imc",
    "esp32c6": "rv32imc",
}


class BuildError(Exception):
    """The firmware cannot be built; the message says why and what to do."""


@dataclass
class Manifest:
    board: str
    target: str
    fw: str
    mpy: str
    files: dict[str, tuple[int, str]]  # path -> (size, sha256 hex)
    keep: dict[str, tuple[int, str]] = field(default_factory=dict)
    native: list[str] = field(default_factory=list)
    # Firmware in flash (empty/None/False for a firmware on the filesystem):
    rom: dict[str, tuple[int, str]] = field(default_factory=dict)  # ROMFS files, under /rom
    romfs: tuple[int, str] | None = None  # the ROMFS image: (size, sha256)
    frozen: bool = False  # the hearth package is frozen into MicroPython

    @property
    def build(self) -> str:
        return build_id(self.board, self.target, self.fw, self.mpy, self.files, self.keep,
                        self.rom, self.romfs, self.frozen)

    def to_json(self) -> bytes:
        d = {
            "v": MANIFEST_VERSION,
            "build": self.build,
            "board": self.board,
            "target": self.target,
            "fw": self.fw,
            "mpy": self.mpy,
            "native": sorted(self.native),
            "files": {p: [s, h] for p, (s, h) in sorted(self.files.items())},
            "keep": {p: [s, h] for p, (s, h) in sorted(self.keep.items())},
        }
        if self.rom or self.romfs:
            d["rom"] = {p: [s, h] for p, (s, h) in sorted(self.rom.items())}
            d["romfs"] = list(self.romfs) if self.romfs else None
        if self.frozen:
            d["frozen"] = 1
        return (json.dumps(d, separators=(",", ":"), sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Manifest:
        try:
            d = json.loads(raw)
            m = cls(
                board=d["board"], target=d["target"], fw=d["fw"], mpy=d["mpy"],
                files={p: (int(v[0]), str(v[1])) for p, v in d["files"].items()},
                keep={p: (int(v[0]), str(v[1])) for p, v in d.get("keep", {}).items()},
                native=list(d.get("native", [])),
                rom={p: (int(v[0]), str(v[1])) for p, v in d.get("rom", {}).items()},
                romfs=(int(d["romfs"][0]), str(d["romfs"][1])) if d.get("romfs") else None,
                frozen=bool(d.get("frozen")),
            )
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
            raise BuildError(f"manifest is not valid: {e!r}") from e
        if d.get("build") != m.build:
            raise BuildError(f"manifest build id {d.get('build')} does not match its contents ({m.build})")
        return m

    def order(self) -> list[str]:
        """Files in the order a flash writes them: the boot-safety ones first."""
        first = [p for p in FIRST if p in self.files]
        return first + sorted(p for p in self.files if p not in first)

    def total_bytes(self) -> int:
        return sum(s for s, _ in self.files.values())


def build_id(board: str, target: str, fw: str, mpy: str, files: dict[str, tuple[int, str]],
             keep: dict[str, tuple[int, str]], rom: dict[str, tuple[int, str]] | None = None,
             romfs: tuple[int, str] | None = None, frozen: bool = False) -> str:
    h = hashlib.sha256()
    h.update(f"{MANIFEST_VERSION}|{board}|{target}|{fw}|{mpy}\n".encode())
    for p, (s, d) in sorted(files.items()):
        h.update(f"F {p} {s} {d}\n".encode())
    for p, (s, d) in sorted(keep.items()):
        h.update(f"K {p} {s} {d}\n".encode())
    # Only firmware in flash adds lines: a filesystem firmware's id is unchanged.
    for p, (s, d) in sorted((rom or {}).items()):
        h.update(f"R {p} {s} {d}\n".encode())
    if romfs:
        h.update(f"I {romfs[0]} {romfs[1]}\n".encode())
    if frozen:
        h.update(b"Z frozen\n")
    return h.hexdigest()[:16]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mpy_cross_path() -> str:
    try:
        import mpy_cross  # type: ignore[import-untyped]
    except ImportError as e:  # pragma: no cover - installed with the package
        raise BuildError("mpy-cross is not installed in this environment (pip install mpy-cross)") from e
    return str(mpy_cross.mpy_cross)


def mpy_version() -> str:
    """The .mpy format version the compiler emits, e.g. "6.3"."""
    out = subprocess.run([mpy_cross_path(), "--version"], capture_output=True, text=True, check=False).stdout
    m = re.search(r"mpy v(\d+\.\d+)", out)
    if not m:
        raise BuildError(f"cannot tell the mpy version from `mpy-cross --version`: {out.strip()!r}")
    return m.group(1)


def firmware_version(src: Path = FIRMWARE) -> str:
    text = (src / "hearth" / "__init__.py").read_text()
    m = re.search(r'^VERSION\s*=\s*"([^"]+)"', text, re.M)
    if not m:
        raise BuildError("firmware/hearth/__init__.py has no VERSION = \"...\"")
    return m.group(1)


def host_arch() -> str | None:
    """The mpy-cross architecture of this machine (what the unix port loads), if any."""
    import platform

    return {"x86_64": "x64", "amd64": "x64", "i686": "x86", "i386": "x86"}.get(platform.machine().lower())


def target_arch(tgt: str) -> str | None:
    if tgt != "sim":
        return CHIP_ARCH.get(tgt)
    # The virtual board's interpreter: the 32-bit faithful build loads x86, the wheel x64.
    from host_tools import interp

    try:
        return interp.mpy_arch()
    except interp.InterpreterMissing:
        return host_arch()


_NATIVE_DECORATOR = re.compile(r"^\s*@micropython\.(viper|native|asm_\w+)\b", re.M)


def resolve_target(board: dict[str, Any], target: str) -> str:
    """`auto` and `board` mean the board's chip; `sim` means the unix-port virtual board."""
    if target in ("auto", "board", "chip"):
        return str(board["chip"])
    if target == "sim":
        return "sim"
    if target in CHIP_ARCH:
        return target
    raise BuildError(f"unknown target {target!r}: use sim, board, or a chip ({', '.join(CHIP_ARCH)})")


def source_name(rel: str) -> str:
    """The name a module's tracebacks show: its dotted import name ("hearth.roles.printer").
    That name is already interned on the board for the imports that load the module,
    so the module adds no qstr of its own for it (a file path would be one more per
    module: ~35 on a printer, which pushed it past the 1260 qstrs at which MicroPython
    allocates its next, 1280-entry qstr pool, ~9 KB in one contiguous block)."""
    name = rel[:-3] if rel.endswith(".py") else rel
    name = name.replace("/", ".")
    return name[:-9] if name.endswith(".__init__") else name


def compile_module(src: Path, rel: str, dest: Path, arch: str | None, emit_native: bool = False) -> None:
    args = [mpy_cross_path(), "-s", source_name(rel), "-o", str(dest)]
    if arch:
        args.append(f"-march={arch}")
    if emit_native:
        args += ["-X", "emit=native"]
    args.append(str(src))
    p = subprocess.run(args, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise BuildError(f"mpy-cross failed on {rel}:\n{(p.stderr or p.stdout).strip()}")


# A chip build carries no simulated HAL (nor the chip tables only the simulation uses);
# a virtual board's build carries no hal/esp32.py (it imports machine).
SIM_ONLY = ("hearth/hal/sim.py", "hearth/hal/simflash.py", "hearth/hal/simlocal.py", "hearth/hal/chips.py")
CHIP_ONLY = ("hearth/hal/esp32.py",)


def _sources(src: Path, tgt: str) -> Iterable[Path]:
    skip = CHIP_ONLY if tgt == "sim" else SIM_ONLY
    for p in sorted((src / "hearth").rglob("*.py")):
        if "__pycache__" not in p.parts and p.relative_to(src).as_posix() not in skip:
            yield p


def build(board_name: str, target: str = "sim", out: Path | None = None, native: bool = True,
          src: Path = FIRMWARE) -> tuple[Path, Manifest]:
    """Compile into `out` (default build/BOARD[-sim]/), replacing what was there."""
    try:
        board = load_board(board_name)
    except BoardError as e:
        raise BuildError(str(e)) from e
    broken = board_rules.problems(board)
    if broken:
        raise BuildError("the board file breaks the rules for its chip:\n  " + "\n  ".join(broken))
    tgt = resolve_target(board, target)
    arch = target_arch(tgt)
    if out is None:
        out = BUILD / (board_name if tgt != "sim" else f"{board_name}-sim")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    files: dict[str, tuple[int, str]] = {}

    def put(rel: str, data: bytes) -> None:
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        files[rel] = (len(data), sha256(data))

    for name in SOURCE_FILES:
        put(name, (src / name).read_bytes())
    natives: list[str] = []
    for p in _sources(src, tgt):
        rel = p.relative_to(src).as_posix()
        needs_arch = bool(_NATIVE_DECORATOR.search(p.read_text()))
        if needs_arch and arch is None:
            put(rel, p.read_bytes())  # no native compiler for this host: the board compiles it
            continue
        emit_native = bool(native and arch and rel in NATIVE and tgt != "sim")
        mrel = rel[:-3] + ".mpy"
        dest = out / mrel
        dest.parent.mkdir(parents=True, exist_ok=True)
        compile_module(p, rel, dest, arch if (needs_arch or emit_native) else None, emit_native)
        if emit_native or needs_arch:
            natives.append(mrel)
        data = dest.read_bytes()
        files[mrel] = (len(data), sha256(data))
    put("board.json", (json.dumps(board, indent=1, sort_keys=True) + "\n").encode())
    cfg = b"{}\n"
    (out / "config.json").write_bytes(cfg)
    keep = {"config.json": (len(cfg), sha256(cfg))}
    man = Manifest(board=board_name, target=tgt, fw=firmware_version(src), mpy=mpy_version(),
                   files=files, keep=keep, native=natives)
    (out / MANIFEST).write_bytes(man.to_json())
    return out, man


def load_build(path: Path) -> Manifest:
    """Read a build folder's manifest and check every file against it."""
    mf = path / MANIFEST
    if not mf.is_file():
        raise BuildError(f"{path} has no {MANIFEST}: run `hearth build` first")
    man = Manifest.from_json(mf.read_bytes())
    bad = []
    extra = {ROMFS_IMAGE: man.romfs} if man.romfs else {}
    for rel, (size, digest) in {**man.files, **man.keep, **extra}.items():
        f = path / rel
        if not f.is_file():
            bad.append(f"{rel} missing")
            continue
        data = f.read_bytes()
        if len(data) != size or sha256(data) != digest:
            bad.append(f"{rel} differs")
    if bad:
        raise BuildError(
            f"the files in {path} do not match its manifest ({', '.join(bad[:5])}"
            f"{' ...' if len(bad) > 5 else ''}): rebuild with `hearth build`"
        )
    return man
