"""Many boards at once: `hearth flash --port P1 --port P2 ...` or `--all`.

Each board is flashed in its own thread with its own serial port (the work is I/O:
the GIL is not the limit), one progress line per board, and one failing board never
stops the others. The caller turns the failures into an exit code.

`--all` finds boards in two places: USB serial ports with an ESP32 USB bridge
(CP210x, CH34x, FTDI, Espressif native USB), and virtual boards that `hearth sim`
registered in the runtime folder (record_sim()).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host_tools.deploy.sync import FlashResult, Resolver, flash_build

# USB vendor ids of the bridges ESP32 dev boards carry.
ESP_VIDS = {0x10C4: "CP210x", 0x1A86: "CH34x", 0x0403: "FTDI", 0x303A: "Espressif USB"}


def runtime_dir() -> Path:
    d = os.environ.get("HEARTH_RUNTIME") or os.path.join(tempfile.gettempdir(), f"hearth-{os.getuid()}")
    p = Path(d) / "sims"
    p.mkdir(parents=True, exist_ok=True)
    return p


def record_sim(board: str, console: str, state: str, bench: str | None = None) -> Path:
    """Called by `hearth sim` once its console exists: lets `--all` find it."""
    f = runtime_dir() / f"{os.getpid()}.json"
    f.write_text(json.dumps({"pid": os.getpid(), "board": board, "console": console, "state": state,
                             "bench": bench}))
    return f


def pid_alive(pid: int) -> bool:
    """Is process `pid` still there (a running `hearth sim` registration)?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Found:
    port: str
    board: str | None
    kind: str  # "virtual" or the USB bridge name


def discover() -> list[Found]:
    out: list[Found] = []
    for f in sorted(runtime_dir().glob("*.json")):
        try:
            d = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if not pid_alive(int(d.get("pid", 0))) or not os.path.exists(d.get("console", "")):
            try:
                f.unlink()
            except OSError:
                pass
            continue
        out.append(Found(d["console"], d.get("board"), "virtual"))
    try:
        from serial.tools import list_ports

        for p in list_ports.comports():
            if p.vid in ESP_VIDS:
                out.append(Found(p.device, None, ESP_VIDS[p.vid]))
    except ImportError:  # pragma: no cover
        pass
    return out


@dataclass
class Job:
    port: str
    build_dir: Path | Resolver


def flash_many(jobs: list[Job], progress: Callable[[int, str, int, int], None] | None = None,
               flasher: Callable[..., FlashResult] = flash_build, **kw: Any) -> list[FlashResult]:
    """Flash every job in parallel (with `flasher`: flash_build, or flashfw's ROMFS or
    frozen flash); results in the order of `jobs`."""
    results: list[FlashResult | None] = [None] * len(jobs)

    def work(i: int, job: Job) -> None:
        def prog(phase: str, done: int, total: int) -> None:
            if progress:
                progress(i, phase, done, total)

        try:
            results[i] = flasher(job.build_dir, job.port, progress=prog, **kw)
        except Exception as e:  # noqa: BLE001 - one board's bug must not stop the others
            results[i] = FlashResult(job.port, "?", "?", ok=False, message=f"internal error: {e!r}", code=1)
        if progress:
            progress(i, "done" if results[i] and results[i].ok else "failed", 0, 0)  # type: ignore[union-attr]

    threads = [threading.Thread(target=work, args=(i, j), daemon=True) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r for r in results if r is not None]


def exit_code(results: list[FlashResult]) -> int:
    """One board: its own code (0, 1 check failed, 2 connection). Several: how many failed, at most 125."""
    if len(results) == 1:
        return 0 if results[0].ok else (results[0].code or 1)
    return min(125, sum(1 for r in results if not r.ok))


class SimRecorder:
    """Stands in for `hearth sim`'s stdout: passes the endpoint lines through and, once
    the console line is out, records the board (record_sim) so `--all` finds it.
    The record is removed when the sim exits (or found stale by its dead pid)."""

    def __init__(self, vb: Any, stream: Any) -> None:
        self.vb, self.stream = vb, stream
        self.path: Path | None = None

    def write(self, s: str) -> int:
        n = self.stream.write(s)
        if self.path is None and self.vb.console_path:
            self.path = record_sim(self.vb.board_name, self.vb.console_path, str(self.vb.state),
                                   self.vb.bench_path)
            import atexit

            atexit.register(self._remove)
        return n

    def flush(self) -> None:
        self.stream.flush()

    def _remove(self) -> None:
        if self.path is not None:
            try:
                self.path.unlink()
            except OSError:
                pass
