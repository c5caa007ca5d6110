"""Slicer files on the host: reading, policy, temperatures, planning (issue 14)."""

from __future__ import annotations

import ast
import io
import math
import os
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from host_tools.slicer import cli_glue, gcodefile, job, planner, policy
from host_tools.slicer.gcodefile import FileRefused
from host_tools.slicer.planner import Profile

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "slicer"
FILES = sorted(DATA.glob("*.gcode"))
DARK = job.Material.preset("dark")


# ---- trapezoids, by hand ------------------------------------------------------------------
def test_trapezoid_cruises_when_long_enough() -> None:
    # L=10 mm, v=10 mm/s, a=100 mm/s2: 0.1 s up (0.5 mm), 0.9 s cruise (9 mm), 0.1 s down
    t, peak, ta = planner.trapezoid(10.0, 10.0, 100.0)
    assert t == pytest.approx(1.1)
    assert peak == 10.0 and ta == pytest.approx(0.1)


def test_trapezoid_is_a_triangle_when_short() -> None:
    # L=0.5 < v^2/a=1: up for 0.0707 s to sqrt(50)=7.07 mm/s, down as long
    t, peak, ta = planner.trapezoid(0.5, 10.0, 100.0)
    assert t == pytest.approx(2 * math.sqrt(0.005))
    assert peak == pytest.approx(math.sqrt(50.0))
    assert ta == pytest.approx(t / 2)


def test_move_slowed_for_the_extruder_and_its_synced_line() -> None:
    # 10 mm extruding 20 mm of E at 10 mm/s: E would run at 20 mm/s; the toolhead allows
    # 5 mm/s and 50 mm/s2, so the gantry goes 2.5 mm/s at 25 mm/s2:
    # t = 10/2.5 + 2.5/25 = 4.1 s; E cruise = 20 / (4.1 - 0.1) = 5 mm/s = F300
    p = Profile(e_max_rate_mm_s=5.0, e_accel_mm_s2=50.0)
    t = planner.plan_move((6.0, 8.0, 0.0), 20.0, 10.0, p)
    assert t.slowed and t.feed_mm_s == pytest.approx(2.5) and t.accel_mm_s2 == pytest.approx(25.0)
    assert t.duration_s == pytest.approx(4.1)
    line, d_ms = planner.synced_line(20.0, t)
    assert (line, d_ms) == ("G1 E20 F300 D4100", 4100)


def test_move_not_slowed_when_the_extruder_keeps_up() -> None:
    # 30 mm at 60 mm/s extruding 1 mm: E 2 mm/s, accel 500*1/30 = 16.7 mm/s2: both within
    t = planner.plan_move((30.0, 0.0, 0.0), 1.0, 60.0, Profile(e_accel_mm_s2=50.0))
    assert not t.slowed
    assert t.duration_s == pytest.approx(30 / 60 + 60 / 500)
    line, d_ms = planner.synced_line(1.0, t)
    assert d_ms == 620
    rate = float(re.search(r"F([\d.]+)", line).group(1)) / 60  # type: ignore[union-attr]
    assert rate == pytest.approx(1.0 / (0.62 - 0.12), rel=1e-4) and rate <= Profile().e_max_rate_mm_s


def test_synced_rate_never_rounds_above_the_limit() -> None:
    p = Profile()
    for e, length in ((0.333333, 0.1), (7.77777, 1.0), (51.71517, 31.8947)):
        t = planner.plan_move((length, 0.0, 0.0), e, 100.0, p)
        line, _ = planner.synced_line(e, t)
        rate = float(re.search(r"F([\d.]+)", line).group(1)) / 60  # type: ignore[union-attr]
        assert rate <= p.e_max_rate_mm_s + 1e-9


def test_z_limits_bind_a_z_move() -> None:
    # 5 mm of Z at F3600 (60 mm/s): Z allows 10 mm/s and 100 mm/s2: t = 5/10 + 10/100
    t = planner.plan_move((0.0, 0.0, 5.0), 0.0, 60.0, Profile())
    assert t.duration_s == pytest.approx(0.6)


