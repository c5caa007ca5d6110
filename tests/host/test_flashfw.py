"""Firmware from flash without a board: ROMFS images, ROMFS/frozen builds and manifests,
the MicroPython board definitions, and `hearth firmware build` without a Docker engine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from mpremote.romfs import make_romfs

from host_tools.boards import BOARDS, load_board
from host_tools.cli import main as cli
from host_tools.deploy import boarddef, idfbuild, partitions, romfs
from host_tools.deploy.build import FIRMWARE, ROMFS_IMAGE, BuildError, Manifest, build, load_build
from host_tools.deploy.flashfw import build_frozen, build_romfs, firmware_modules, stage_unix
from host_tools.interp.build import cache_dir


@pytest.fixture(scope="module")
def romfs_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    return build_romfs("latch-esp32", "sim", tmp_path_factory.mktemp("r") / "latch")


# ---- images -------------------------------------------------------------------------------
def test_image_matches_mpremotes_builder_and_parses_back(tmp_path: Path) -> None:
    files = {"hearth/__init__.mpy": b"M\x06\x00\x1f" + bytes(range(200)), "hearth/control/pid.mpy": os.urandom(5000),
             "hearth/a.py": b"x = 1\n", "top.txt": b""}
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    img = romfs.make_image(files)
    assert img == make_romfs(str(tmp_path), mpy_cross=False)  # the same bytes as `mpremote romfs build`
    assert romfs.parse_image(img) == files


def test_bad_images_are_refused_with_what_is_wrong() -> None:
    img = romfs.make_image({"hearth/app.mpy": os.urandom(3000)})
    with pytest.raises(romfs.RomfsError, match="not a ROMFS image") as e:
        romfs.parse_image(b"\x7fELF" + img[4:])
    assert e.value.code == 2
    with pytest.raises(romfs.RomfsError, match="truncated: its header says"):
        romfs.parse_image(img[:-10])
    with pytest.raises(romfs.RomfsError, match="ends inside its header"):
        romfs.parse_image(img[:3])
    with pytest.raises(romfs.RomfsError, match="bytes after its end"):
        romfs.parse_image(img + b"\xff" * 8)
    # a record whose length runs past the image
    broken = bytearray(img)
    i = 3
    while broken[i] & 0x80:
        i += 1
    broken[i + 2] = 0x7F  # the first record's length byte
    with pytest.raises(romfs.RomfsError, match="corrupt|truncated"):
        romfs.parse_image(bytes(broken))
    with pytest.raises(romfs.RomfsError, match="does not fit the board's romfs partition"):
        romfs.check_fits(img, len(img) - 1)
    romfs.check_fits(img, len(img))


# ---- builds and manifests ---------------------------------------------------------------------
def test_romfs_build_puts_only_the_board_files_on_the_filesystem(romfs_build) -> None:
    out, man = romfs_build
    assert sorted(p.name for p in out.iterdir()) == ["board.json", "boot.py", "config.json", "main.py",
                                                     "manifest.json", ROMFS_IMAGE]
    assert sorted(man.files) == ["board.json", "boot.py", "main.py"] and list(man.keep) == ["config.json"]
    inside = romfs.parse_image((out / ROMFS_IMAGE).read_bytes())
    assert set(inside) == set(man.rom) and "hearth/safe_boot.mpy" in inside and "hearth/hal/sim.mpy" in inside
    assert all(len(inside[p]) == man.rom[p][0] for p in inside)
    # the same .mpy files as the filesystem build
    _, files_man = build("latch-esp32", "sim", out.parent / "files")
    assert {p: files_man.files[p] for p in man.rom} == man.rom
    assert load_build(out).build == man.build
    d = json.loads((out / "manifest.json").read_text())
    assert d["romfs"] == [man.romfs[0], man.romfs[1]] and "frozen" not in d
    # a ROMFS built for a chip leaves the simulated HAL out
    _, chip = build_romfs("latch-esp32", "board", out.parent / "chip")
    assert chip.target == "esp32" and not [p for p in chip.rom if p.startswith("hearth/hal/sim")]
    assert "hearth/hal/esp32.mpy" in chip.rom


def test_manifests_round_trip_and_filesystem_build_ids_do_not_change(romfs_build, tmp_path: Path) -> None:
    out, man = romfs_build
    assert Manifest.from_json(man.to_json()) == man
    plain = Manifest("b", "sim", "1", "6.3", {"boot.py": (3, "ab")})
    assert "rom" not in json.loads(plain.to_json()) and "frozen" not in json.loads(plain.to_json())
    # the id of a filesystem firmware is what it was before ROMFS/frozen existed (sha256 over its lines)
    import hashlib

    h = hashlib.sha256(b"1|b|sim|1|6.3\nF boot.py 3 ab\n").hexdigest()[:16]
    assert plain.build == h
    fout, fman = build_frozen("latch-esp32", "sim", tmp_path / "frozen")
    assert fman.frozen and Manifest.from_json(fman.to_json()).frozen
    assert sorted(p.name for p in fout.iterdir()) == ["board.json", "boot.py", "config.json", "main.py", "manifest.json"]
    assert len({man.build, fman.build, plain.build}) == 3
    # a replaced image is caught by the build's own check
    (out.parent / "tampered").mkdir()
    for p in out.iterdir():
        (out.parent / "tampered" / p.name).write_bytes(p.read_bytes())
    (out.parent / "tampered" / ROMFS_IMAGE).write_bytes(b"\xd2\xcd\x31\x00")
    with pytest.raises(BuildError, match="romfs.img differs"):
        load_build(out.parent / "tampered")


def test_cli_build_formats(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["build", "--board", "printer-s3", "--target", "sim", "--romfs", "--json",
                                 "--out", str(tmp_path / "r")])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["format"] == "romfs" and d["romfs"]["bytes"] == (tmp_path / "r" / ROMFS_IMAGE).stat().st_size
    r = CliRunner().invoke(cli, ["build", "--board", "printer-s3", "--target", "sim", "--format", "frozen",
                                 "--out", str(tmp_path / "f")])
    assert r.exit_code == 0 and "frozen into the MicroPython image" in r.output, r.output
    r = CliRunner().invoke(cli, ["build", "--board", "printer-s3", "--format", "flash"])
    assert r.exit_code == 2 and "'flash' is not one of" in r.output
    r = CliRunner().invoke(cli, ["flash", "--board", "latch-esp32", "--port", "x", "--image", "--romfs"])
    assert r.exit_code == 2 and "no ROMFS or frozen form" in r.output


def test_a_romfs_too_big_for_the_partition_is_refused_at_build_time(tmp_path: Path) -> None:
    import shutil

    src = tmp_path / "fw"
    shutil.copytree(FIRMWARE, src, ignore=shutil.ignore_patterns("__pycache__"))
    # 300 KiB of incompressible constants: more than the 256 KiB romfs partition
    (src / "hearth" / "big.py").write_text("B = " + repr(os.urandom(300 * 1024)) + "\n")
    with pytest.raises(BuildError, match="does not fit the board's romfs partition"):
        build_romfs("latch-esp32", "sim", tmp_path / "out", src=src)
    assert not (tmp_path / "out").exists()


# ---- the same modules frozen on the chip and on the virtual board -------------------------------
def test_frozen_modules_chip_and_virtual_board() -> None:
    chip = firmware_modules(chip=True)
    host = firmware_modules(chip=False)
    sim = sorted(set(host) - set(chip))
    assert sim == ["hearth/hal/chips.py", "hearth/hal/sim.py", "hearth/hal/simflash.py", "hearth/hal/simlocal.py"]
    assert "hearth/hal/esp32.py" in chip and "hearth/safe_boot.py" in chip and "hearth/app.py" in chip
    assert "hearth/hal/esp32.py" not in host  # the virtual board imports no machine
    staged = stage_unix()
    assert sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*.py")) == host
    for board in ("latch-esp32", "printer-s3"):
        text = (boarddef.def_dir(board) / "manifest.py").read_text()
        listed = re.findall(r'^\s+"([^"]+\.py)",$', text, re.M)
        assert ["hearth/" + m for m in listed] == chip


# ---- board definitions ------------------------------------------------------------------------
MPY_TREE = cache_dir() / "src" / "micropython-1.28.0"


@pytest.mark.parametrize("board", ["latch-esp32", "printer-s3"])
def test_board_definition_is_complete_and_matches_its_board_file(board: str) -> None:
    b = load_board(board)
    d = boarddef.def_dir(board)
    assert d.parent == BOARDS / "micropython" and d.name == "HEARTH_" + board.upper().replace("-", "_")
    assert sorted(p.name for p in d.iterdir()) == sorted(boarddef.FILES)
    assert boarddef.stale(board) == [], f"run `hearth firmware board --board {board}`"
    # the partition table is the board's own, and fits its flash
    assert (d / "partitions.csv").read_text() == (BOARDS / b["flash"]["partitions"]).read_text()
    parts = partitions.layout(partitions.parse((d / "partitions.csv").read_text()), partitions.flash_size(b))
    assert {"factory", "journal", "romfs", "vfs"} <= set(parts)
    cmake = (d / "mpconfigboard.cmake").read_text()
    assert f"set(IDF_TARGET {b['chip']})" in cmake
    assert "${MICROPY_BOARD_DIR}/partitions.csv" in cmake and "CONFIG_PARTITION_TABLE_CUSTOM=y" in cmake
    assert "${MICROPY_BOARD_DIR}/sdkconfig.board" in cmake
    assert "set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)" in cmake
    assert "#define MICROPY_VFS_ROM (1)" in (d / "mpconfigboard.h").read_text()
    sdk = (d / "sdkconfig.board").read_text()
    mb = b["flash"]["size_mb"]
    assert re.findall(r"^CONFIG_ESPTOOLPY_FLASHSIZE_(\d+)MB=y$", sdk, re.M) == [str(mb)]


@pytest.mark.skipif(not (MPY_TREE / "tools" / "manifestfile.py").is_file(), reason="needs `make interp` first")
@pytest.mark.parametrize("board", ["latch-esp32", "printer-s3"])
def test_board_manifest_as_micropythons_tool_reads_it(board: str) -> None:
    # MicroPython's own manifest reader, with the variables the esp32 port's build sets
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1] + '/tools'); import manifestfile as mf\n"
        "m = mf.ManifestFile(mf.MODE_FREEZE, {'MPY_DIR': sys.argv[1], 'PORT_DIR': sys.argv[1] + '/ports/esp32',"
        " 'BOARD_DIR': sys.argv[2], 'MPY_LIB_DIR': sys.argv[1] + '/lib/micropython-lib'})\n"
        "m.execute(sys.argv[2] + '/manifest.py')\n"
        "print(json.dumps([(r.target_path, r.full_path) for r in m.files()]))\n"
    )
    p = subprocess.run([sys.executable, "-c", code, str(MPY_TREE), str(boarddef.def_dir(board))],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    files = dict(json.loads(p.stdout))
    frozen = sorted(t for t in files if t.startswith("hearth/"))
    assert frozen == firmware_modules(chip=True)
    assert all(Path(files[t]).resolve() == (FIRMWARE / t).resolve() for t in frozen)
    assert {"_boot.py", "inisetup.py", "flashbdev.py"} <= set(files)  # the port's start-up still frozen


def test_firmware_board_check_reports_a_stale_definition(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(boarddef, "DEFS", tmp_path)
    r = CliRunner().invoke(cli, ["firmware", "board", "--board", "latch-esp32", "--check"])
    assert r.exit_code == 1 and "hearth firmware board --board latch-esp32" in r.output
    r = CliRunner().invoke(cli, ["firmware", "board", "--board", "latch-esp32"])
    assert r.exit_code == 0 and (tmp_path / "HEARTH_LATCH_ESP32" / "manifest.py").is_file()
    r = CliRunner().invoke(cli, ["firmware", "board", "--check", "--json", "--board", "latch-esp32"])
    assert r.exit_code == 0 and json.loads(r.output)["ok"]


# ---- hearth firmware build --------------------------------------------------------------------
def _fake_docker(tmp_path: Path, engine: bool) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    f = bindir / "docker"
    f.write_text("#!/bin/sh\n" + (
        f'if [ "$1" = version ]; then echo 27.0.1; exit 0; fi\necho "$@" > {bindir}/ran\nexit 0\n'
        if engine else
        'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2\n'
        "exit 1\n"))
    f.chmod(0o755)
    return bindir


def test_firmware_build_without_docker_says_what_is_missing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker anywhere
    r = CliRunner().invoke(cli, ["firmware", "build", "--board", "latch-esp32"])
    assert r.exit_code == 2
    assert "Docker is not installed" in r.output and "espressif/idf:v5.5.1" in r.output
    assert "BOARD_DIR=" in r.output and "HEARTH_LATCH_ESP32" in r.output  # how to build by hand


def test_firmware_build_with_docker_but_no_engine(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(_fake_docker(tmp_path, engine=False)))
    r = CliRunner().invoke(cli, ["firmware", "build", "--board", "printer-s3", "--json"])
    assert r.exit_code == 2
    assert "engine is not running" in r.output and "Cannot connect to the Docker daemon" in r.output


def test_this_machine_has_no_running_docker_engine_and_says_so() -> None:
    # What a user here sees (no engine runs on this machine): a plain message and exit 2.
    p = subprocess.run([str(Path(sys.executable).with_name("hearth")), "firmware", "build", "--board", "latch-esp32"],
                       capture_output=True, text=True, timeout=60)
    if idfbuild.docker_problem("latch-esp32") is None:
        pytest.skip("a Docker engine runs here: the build itself is what would run")
    assert p.returncode == 2 and ("Docker is not installed" in p.stderr or "engine is not running" in p.stderr)
    assert "Traceback" not in p.stderr


def test_firmware_build_runs_the_idf_container_and_checks_its_result(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(_fake_docker(tmp_path, engine=True)))
    root = tmp_path / "repo"
    monkeypatch.setattr(idfbuild, "ROOT", root)
    monkeypatch.setattr(idfbuild, "OUT", root / "build" / "firmware")
    p = idfbuild.plan("latch-esp32", root=Path(idfbuild.ROOT))
    assert p.command[:2] == ["docker", "run"] and idfbuild.IDF_IMAGE in p.command
    script = p.command[-1]
    assert "--branch v1.28.0" in script and "BOARD_DIR=/project/boards/micropython/HEARTH_LATCH_ESP32" in script
    # the fake container "builds" an image for the wrong chip: refused, nothing copied
    from host_tools.deploy.esp import CHIP_IDS

    p.built.parent.mkdir(parents=True)
    head = bytearray(64)
    head[0] = 0xE9
    head[12:14] = CHIP_IDS["esp32s3"].to_bytes(2, "little")
    p.built.write_bytes(bytes(head))
    monkeypatch.setattr(idfbuild, "plan", lambda *a, **k: p)
    with pytest.raises(idfbuild.FirmwareBuildError, match="built image is wrong"):
        idfbuild.build("latch-esp32", log=lambda s: None)
    assert (tmp_path / "bin" / "ran").read_text().startswith("run --rm -v")
    head[12:14] = CHIP_IDS["esp32"].to_bytes(2, "little")
    p.built.write_bytes(bytes(head))
    out = idfbuild.build("latch-esp32", log=lambda s: None)
    assert out == root / "build" / "firmware" / "latch-esp32.bin" and out.read_bytes() == bytes(head)
