"""The pressure-advance calibration pattern and its analysis (host_tools/slicer/calibrate.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from host_tools.slicer import calibrate, job
from host_tools.slicer.bead import time_at_fraction
from host_tools.slicer.planner import trapezoid

DARK = job.Material.preset("dark")


def test_rows_of_k() -> None:
    assert calibrate.ks_of(0.0, 0.6, 0.1) == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert calibrate.ks_of(0.1, 0.35, 0.1) == pytest.approx([0.1, 0.2, 0.3])
    for bad in ((0.5, 0.4, 0.1), (0.0, 1.5, 0.1), (0.0, 0.6, 0.0), (0.0, 0.1, 0.1), (0.0, 1.0, 0.01)):
        with pytest.raises(ValueError):
            calibrate.ks_of(*bad)


def test_pattern_plans_with_an_m900_before_each_row(tmp_path: Path) -> None:
    ks = calibrate.ks_of(0.0, 0.4, 0.2)
    f = tmp_path / "pa.gcode"
    f.write_text(calibrate.pattern(ks))
    plan = calibrate.build(f, ks, DARK)
    assert plan.ok
    tool = plan.tool_lines()
    m900 = [i for i, t in enumerate(tool) if t.startswith("M900")]
    assert [tool[i] for i in m900] == ["M900 K0", "M900 K0.2", "M900 K0.4"]
    # each row: its three extruding lines (slow, fast, slow) between its M900 and the next
    for a, b in zip(m900, [*m900[1:], len(tool)], strict=True):
        assert sum(1 for t in tool[a:b] if t.startswith("G1 E")) == 3
    assert sum(1 for s in plan.steps if s.kind == "move") == 3 * len(ks)
    # the pattern file is not this plan's when the rows do not match
    with pytest.raises(ValueError):
        calibrate.build(f, ks[:2], DARK)


def test_analysis_picks_the_row_that_laid_the_bead_right(tmp_path: Path) -> None:
    # a synthetic bead laid in step with the path, each row scaled by 1 + |K - 0.3| (the
    # error grows away from K = 0.3, evenly both ways): the pick is 0.3
    ks = calibrate.ks_of(0.0, 0.6, 0.1)
    f = tmp_path / "pa.gcode"
    f.write_text(calibrate.pattern(ks))
    plan = calibrate.build(f, ks, DARK)
    hist: list[dict] = []
    samples = [(0.0, 0.0)]
    t, acc, row = 0.0, plan.profile.accel_mm_s2, -1
    for st in plan.steps:
        if st.tool and st.tool.startswith("M900"):
            row += 1
        if st.motion and st.motion.startswith("M204"):
            acc = float(st.motion.split("S")[1])
        if st.kind in ("move", "travel"):
            _, _, ta = trapezoid(st.path_mm, float(str(st.motion).split("F")[-1]) / 60, acc)
            seg = {"t0": t, "duration": st.duration_s, "accel_s": ta, "line": st.motion}
            hist.append(seg)
            if st.kind == "move":
                dep0 = samples[-1][1]
                vol = st.e * plan.profile.e_mm3_per_mm * (1 + abs(ks[row] - 0.3))
                samples += [(time_at_fraction(seg, j / 50), dep0 + vol * j / 50) for j in range(51)]
        t += st.duration_s
    res = calibrate.analyse(plan, ks, hist, samples)
    assert res.best == pytest.approx(0.3, abs=1e-6)
    assert res.errors[3] == pytest.approx(0.0, abs=1e-6) and res.errors[0] == pytest.approx(0.3, rel=1e-3)
    assert res.within[3] == 1.0 and res.within[0] == 0.0
    d = res.as_dict()
    assert d["k_s"] == 0.3 and len(d["rows"]) == 7
    # a gantry record of another job: refused, not guessed
    with pytest.raises(ValueError):
        calibrate.analyse(plan, ks, hist[:-1], samples)