# ---- the real slicer files: plans committed beside them -----------------------------------
@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_committed_plan_matches(path: Path) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        rc = cli_glue.check(str(path), "dark", "preset", None, False)
    assert rc == 0
    want = path.with_suffix(".plan.txt").read_text()
    assert out.getvalue() == want, f"regenerate with: hearth print --check {path} > {path.with_suffix('.plan.txt')}"


def test_three_files_from_three_programs() -> None:
    who = {gcodefile.slicer_of(gcodefile.read(f)).split()[0] for f in FILES}
    assert {"Cura_SteamEngine", "PrusaSlicer", "PancakePainter"} <= who


def test_prusaslicer_temperature_replaced_or_refused() -> None:
    f = DATA / "prusaslicer_4x4x2.gcode"
    plan = job.build(f, DARK, "preset")
    assert plan.ok
    assert [c["line"] for c in plan.changed] == [39]
    tool = plan.tool_lines()
    assert "M104 S32" in tool and not any("S212" in t for t in tool)
    refused = job.build(f, DARK, "refuse")
    assert [r["line"] for r in refused.refused] == [39]
    assert "above dark's maximum 34" in refused.refused[0]["reason"]


def test_no_toolhead_line_heats_above_the_material() -> None:
    for f in FILES:
        for m in job.MATERIALS:
            mat = job.Material.preset(m)
            for line in job.build(f, mat, "preset").tool_lines():
                mm = re.match(r"M10[49] S([\d.]+)", line)
                if mm:
                    assert float(mm.group(1)) <= mat.max_c


def test_cura_file_is_slowed_and_keeps_its_e() -> None:
    plan = job.build(DATA / "cura_hex2.gcode", DARK)
    moves = [s for s in plan.steps if s.kind == "move"]
    # each side is 51.7 mm of E, over the toolhead's 50 mm per move: two moves per side
    assert len(moves) == 16 and all(s.slowed for s in moves)
    assert all(abs(s.e) <= Profile().e_max_move_mm for s in moves)
    assert sum(s.e for s in moves) == pytest.approx(413.71643, abs=1e-4)
    assert plan.tool_lines()[0] == "M83"
    assert any(i["line"] == "M109 S32" for i in plan.inserted)


def test_pancakepainter_pump_and_workspace() -> None:
    plan = job.build(DATA / "pancakepainter_heart.gcode", DARK)
    assert plan.ok and plan.e_mm == 0
    assert plan.counts[policy.ACT]["M106"] == 9
    assert list(plan.notes) == ["W1: " + policy.POLICY["W1"][1]]


# ---- temperatures ---------------------------------------------------------------------------
def _plan_text(tmp_path: Path, text: str, **kw: object) -> job.Plan:
    f = tmp_path / "t.gcode"
    f.write_text(text)
    return job.build(f, kw.pop("material", DARK), **kw)  # type: ignore[arg-type]


def test_temperature_within_limits_obeyed(tmp_path: Path) -> None:
    plan = _plan_text(tmp_path, "M109 S33\nG1 X10 E1 F600\nM104 S0\n")
    assert plan.tool_lines()[:2] == ["M83", "M109 S33"]
    assert plan.tool_lines()[-1] == "M104 S0"
    assert not plan.changed and not plan.inserted


def test_temperature_below_minimum_replaced(tmp_path: Path) -> None:
    plan = _plan_text(tmp_path, "M104 S20\nG1 X10 E1 F600\n")
    assert plan.changed[0]["line"] == 1 and "below dark's minimum 30" in plan.changed[0]["why"]


def test_second_heater_needs_the_board_to_declare_it(tmp_path: Path) -> None:
    text = "M104 T1 S33\nT1\nG1 X1 E1\n"
    plan = _plan_text(tmp_path, text)
    assert [r["line"] for r in plan.refused] == [1, 2]
    two = _plan_text(tmp_path, text, heaters=2)
    assert two.ok and "M104 S33 T1" in two.tool_lines() and "T1" in two.tool_lines()


def test_materials_equal_the_boards_presets() -> None:
    src = (ROOT / "firmware" / "hearth" / "roles" / "printer_cfg.py").read_text()
    node = next(n for n in ast.walk(ast.parse(src))
                if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "_PRESETS" for t in n.targets))
    assert ast.literal_eval(node.value) == job.MATERIALS


