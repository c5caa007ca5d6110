"""Firmware run from flash on virtual boards at the stock chip heap: a ROMFS image in the
board's romfs partition, and the firmware frozen into the interpreter. Only boot.py,
main.py, board.json, config.json and the manifest stay on the filesystem."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

os.environ["MAVLINK20"] = "1"  # before pymavlink is imported

import pytest  # noqa: E402

from host_tools.deploy import romfs  # noqa: E402
from host_tools.deploy.build import FIRMWARE, MANIFEST, ROMFS_IMAGE, Manifest, sha256  # noqa: E402
from host_tools.deploy.flashfw import build_frozen, build_romfs, flash_frozen, flash_romfs  # noqa: E402
from host_tools.protocol import BoardClient, ProtocolTimeout  # noqa: E402
from host_tools.transport.rawrepl import RawRepl  # noqa: E402
from host_tools.transport.serialport import open_port  # noqa: E402
from tests.e2e.conftest import bench  # noqa: E402

HEARTH = str(Path(sys.executable).with_name("hearth"))
ON_FS = ["board.json", "boot.py", "config.json", "main.py", "manifest.json"]
WITH_ROM = sorted([*ON_FS, "rom"])  # /rom, the ROMFS mount point, lists in / as on a chip


@pytest.fixture(autouse=True)
def stock_heap(monkeypatch: pytest.MonkeyPatch) -> None:
    # These boards must run in the heap a stock chip gives, whatever the environment says.
    monkeypatch.delenv("HEARTH_SIM_HEAP", raising=False)


@pytest.fixture(scope="module")
def latch_romfs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    return build_romfs("latch-esp32", "sim", tmp_path_factory.mktemp("r") / "latch")


def _changed_firmware(tmp: Path) -> Path:
    src = tmp / "fw"
    shutil.copytree(FIRMWARE, src, ignore=shutil.ignore_patterns("__pycache__"))
    pid = src / "hearth" / "control" / "pid.py"
    pid.write_text(pid.read_text() + "\nCHANGED = 1\n")
    return src


def _board(port: str) -> dict[str, Any]:
    """What the board says after boot: the boot check's verdict, app started, files on /,
    where hearth comes from; then a soft reset starts it again."""
    with RawRepl.open(port) as r:
        r.enter()
        out = r.run(
            "import sys,os,json\n"
            "sb=sys.modules.get('hearth.safe_boot') or sys.modules.get('hearth')\n"
            "h=sys.modules.get('hearth')\n"
            "print(json.dumps({'problem':getattr(sb,'boot_problem',getattr(sb,'problem','no safe_boot')),'app':'hearth.app' in sys.modules,"
            "'files':sorted(os.listdir('/')),'from':getattr(h,'__file__',None)}))\n"
        ).decode()
        r.reset()  # the app (if any) runs again
    return json.loads(out.strip().splitlines()[-1])


def _hello(port: str, tries: int = 25) -> dict[str, Any]:
    c = BoardClient(open_port(port))
    try:
        return c.request("hello", None, timeout=0.5, retries=tries)
    finally:
        c.close()


def _latch_cycle(vb: Any) -> None:
    from host_tools.flightcontroller import FlightController

    with FlightController(vb.mavlink_path) as fc:
        assert fc.wait_heartbeat(timeout=10) is not None
        time.sleep(1.2)  # the latch must see our heartbeat before it arms
        assert fc.release_cycle()["result"] == "ACCEPTED"
        assert fc.grab_cycle()["result"] == "ACCEPTED"
    c = BoardClient(open_port(vb.console_path))
    try:
        st = c.request("status", None, timeout=2.0, retries=2)
    finally:
        c.close()
    assert st["state"] in ("READY", "SAFE", "ACTIVE"), st


def test_romfs_board_runs_at_the_stock_heap_and_reflashes_while_the_app_runs(make_board, latch_romfs,
                                                                             tmp_path: Path) -> None:
    out, man = latch_romfs
    vb = make_board("latch-esp32", "plain")
    assert vb.heap is None  # the stock ESP32 split heap: 56 KiB + one 56 KiB growth
    p = subprocess.run([HEARTH, "flash", "--romfs", "--board", "latch-esp32", "--port", vb.console_path,
                        "--build-dir", str(out), "--json"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr + p.stdout
    d = json.loads(p.stdout)["boards"][0]
    assert d["ok"] and d["hello"]["build"] == man.build and d["sent_files"][0] == ROMFS_IMAGE
    b = _board(vb.console_path)
    assert b["problem"] is None and b["app"] and b["files"] == WITH_ROM and b["from"].startswith("/rom/")
    _latch_cycle(vb)

    # the same build again: nothing moves
    again = flash_romfs(out, vb.console_path)
    assert again.ok and again.unchanged and again.sent_files == []

    # a new build while the app runs: the app is stopped, /rom rewritten, the app back on it
    out2, man2 = build_romfs("latch-esp32", "sim", tmp_path / "b2", src=_changed_firmware(tmp_path))
    assert man2.romfs != man.romfs
    assert _hello(vb.console_path)["build"] == man.build
    res = flash_romfs(out2, vb.console_path)
    assert res.ok, res.message
    assert res.sent_files[0] == ROMFS_IMAGE and res.hello["build"] == man2.build
    b = _board(vb.console_path)
    assert b["problem"] is None and b["app"] and b["files"] == WITH_ROM


def test_a_half_written_romfs_boots_safe_and_says_incomplete(make_board, latch_romfs, tmp_path: Path) -> None:
    out, man = latch_romfs
    vb = make_board("latch-esp32", "plain")
    assert flash_romfs(out, vb.console_path).ok
    out2, _ = build_romfs("latch-esp32", "sim", tmp_path / "b2", src=_changed_firmware(tmp_path))
    cut = threading.Event()

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "romfs" and total and done >= total // 2 and not cut.is_set():
            cut.set()
            vb.power_off()

    res = flash_romfs(out2, vb.console_path, progress=progress, timeout=2.0)
    assert cut.is_set() and not res.ok and res.code == 1
    assert "run `hearth flash" in res.message, res.message

    ser = open_port(vb.console_path, timeout=0.1)
    try:
        vb.power_on()
        seen = b""
        end = time.monotonic() + 5
        while time.monotonic() < end and b"incomplete firmware" not in seen:
            seen += ser.read(4096)
    finally:
        ser.close()
    assert b"incomplete firmware" in seen, seen[-500:]
    with pytest.raises(ProtocolTimeout):
        _hello(vb.console_path, tries=3)  # the app did not start
    b = _board(vb.console_path)
    assert b["problem"] and not b["app"] and "manifest.json" not in b["files"]
    st = bench(vb).call(op="state")["state"]
    assert st["outputs"].get("servo", 0) == 0 and st["outputs"].get("solenoid", 0) == 0

    res2 = flash_romfs(out2, vb.console_path)
    assert res2.ok, res2.message
    assert _board(vb.console_path)["problem"] is None


def _bad_build(src: Path, dest: Path, image: bytes) -> Path:
    """A ROMFS build whose manifest matches `image` (so only the image check can refuse it)."""
    shutil.copytree(src, dest)
    man = Manifest.from_json((src / MANIFEST).read_bytes())
    man.romfs = (len(image), sha256(image))
    (dest / ROMFS_IMAGE).write_bytes(image)
    (dest / MANIFEST).write_bytes(man.to_json())
    return dest


def test_bad_romfs_images_are_refused_and_change_nothing(make_board, latch_romfs, tmp_path: Path) -> None:
    out, man = latch_romfs
    vb = make_board("latch-esp32", "plain")
    assert flash_romfs(out, vb.console_path).ok
    img = (out / ROMFS_IMAGE).read_bytes()
    big = romfs.make_image({"hearth/big.bin": os.urandom(300 * 1024)})
    cases = {
        "truncated": (img[: len(img) // 2], "truncated"),
        "not romfs": (b"\x7fELF" + bytes(5000), "not a ROMFS image"),
        "too big": (big, "does not fit the board's romfs partition (262144 bytes)"),
    }
    for name, (data, msg) in cases.items():
        bad = _bad_build(out, tmp_path / name.replace(" ", "-"), data)
        res = flash_romfs(bad, vb.console_path)
        assert not res.ok and res.code == 2 and msg in res.message, (name, res.message)
        h = _hello(vb.console_path)  # the app runs again, on the image it had
        assert h["build"] == man.build, name
    with RawRepl.open(vb.console_path) as r:
        r.enter()
        info = romfs.probe(r)
        r.reset()
    assert (info.image_size, info.image_sha) == man.romfs


def test_frozen_board_runs_with_only_its_board_files(make_board, latch_romfs, tmp_path: Path) -> None:
    out, man = build_frozen("latch-esp32", "sim", tmp_path / "frozen")
    assert sorted([*man.files, *man.keep]) == ["board.json", "boot.py", "config.json", "main.py"]
    vb = make_board("latch-esp32", "plain", frozen=True)
    assert vb.heap is None
    # an old .mpy firmware's folder on the filesystem would hide the frozen one: flashing removes it
    with RawRepl.open(vb.console_path) as r:
        r.enter()
        r.run("import os\nos.mkdir('/hearth')\nf=open('/hearth/stale.mpy','wb');f.write(b'x');f.close()")
    res = flash_frozen(out, vb.console_path)
    assert res.ok, res.message
    assert res.hello["build"] == man.build and res.hello["problems"] == []
    b = _board(vb.console_path)
    assert b["problem"] is None and b["app"] and b["files"] == ON_FS and b["from"] == "hearth/__init__.py"
    _latch_cycle(vb)
    # a ROMFS firmware could never run here (frozen modules come before /rom): refused, nothing changed
    res = flash_romfs(latch_romfs[0], vb.console_path)
    assert not res.ok and res.code == 2 and "frozen in" in res.message, res.message
    assert _hello(vb.console_path)["build"] == man.build


def test_frozen_flash_needs_a_frozen_firmware(make_board, tmp_path: Path) -> None:
    out, _ = build_frozen("printer-s3", "sim", tmp_path / "frozen")
    vb = make_board("printer-s3", "plain")  # the plain interpreter: nothing frozen in
    before = _board(vb.console_path)["files"]
    res = flash_frozen(out, vb.console_path)
    assert not res.ok and res.code == 2 and "no hearth firmware frozen in" in res.message, res.message
    assert _board(vb.console_path)["files"] == before
