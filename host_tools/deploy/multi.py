"""Many boards at once: `hearth flash --port P1 --port P2 ...` or `--all`.

Each board is flashed in its own thread with its own serial port (the work is I/O:
the GIL is not the limit), one progress line per board, and one failing board never
stops the others. The caller turns the failures into an exit code.

`--all` takes every board host_tools/ports.py finds: USB serial ports with an ESP32 USB
bridge, and the virtual boards `hearth sim` recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host_tools.boards import load_board
from host_tools.deploy.build import resolve_target
from host_tools.deploy.sync import FlashResult, Resolver, flash_build


def target_for_platform(platform: str, chip_target: str) -> str:
    # The unix port says "linux" (or darwin): a virtual board, bytecode + host arch.
    return chip_target if platform in ("esp32",) else "sim"


class Builds:
    """The builds of one flash of many boards: one per (board, target), made when the
    first board that needs it says what it is (`target` auto: its sys.platform)."""

    def __init__(self, target: str, fmt: str) -> None:
        self.target, self.fmt = target, fmt
        self._made: dict[tuple[str, str], Path] = {}
        self._lock = threading.Lock()

    def resolver(self, name: str) -> Resolver:
        """What flash_build asks for board `name`'s build (BoardError: no such board)."""
        from host_tools.deploy.flashfw import build_format

        b = load_board(name)

        def resolve(platform: str) -> Path:
            tgt = target_for_platform(platform, str(b["chip"])) if self.target == "auto" else resolve_target(b, self.target)
            with self._lock:  # boards flash in threads: one build each, however many ask
                if (name, tgt) not in self._made:
                    self._made[(name, tgt)], _ = build_format(name, tgt, self.fmt)
                return self._made[(name, tgt)]

        return resolve


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