# ---- bad input ---------------------------------------------------------------------------------
def _copy(tmp_path: Path, name: str = "cura_hex2.gcode") -> tuple[Path, list[bytes]]:
    lines = (DATA / name).read_bytes().split(b"\n")
    return tmp_path / name, lines


def test_binary_junk_refused_with_its_line(tmp_path: Path) -> None:
    f, lines = _copy(tmp_path)
    lines.insert(29, b"G1 X1 \x00\xff\xfe\x03junk")
    f.write_bytes(b"\n".join(lines))
    with pytest.raises(FileRefused) as e:
        job.build(f, DARK)
    assert e.value.line == 30 and "not text" in e.value.reason


def test_invalid_utf8_refused(tmp_path: Path) -> None:
    f, lines = _copy(tmp_path)
    lines.insert(9, b"; caf\xe9 \xff")
    f.write_bytes(b"\n".join(lines))
    with pytest.raises(FileRefused) as e:
        job.build(f, DARK)
    assert e.value.line == 10


def test_truncated_last_line_refused(tmp_path: Path) -> None:
    f, _ = _copy(tmp_path)
    data = (DATA / "cura_hex2.gcode").read_bytes()
    cut = data[: data.index(b"G1 X-15.947 Y-38.5") + 12]  # mid-move, as a copy cut short
    f.write_bytes(cut)
    n = cut.count(b"\n") + 1
    with pytest.raises(FileRefused) as e:
        job.build(f, DARK)
    assert e.value.line == n and "cut short" in e.value.reason


def test_huge_file_refused_on_its_size(tmp_path: Path) -> None:
    f = tmp_path / "huge.gcode"
    with f.open("wb") as fh:  # sparse: 200 MB on paper, nothing read
        fh.write(b"G1 X1\n")
        os.truncate(fh.fileno(), 200 * 1000 * 1000)
    with pytest.raises(FileRefused) as e:
        job.build(f, DARK)
    assert e.value.line == 0 and "200 MB" in str(e.value)


@pytest.mark.parametrize("bad, why", [("M999", "not a command"), ("G2 X1 Y1 I1 J0", "arc"), ("M42 P4 S255", "pin"),
                                      ("Q5", "not a command"), ("hello world", "not a G-code command")])
def test_unknown_command_mid_file_refused_with_its_line(tmp_path: Path, bad: str, why: str) -> None:
    f, lines = _copy(tmp_path, "prusaslicer_4x4x2.gcode")
    lines.insert(99, bad.encode())
    f.write_bytes(b"\n".join(lines))
    try:
        plan = job.build(f, DARK)
        refused = [(r["line"], r["reason"]) for r in plan.refused]
    except FileRefused as e:
        refused = [(e.line, e.reason)]
    assert refused[0][0] == 100 and why in refused[0][1]


def test_check_exit_codes_and_line_in_output(tmp_path: Path) -> None:
    f, lines = _copy(tmp_path)
    lines.insert(40, b"M280 P0 S90")
    f.write_bytes(b"\n".join(lines))
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli_glue.check(str(f), "dark", "preset", None, False) == 1
    assert "line 41: 'M280 P0 S90'" in out.getvalue() and "nothing will heat or move" in out.getvalue()


def test_checksummed_lines(tmp_path: Path) -> None:
    good = "N1 G1 X5 E1 F600*" + str(gcodefile._checksum("N1 G1 X5 E1 F600"))
    plan = _plan_text(tmp_path, good + "\n")
    assert plan.ok and any(s.kind == "move" for s in plan.steps)
    with pytest.raises(FileRefused, match="checksum"):
        _plan_text(tmp_path, "N1 G1 X5 E1 F600*7\n")


# ---- policy and its documentation --------------------------------------------------------------
def test_every_policy_code_is_in_the_protocol_doc() -> None:
    doc = (ROOT / "docs" / "protocol.md").read_text()
    section = doc[doc.index("## Slicer files"):]
    missing = [c for c in policy.POLICY if f"| `{c}` |" not in section]
    assert not missing


