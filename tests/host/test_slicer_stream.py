"""Lock-step streaming against the virtual gantry (a real pty) and a toolhead double that
keeps time as the synced move is specified (E over exactly D ms, queue of 8)."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from host_tools.protocol import BoardError
from host_tools.sim.gantry import VirtualGantry
from host_tools.slicer import job
from host_tools.slicer.planner import Profile
from host_tools.slicer.stream import MotionPort, MotionStalled, stream_plan
from host_tools.transport.serialport import open_port

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "slicer"
SPEED = 5.0


class ToolheadDouble:
    """The toolhead's job protocol, as docs/protocol.md gives it, timed in world seconds."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.lines: list[tuple[int, str, float, float, float]] = []  # n, line, arrived, start, end
        self.busy_until = 0.0

    def hello(self) -> dict[str, Any]:
        return {"state": "READY"}

    def request(self, cmd: str, args: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:
        now = self.clock()
        if cmd in ("job_start", "job_end", "haccp", "job_hold"):
            return {}
        if cmd == "gcode":
            assert args is not None
            done = sum(1 for ln in self.lines if ln[4] <= now)
            if len(self.lines) - done >= 8:
                raise BoardError("BUSY", "queue full")
            assert args["n"] == len(self.lines) + 1
            m = re.search(r"D(\d+)", args["line"])
            dur = int(m.group(1)) / 1000 if m else 0.0
            start = max(now, self.busy_until)
            if args["line"].endswith(" C1") and now - self.busy_until <= 0.1:
                start = self.busy_until  # chained: where its move before ended
            self.busy_until = start + dur
            self.lines.append((args["n"], args["line"], now, start, start + dur))
            return {"n": args["n"], "queued": sum(1 for ln in self.lines if ln[3] > now)}
        if cmd == "job":
            done = sum(1 for ln in self.lines if ln[4] <= now)
            return {"state": "ACTIVE", "done": done, "temp": 32.0, "target": 32.0, "danger_zone_s": 0}
        raise AssertionError(cmd)


@pytest.fixture
def rig():
    gantry = VirtualGantry(Profile(), speed=SPEED)
    gantry.start()
    ser = open_port(gantry.path, timeout=0.02)
    yield gantry, MotionPort(ser), ToolheadDouble(gantry.clock)
    ser.close()
    gantry.stop()


def test_toolhead_moves_start_with_their_gantry_moves(rig: Any) -> None:
    gantry, port, th = rig
    plan = job.build(DATA / "prusaslicer_4x4x2.gcode", job.Material.preset("dark"))
    res = stream_plan(th, plan, port, every=60)  # type: ignore[arg-type]
    assert res["done"] == len(plan.tool_lines()) and res["motion_lines"] == sum(1 for s in plan.steps if s.motion)
    segs = [s for s in gantry.history() if s["line"].startswith("G1")]
    assert [ln[1].removesuffix(" C1") for ln in th.lines] == plan.tool_lines()
    # moves the gantry ran back to back go to the toolhead chained (C1), and only synced ones
    chained = [ln[1] for ln in th.lines if ln[1].endswith(" C1")]
    assert len(chained) > 100 and all(" D" in ln for ln in chained), len(chained)
    # the toolhead's line for each extruding move, by its place among the toolhead lines
    pairs, k = [], 0
    for st in plan.steps:
        if st.tool:
            if st.kind == "move":
                pairs.append((st, th.lines[k]))
            k += 1
    assert len(pairs) == 240
    by_line: dict[str, list[dict[str, Any]]] = {}
    for s in segs:
        by_line.setdefault(s["line"], []).append(s)
    for st, (_n, _line, _arr, start, end) in pairs:
        seg = by_line[st.motion].pop(0)  # type: ignore[index]
        lag = start - seg["t0"]
        # never before its gantry move, and as long as it (the lag itself, host and link
        # latency, is measured by bench/print_quality.py: no wall-clock asserts here)
        assert lag >= -1e-3
        assert end - start == pytest.approx(seg["duration"], abs=1.5e-3)
    assert res["max_lag_lines"] <= 2


def test_silent_motion_port_stops_the_toolhead_within_one_move(rig: Any) -> None:
    gantry, port, th = rig
    plan = job.build(DATA / "cura_hex2.gcode", job.Material.preset("dark"))

    def cut() -> None:  # after the third extruding move has started
        while sum(1 for s in gantry.history() if "X" in s["line"]) < 4:
            time.sleep(0.005)
        gantry.stop_answering()

    threading.Thread(target=cut, daemon=True).start()
    with pytest.raises(MotionStalled) as e:
        stream_plan(th, plan, port, every=60)  # type: ignore[arg-type]
    started = sum(1 for s in gantry.history() if "X" in s["line"])
    synced = [ln for ln in th.lines if " D" in ln[1]]
    # every toolhead move has its gantry move (the travel before the first has none)
    assert len(synced) <= started - 1
    assert e.value.tool_line == len(th.lines)
    assert "stopped answering" in str(e.value)
