"""First flash pipeline: copy the firmware sources and the board file with mpremote.

It is correct but slow (mpremote moves ~2 KB/s on a real ESP32 at 115200 baud); the
compiled, incremental pipeline replaces it. Kept as the reference that benchmarks
compare against.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from host_tools.boards import ROOT, load_board

FIRMWARE = ROOT / "firmware"


class FlashError(Exception):
    pass


def mpremote_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("mpremote")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "mpremote"]


def stage(board: str, dest: Path) -> Path:
    """What goes on the board's root: boot.py, main.py, hearth/, board.json, manifest.json.

    Sources, not .mpy; the manifest (target "source") lets boot.py see a complete
    firmware. `mpremote cp` copies in sorted order, so manifest.json lands last.
    """
    from host_tools.deploy.build import Manifest, firmware_version, sha256

    b = load_board(board)
    shutil.copy2(FIRMWARE / "boot.py", dest / "boot.py")
    shutil.copy2(FIRMWARE / "main.py", dest / "main.py")
    shutil.copytree(FIRMWARE / "hearth", dest / "hearth", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (dest / "board.json").write_text(__import__("json").dumps(b, indent=1) + "\n")
    files = {}
    for f in sorted(dest.rglob("*")):
        if f.is_file():
            data = f.read_bytes()
            files[f.relative_to(dest).as_posix()] = (len(data), sha256(data))
    man = Manifest(board=board, target="source", fw=firmware_version(), mpy="source", files=files)
    (dest / "manifest.json").write_bytes(man.to_json())
    return dest


def flash(board: str, port: str, timeout: float = 300) -> float:
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        root = stage(board, Path(tmp))
        args = [*mpremote_cmd(), "connect", port]
        for item in sorted(root.iterdir()):
            if item.is_dir():
                args += ["fs", "cp", "-r", str(item), ":", "+"]
            else:
                args += ["fs", "cp", str(item), ":", "+"]
        args = args[:-1]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise FlashError(
                f"mpremote could not copy the firmware to {port}:\n{proc.stdout.strip()}\n{proc.stderr.strip()}\n"
                "Check the port with `hearth ports`, that nothing else holds it, and retry."
            )
    restart(port)
    return time.monotonic() - t0


def restart(port: str) -> None:
    """Soft-reset from the friendly REPL, so boot.py and then main.py run, as after
    power-on; returns once the board printed its soft-reboot banner."""
    from host_tools.transport.replstate import confirm_reset
    from host_tools.transport.serialport import PortError, open_port

    try:
        s = open_port(port, timeout=0.2)
    except PortError as e:
        raise FlashError(f"cannot reopen {port} to restart the board: {e}") from e
    try:
        s.write(b"\r\x03\x03")
        time.sleep(0.1)
        s.write(b"\r\x02")
        time.sleep(0.1)
        s.reset_input_buffer()
        confirm_reset(s, port)
    except PortError as e:
        raise FlashError(str(e)) from e
    finally:
        s.close()