def test_toolhead_jobs_stay_toolhead_jobs(tmp_path: Path) -> None:
    f = tmp_path / "job.gcode"
    f.write_text("M83\nM109 S32\nG1 E5 F120\nG4 P100\n")
    assert cli_glue.is_toolhead_job(str(f))
    assert not cli_glue.is_toolhead_job(str(DATA / "cura_hex2.gcode"))


def test_progress_line_has_layer_percent_and_eta(capsys: pytest.CaptureFixture[str]) -> None:
    plan = job.build(DATA / "prusaslicer_4x4x2.gcode", DARK)
    bar = cli_glue.SlicerProgress(plan, quiet=False)
    bar.update({"layer": 3, "layers": plan.layers, "planned_done_s": 31.05, "planned_s": 62.1, "percent": 50.0,
                "eta_s": 31.05, "temp": 32.1, "target": 32.0, "danger_zone_s": 12})
    err = capsys.readouterr().err
    assert "50% (31 s of 1 min 02 s planned), ETA 31 s; layer 3/10, nozzle 32.1 C -> 32.0 C, danger zone 12 s" in err
    res = {"job": 7, "done": 264, "lines": 264, "elapsed_s": 70.2, "planned_s": 62.1, "e_mm": 19.26,
           "volume_mm3": 46.3, "danger_zone_s": 80, "haccp": {"min_c": 31.6, "max_c": 32.4}}
    assert cli_glue.summary_text(res) == ("job 7: 264/264 toolhead lines done in 1 min 10 s (planned 1 min 02 s); "
                                          "material E 19.26 mm (46.3 mm3); nozzle 31.6..32.4 C; danger zone 80 s")


def test_the_boards_limits_replace_the_presets() -> None:
    cfg = {"dark_c": 31.0, "dark_min_c": 29.5, "dark_max_c": 33.0, "max_feed_mm_s": 2.0, "accel_mm_s2": 20,
           "milk_c": 99.0, "flag": True}
    mat, prof = cli_glue.limits_from_config(cfg, DARK, Profile())
    assert (mat.setpoint_c, mat.min_c, mat.max_c) == (31.0, 29.5, 33.0)
    # the board's acceleration caps the host's gentler E ramp (10 mm/s2), never raises it
    assert (prof.e_max_rate_mm_s, prof.e_accel_mm_s2) == (2.0, 10.0)
    assert cli_glue.limits_from_config({"accel_mm_s2": 4}, DARK, Profile())[1].e_accel_mm_s2 == 4.0
    plan = cli_glue.plan_file(str(DATA / "cura_hex2.gcode"), "dark", "preset", None, board_cfg=cfg)
    rates = [float(m.group(1)) / 60 for t in plan.tool_lines() if (m := re.search(r" F([\d.]+) D", t))]
    assert rates and max(rates) <= 2.0 + 1e-9
    assert "M109 S31" in plan.tool_lines()
    # nothing from the board: the presets and the profile stand
    assert cli_glue.limits_from_config({}, DARK, Profile()) == (DARK, Profile())


