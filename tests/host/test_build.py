"""Build, manifest, wire encoding, flash plan, esptool checks and images: no board needed."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from host_tools import interp
from host_tools.boards import load_board
from host_tools.cli import main as cli
from host_tools.deploy import esp
from host_tools.deploy.build import FIRMWARE, BuildError, Manifest, build, load_build
from host_tools.deploy.image import ImageError, install_sim_image, make_image, read_image, vfs_partition
from host_tools.deploy.multi import exit_code
from host_tools.deploy.sync import ESC, FlashResult, decode, encode, frames, plan
from host_tools.interp.build import ROM_SRC
from host_tools.sim.state import flash_layout, read_region


@pytest.fixture(scope="module")
def sim_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    return build("latch-esp32", "sim", tmp_path_factory.mktemp("b") / "latch")


def test_build_is_reproducible_and_lists_every_file(sim_build, tmp_path: Path) -> None:
    out, man = sim_build
    out2, man2 = build("latch-esp32", "sim", tmp_path / "again")
    assert (out / "manifest.json").read_bytes() == (out2 / "manifest.json").read_bytes()
    assert man.build == man2.build and len(man.build) == 16
    d = json.loads((out / "manifest.json").read_text())
    assert d["fw"] and d["mpy"].count(".") == 1 and d["board"] == "latch-esp32" and d["target"] == "sim"
    assert {"boot.py", "main.py", "board.json", "hearth/app.mpy", "hearth/safe_boot.mpy"} <= set(d["files"])
    assert not any(p.endswith(".py") and p not in ("boot.py", "main.py") for p in d["files"])
    assert "config.json" in d["keep"] and "manifest.json" not in d["files"]
    assert load_build(out).build == man.build
    # the chip build differs (native code for xtensawin) but is just as reproducible
    _, chip = build("latch-esp32", "board", tmp_path / "chip")
    assert chip.target == "esp32" and chip.build != man.build
    assert "hearth/control/pid.mpy" in chip.native
    # a chip carries no simulated HAL; a virtual board no hal/esp32 (it imports machine)
    assert not [f for f in chip.files if f.startswith(("hearth/hal/sim", "hearth/hal/chips"))]
    assert "hearth/hal/esp32.mpy" in chip.files and "hearth/hal/esp32.mpy" not in man.files
    assert "hearth/hal/sim.mpy" in man.files and "hearth/hal/simflash.mpy" in man.files


def test_mpy_files_load_in_the_unix_port(sim_build) -> None:
    out, _ = sim_build
    code = "import hearth, hearth.manifest, hearth.control.pid, hearth.runtime.config; print('loaded', hearth.VERSION)"
    argv, extra = interp.command(None, "256K", build_if_missing=True)
    env = dict(os.environ, MICROPYPATH=str(out), **extra)
    p = subprocess.run([*argv, "-c", code], capture_output=True, text=True, env=env, cwd=str(out), timeout=30)
    assert "loaded" in p.stdout, p.stdout + p.stderr


def test_the_virtual_chips_peripherals_are_frozen_not_on_the_heap(tmp_path: Path) -> None:
    # A chip's machine/esp32 are C in flash; the virtual board's stand-in (LinkWorld) is
    # frozen into the faithful interpreter: importing it takes next to no heap, where the
    # same module loaded from a file would hold its code there.
    shutil.copy(ROM_SRC / "_simlink.py", tmp_path / "simlink_copy.py")
    code = ("import gc\ngc.collect()\na = gc.mem_alloc()\nimport _simlink\ngc.collect()\nb = gc.mem_alloc()\n"
            "import simlink_copy\ngc.collect()\nprint(_simlink.__file__, b - a, gc.mem_alloc() - b)")
    argv, extra = interp.command(None, "256K", build_if_missing=True)
    env = dict(os.environ, MICROPYPATH=f".frozen:{tmp_path}", **extra)
    p = subprocess.run([*argv, "-c", code], capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    where, frozen_cost, file_cost = p.stdout.split()
    assert where == "_simlink.py" and int(frozen_cost) < 1024 and int(file_cost) > 3 * int(frozen_cost), p.stdout


def test_tracebacks_name_the_module_by_its_import_name(sim_build) -> None:
    # The source name in each .mpy is the module's dotted name (one qstr fewer per
    # module on the board than a path): a traceback still says where it happened.
    out, _ = sim_build
    code = "from hearth.runtime import config\ntry:\n    config.file_hash(5)\nexcept TypeError as e:\n" \
           "    import sys\n    sys.print_exception(e)\n"
    argv, extra = interp.command(None, "256K", build_if_missing=True)
    env = dict(os.environ, MICROPYPATH=str(out), **extra)
    p = subprocess.run([*argv, "-c", code], capture_output=True, text=True, env=env, cwd=str(out), timeout=30)
    assert 'File "hearth.runtime.config", line' in p.stdout + p.stderr, p.stdout + p.stderr


def test_manifest_mismatch_and_tampering_are_refused(sim_build, tmp_path: Path) -> None:
    out, man = sim_build
    d = json.loads(man.to_json())
    d["files"]["boot.py"][0] += 1
    with pytest.raises(BuildError, match="does not match"):
        Manifest.from_json(json.dumps(d))
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "hearth" / "app.mpy").write_bytes(b"tampered")
    with pytest.raises(BuildError, match="do not match its manifest"):
        load_build(copy)
    with pytest.raises(BuildError, match="no manifest.json"):
        load_build(tmp_path)


def test_unknown_board_is_a_usage_error() -> None:
    with pytest.raises(BuildError, match="unknown board"):
        build("no-such-board", "sim")
    r = CliRunner().invoke(cli, ["build", "--board", "no-such-board"])
    assert r.exit_code == 2 and "unknown board" in r.output


def test_wire_encoding_round_trips_and_frames_never_split_an_escape() -> None:
    rnd = random.Random(7)
    for n in (0, 1, 2, 127, 128, 1000, 5000):
        data = bytes(rnd.choice(b"\x01\x02\x03\x10\x1a\x1cAz\x00\xff") for _ in range(n))
        enc = encode(data)
        assert not any(b in enc for b in (1, 2, 3, 0x1A, 0x1C))
        fr = frames(enc, 128)
        body = b""
        for f in fr:
            k = int(f[:2], 16)
            assert len(f) == k + 2 <= 128
            assert f[-1] != ESC  # an escape pair is never cut
            body += f[2:]
        assert decode(body) == data
    plain = bytes(range(32, 127)) * 3
    assert encode(plain) == plain


def test_plan_sends_differences_first_boot_files_and_removes_stale(sim_build) -> None:
    _, man = sim_build
    mb = man.to_json()
    import hashlib

    board = {p: (s, h[:16]) for p, (s, h) in man.files.items()}
    board["manifest.json"] = (len(mb), hashlib.sha256(mb).hexdigest()[:16])
    board["config.json"] = (99, "x")
    send, keep, remove, needs = plan(man, board, None, mb)
    assert (send, keep, remove, needs) == ([], [], [], False)
    board2 = dict(board)
    board2["hearth/app.mpy"] = (1, "0")
    board2["main.py"] = (1, "0")
    board2["hearth/app.py"] = (5, "1")  # stale source would shadow app.mpy
    board2["hearth/x.mpy~"] = (5, "1")
    board2["user.txt"] = (5, "1")  # not ours: kept
    del board2["config.json"]
    send, keep, remove, needs = plan(man, board2, None, mb)
    assert send == ["main.py", "hearth/app.mpy"]
    assert keep == ["config.json"] and needs
    assert remove == ["hearth/app.py", "hearth/x.mpy~"]


def _esp_image(chip_id: int) -> bytes:
    hdr = bytearray(24)
    hdr[0] = 0xE9
    hdr[1] = 3
    hdr[12:14] = chip_id.to_bytes(2, "little")
    return bytes(hdr) + b"\x00" * 100


def test_base_image_chip_is_checked_before_anything_is_erased(tmp_path: Path) -> None:
    s3 = tmp_path / "s3.bin"
    s3.write_bytes(_esp_image(9))
    e32 = tmp_path / "esp32.bin"
    e32.write_bytes(_esp_image(0))
    assert esp.image_chip(s3.read_bytes()) == "esp32s3"
    with pytest.raises(esp.EspError, match="for esp32s3, but this board is an esp32"):
        esp.check_base_image(s3, "esp32")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(esp.EspError, match="not an ESP image"):
        esp.check_base_image(junk, "esp32")
    cmds = esp.base_commands("/dev/ttyUSB0", "esp32", e32)
    assert cmds[0][-1] == "erase-flash" and cmds[0][cmds[0].index("--chip") + 1] == "esp32"
    assert cmds[1][-4:] == ["write-flash", "-z", "0x1000", str(e32)]
    assert esp.base_commands("/dev/ttyACM0", "esp32s3", s3)[1][-2] == "0x0"
    assert esp.image_commands("/dev/ttyUSB0", "esp32", e32, 0x200000)[0][-2] == "0x200000"
    # the CLI refuses the wrong chip with exit 1 and runs nothing
    r = CliRunner().invoke(cli, ["flash", "--board", "latch-esp32", "--port", "/dev/null", "--base", str(s3)])
    assert r.exit_code == 1 and "esp32s3" in r.output
    r = CliRunner().invoke(cli, ["flash", "--board", "latch-esp32", "--port", "/dev/ttyUSB9", "--base", str(e32),
                                 "--dry-run"])
    assert r.exit_code == 0 and "erase-flash" in r.output and "write-flash -z 0x1000" in r.output


def test_image_holds_the_build_and_refuses_what_does_not_fit(sim_build, tmp_path: Path) -> None:
    out, man = sim_build
    img, m, n = make_image(out, 2 * 1024 * 1024)
    files = read_image(img)
    assert set(files) == set(man.files) | set(man.keep) | {"manifest.json"}
    assert files["hearth/app.mpy"] == (out / "hearth/app.mpy").read_bytes()
    assert n == m.total_bytes() + sum(s for s, _ in m.keep.values()) + len(m.to_json())
    with pytest.raises(ImageError, match="does not fit"):
        make_image(out, 64 * 1024)
    board = load_board("latch-esp32")
    small = tmp_path / "small.img"
    small.write_bytes(img[: 1024 * 1024])
    with pytest.raises(ImageError, match="make it with"):
        install_sim_image(small, tmp_path / "state", board)
    with pytest.raises(ImageError, match="make it with"):
        install_sim_image(tmp_path / "small.img", tmp_path / "state", board)
    _off, size = vfs_partition(board)
    img, _, _ = make_image(out, size)
    good = tmp_path / "good.img"
    good.write_bytes(img)
    install_sim_image(good, tmp_path / "state", board)
    _, parts = flash_layout(board)
    assert read_region(tmp_path / "state", parts["vfs"]) == img
    r = CliRunner().invoke(cli, ["image", "--board", "latch-esp32", "--size", "65536", "-o", str(tmp_path / "x.img")])
    assert r.exit_code == 1 and "does not fit" in r.output


def test_exit_code_counts_failed_boards() -> None:
    ok = FlashResult("a", "b", "c", ok=True)
    bad = FlashResult("a", "b", "c", ok=False, code=2)
    assert exit_code([ok]) == 0 and exit_code([bad]) == 2
    assert exit_code([ok, bad, bad]) == 2 and exit_code([bad] * 200) == 125


def test_firmware_files_are_untouched_by_build(sim_build) -> None:
    assert (FIRMWARE / "boot.py").is_file() and not list(FIRMWARE.rglob("*.mpy"))


def test_board_mismatch_chip_and_role() -> None:
    from host_tools.deploy.sync import board_mismatch

    latch = {"name": "latch-esp32", "chip": "esp32", "role": "latch"}
    printer = {"name": "printer-s3", "chip": "esp32s3", "role": "printer"}
    assert board_mismatch(latch, "esp32", None) is None
    assert board_mismatch(latch, "esp32", {"name": "latch-esp32", "role": "latch", "chip": "esp32"}) is None
    assert board_mismatch(latch, None, None) is None  # chip unknown, nothing installed: nothing to check
    why = board_mismatch(latch, "esp32s3", {"name": "printer-s3", "role": "printer", "chip": "esp32s3"})
    assert why and "esp32s3" in why and "latch-esp32" in why and "--board printer-s3" in why and "--force" in why
    # same chip, another role than the installed board file's
    other = {"name": "latch-s3", "chip": "esp32s3", "role": "latch"}
    why = board_mismatch(other, "esp32s3", {"name": "printer-s3", "role": "printer", "chip": "esp32s3"})
    assert why and "printer board" in why and "latch board file" in why
    assert board_mismatch(printer, "esp32s3", {"name": "printer-s3", "role": "printer", "chip": "esp32s3"}) is None