def test_print_refuses_a_bad_file_before_opening_any_port(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from host_tools.cli import main

    f, lines = _copy(tmp_path)
    lines.insert(29, b"G1 X1 \x00\xff junk")
    f.write_bytes(b"\n".join(lines))
    nowhere = str(tmp_path / "no-such-port")
    r = CliRunner().invoke(main, ["print", "-p", nowhere, str(f), "--motion", nowhere])
    assert r.exit_code == 1, r.output
    assert "line 30" in r.stderr and "nothing heated or moved" in r.stderr and "no such port" not in r.stderr
    # a good slicer file that moves the gantry, and no --motion: refused, the board untouched
    r = CliRunner().invoke(main, ["print", "-p", nowhere, str(DATA / "cura_hex2.gcode")])
    assert r.exit_code == 2 and "no --motion port" in r.stderr, r.stderr


# ---- retracts on a paste toolhead -------------------------------------------------------------
def _e_of(plan: job.Plan) -> list[float]:
    return [s.e for s in plan.steps if s.kind in ("move", "e") and s.e]


def test_long_retract_is_shortened_and_the_prime_matches(tmp_path: Path) -> None:
    # PrusaSlicer's shape: absolute E, a 6.5 mm retract, G92 E0, travel, a 6.5 mm prime
    text = ("M82\nM109 S32\nG1 X10 E1 F600\nG1 E-5.5 F2400\nG92 E0\nG1 X20 F3600\nG1 E6.5 F2400\n"
            "G1 X30 E7.5 F600\n")
    plan = _plan_text(tmp_path, text)
    assert _e_of(plan) == pytest.approx([1.0, -0.5, 0.5, 1.0])
    assert plan.retract_capped == [4]
    assert plan.e_mm == pytest.approx(2.0)   # the material used is the file's
    tool = [t for t in plan.tool_lines() if t.startswith("G1 E")]
    assert tool[1].startswith("G1 E-0.5 ") and tool[2].startswith("G1 E0.5 ")
    assert "retracts shortened to 0.5 mm of E" in job.render(plan)
    # the slicer's own length where the profile allows it
    plan = _plan_text(tmp_path, text, profile=Profile(retract_max_mm=10.0))
    assert _e_of(plan) == pytest.approx([1.0, -6.5, 6.5, 1.0]) and not plan.retract_capped


def test_prime_extra_and_wipe_retracts(tmp_path: Path) -> None:
    # relative E: a wipe retracts during a travel (0.3 + 0.4), then an E-only retract
    # (1.0: capped, 0.5 in all); the prime gives back 0.5 and its extra 0.2 (restart extra)
    text = ("M83\nM109 S32\nG1 X10 E1 F600\nG1 X12 E-0.3 F3000\nG1 X14 E-0.4\nG1 E-1.0 F2400\n"
            "G1 X30 F3600\nG1 E1.9 F2400\nG1 X40 E1 F600\n")
    plan = _plan_text(tmp_path, text)
    assert _e_of(plan) == pytest.approx([1.0, -0.3, -0.2, 0.7, 1.0])
    assert plan.retract_capped == [5, 6]
    # a prime in two parts gives back in proportion
    text = "M83\nM109 S32\nG1 X10 E1 F600\nG1 E-2 F2400\nG1 E1 F2400\nG1 E1 F2400\nG1 X20 E1 F600\n"
    plan = _plan_text(tmp_path, text)
    assert _e_of(plan) == pytest.approx([1.0, -0.5, 0.25, 0.25, 1.0])


# ---- resume after a power cut: where the job is taken up ------------------------------------
def test_resume_point_body_setpoint_and_approach(tmp_path: Path) -> None:
    from host_tools.printer import JobError
    from host_tools.slicer.stream import approach, body_setpoint, resume_point

    text = ("M109 S32\nM104 S31 T1\nG1 X10 Y0 Z1 E1 F600\nG1 X10 Y10 F3000\nM104 S30 T1\nG91\n"
            "G1 X5 E0.5 F600\nG1 Y5 E0.5 F600\n")
    plan = _plan_text(tmp_path, text, heaters=2)
    tool = plan.tool_lines()
    # toolhead lines: M83, M109 S32, M104 S31 T1, G1 E1, M104 S30 T1, G1 E0.5, G1 E0.5
    assert len(tool) == 7 and tool[4] == "M104 S30 T1"
    assert resume_point(plan, 1) == 0
    r = resume_point(plan, 5)                   # line 4 (the first extrusion) done: the travel runs again
    assert plan.steps[r - 1].tool == tool[3] and [st.kind for st in plan.steps[r:r + 2]] == ["motion", "travel"]
    assert body_setpoint(plan, r) == 31.0       # M104 S30 T1 comes after the resume point
    assert body_setpoint(plan, resume_point(plan, 6)) == 30.0
    assert body_setpoint(plan, 0) is None
    # the gantry goes up, across to where the extrusion ended, down, with the file's modes
    assert approach(plan, r) == ["G91", "G1 Z1 F600", "G90", "G1 X10.000 Y0.000 F3000", "G1 Z1.000 F600",
                                 f"M204 S{plan.steps[r - 1].accel:g}"]
    later = resume_point(plan, 7)               # inside the G91 part: relative again after the approach
    assert approach(plan, later)[3] == "G1 X15.000 Y10.000 F3000" and approach(plan, later)[-1] == "G91"
    with pytest.raises(JobError):
        resume_point(plan, 9)
