"""The `hearth print` pieces for slicer files, kept out of the CLI module so the verb
itself stays a thin caller (host_tools/cli is being split into a package)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from host_tools.slicer import job
from host_tools.slicer.gcodefile import FileRefused
from host_tools.slicer.planner import Profile

# The toolhead's own G-code subset (firmware/hearth/control/gcode.py SUPPORTED): a file
# holding only these, and no XYZ, is a toolhead job and is streamed as it is.
TOOLHEAD_SUBSET = {"G0", "G1", "G4", "G10", "G11", "G92", "M82", "M83", "M104", "M105", "M109", "M112", "M302",
                   "M303"}


def load_profile(path: str | None) -> Profile:
    if not path:
        return Profile()
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"printer profile {path}: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"printer profile {path}: expected a JSON object")
    return Profile.from_dict(data, name=Path(path).stem)


def is_toolhead_job(path: str) -> bool:
    """True when FILE is a toolhead job (the subset above, E only): the print verb then
    streams it line by line as before; anything else is a slicer file and is planned."""
    from host_tools.slicer import gcodefile

    try:
        lines = gcodefile.read(path)
    except FileRefused:
        return False
    for ln in lines:
        if not ln.code:
            continue
        if ln.code not in TOOLHEAD_SUBSET:
            return False
        if ln.code in ("G0", "G1", "G92") and any(k in ln.params for k in "XYZ"):
            return False
    return True


def plan_file(file: str, material: str, slicer_temps: str, profile: str | None, heaters: int = 1,
              board_cfg: dict[str, Any] | None = None) -> job.Plan:
    """FileRefused / ValueError for what cannot be planned at all. board_cfg: the board's
    running `printer` config section (config_get): its material limits and extruder
    limits then replace the presets' and the profile's."""
    mat, prof = limits_from_config(board_cfg or {}, job.Material.preset(material), load_profile(profile))
    return job.build(file, mat, slicer_temps, prof, heaters=heaters)


def limits_from_config(cfg: dict[str, Any], mat: job.Material, prof: Profile) -> tuple[job.Material, Profile]:
    """The board is the authority on its limits: the material's setpoint and range
    (printer.<m>_c, <m>_min_c, <m>_max_c) and the extruder's rate and acceleration
    (printer.max_feed_mm_s, accel_mm_s2), where its running config gives them."""
    def num(key: str) -> float | None:
        v = cfg.get(key)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    m = mat.name
    sp, lo, hi = num(f"{m}_c"), num(f"{m}_min_c"), num(f"{m}_max_c")
    mat = job.Material(m, sp if sp is not None else mat.setpoint_c, lo if lo is not None else mat.min_c,
                       hi if hi is not None else mat.max_c)
    return mat, prof.with_extruder(num("max_feed_mm_s"), num("accel_mm_s2"))


def check(file: str, material: str, slicer_temps: str, profile: str | None, as_json: bool,
          echo: Any = print) -> int:
    """`hearth print --check FILE`: print the plan; 0 printable, 1 refused, 2 unusable input."""
    try:
        plan = plan_file(file, material, slicer_temps, profile)
    except FileRefused as e:
        msg = f"{file}: {e}; nothing will heat or move"
        echo(json.dumps({"file": file, "printable": False, "refused": [{"line": e.line, "reason": e.reason}]},
                        indent=1, sort_keys=True) if as_json else f"refused: {msg}")
        return 1
    except ValueError as e:
        echo(json.dumps({"error": str(e)}) if as_json else f"error: {e}")
        return 2
    if as_json:
        echo(json.dumps(plan.summary(), indent=1, sort_keys=True))
    else:
        echo(job.render(plan).rstrip("\n"))
    return 0 if plan.ok else 1


# ---- hearth print FILE for a slicer file --------------------------------------------------------
class SlicerProgress:
    """Progress on stderr: a rich bar with layer, percentage and ETA from the planned
    durations on a terminal; a line every ~10 s otherwise (logs); nothing with --json."""

    def __init__(self, plan: job.Plan, quiet: bool) -> None:
        from rich.console import Console

        self.plan, self.quiet = plan, quiet
        self.console = Console(stderr=True)
        self.bar: Any = None
        self.task: Any = None
        self.last = 0.0

    def _text(self, p: dict[str, Any]) -> str:
        t, tgt = p.get("temp"), p.get("target")
        return (f"layer {p['layer']}/{p['layers']}, nozzle {'--' if t is None else f'{t:.1f}'} C -> "
                f"{'off' if tgt is None else f'{tgt:.1f} C'}, danger zone {p.get('danger_zone_s', 0)} s"
                + (f", paused ({p['paused']})" if p.get("paused") else ""))

    def update(self, p: dict[str, Any]) -> None:
        import time

        if self.quiet:
            return
        total = float(p["planned_s"])
        done = float(p["planned_done_s"])
        if self.console.is_terminal:
            if self.bar is None:
                from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

                self.bar = Progress(TextColumn("print"), BarColumn(), TaskProgressColumn(),
                                    TextColumn("ETA {task.fields[eta]}"), TextColumn("{task.fields[info]}"),
                                    console=self.console, transient=False)
                self.bar.start()
                self.task = self.bar.add_task("print", total=total, completed=done, eta="", info="")
            self.bar.update(self.task, completed=done, eta=job._hms(p["eta_s"]), info=self._text(p))
            return
        now = time.monotonic()
        if now - self.last < 10 and p["percent"] < 100:
            return
        self.last = now
        import click

        click.echo(f"  {p['percent']:.0f}% ({job._hms(done)} of {job._hms(total)} planned), ETA "
                   f"{job._hms(p['eta_s'])}; {self._text(p)}", err=True)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def summary_text(res: dict[str, Any]) -> str:
    h = res.get("haccp") or {}
    lo, hi = h.get("min_c"), h.get("max_c")
    rng = "--" if lo is None or hi is None else f"{lo:.1f}..{hi:.1f} C"
    return (f"job {res['job']}: {res['done']}/{res['lines']} toolhead lines done in {job._hms(res['elapsed_s'])} "
            f"(planned {job._hms(res['planned_s'])}); material E {res['e_mm']} mm ({res['volume_mm3']} mm3); "
            f"nozzle {rng}; danger zone {res['danger_zone_s']} s"
            + (f"; resumed at toolhead line {res['resumed_at']}" if res.get("resumed_at") else ""))


def print_slicer(port: str, file: str, material: str, slicer_temps: str, profile: str | None, motion: str | None,
                 motion_baud: int, job_id: int | None, resume: bool, keep_hot: bool, as_json: bool,
                 cont: bool = False) -> int:
    """`hearth print -p PORT FILE [--motion PORT]` for a slicer file. Returns the exit code.
    Refused files are refused here, before the board is even opened."""
    import click

    from host_tools.cli.common import EXIT_FAIL, EXIT_USAGE, connect
    from host_tools.printer import JobError, LineRefused, end_job, hold_job
    from host_tools.protocol import BoardError, ProtocolError
    from host_tools.slicer.stream import MotionPort, MotionStalled, stream_plan
    from host_tools.transport.serialport import PortError, open_port

    def out(obj: dict[str, Any], text: str, err: bool = False) -> None:
        if as_json:
            click.echo(json.dumps(obj, indent=1, sort_keys=True))
        elif err:
            click.secho(text, fg="red", err=True)
        else:
            click.echo(text)

    try:
        plan = plan_file(file, material, slicer_temps, profile)
    except FileRefused as e:
        out({"file": file, "printable": False, "refused": [{"line": e.line, "reason": e.reason}]},
            f"refused: {file}: {e}; nothing heated or moved", err=True)
        return EXIT_FAIL
    except ValueError as e:
        out({"error": str(e)}, f"error: {e}", err=True)
        return EXIT_USAGE
    if not plan.ok:
        lines = "; ".join(f"line {r['line']}: {r['reason']}" for r in plan.refused[:5])
        out({**plan.summary()}, f"refused: {file}: {lines}; nothing heated or moved "
            f"(`hearth print --check {file}` lists every line)", err=True)
        return EXIT_FAIL
    moving = sorted({s.motion.split()[0] for s in plan.steps if s.motion and not s.motion.startswith(("G4", "M204"))})
    if motion is None and moving:
        out({"error": "no motion port", "motion_codes": moving},
            f"error: {file} moves the gantry ({', '.join(moving)}) and no --motion port was given: give the "
            "motion controller's port (`hearth sim --gantry` has a virtual one); nothing heated or moved", err=True)
        return EXIT_USAGE
    mport = None
    if motion is not None:
        try:
            mport = MotionPort(open_port(motion, baud=motion_baud, timeout=0.02))
        except PortError as e:
            out({"error": str(e)}, f"error: motion port: {e}", err=True)
            return EXIT_USAGE
    client = connect(port)
    try:
        cfg = client.request("config_get", {"section": "printer"}).get("config") or {}
    except (BoardError, ProtocolError):
        cfg = {}  # a board without config_get: the presets and the profile stand
    if cfg:
        try:
            plan = plan_file(file, material, slicer_temps, profile, board_cfg=cfg)
        except (FileRefused, ValueError) as e:
            client.close()
            out({"error": str(e)}, f"refused with the board's limits: {e}; nothing heated or moved", err=True)
            return EXIT_FAIL
        if not plan.ok:
            client.close()
            lines = "; ".join(f"line {r['line']}: {r['reason']}" for r in plan.refused[:5])
            out({**plan.summary()}, f"refused with the board's own limits: {file}: {lines}; nothing heated or moved",
                err=True)
            return EXIT_FAIL
    bar = SlicerProgress(plan, as_json)
    import sys

    interactive = not as_json and sys.stdin.isatty()

    def on_pause(j: dict[str, Any]) -> bool:
        bar.stop()
        msg = (f"paused at file line {j['file_line']} ({j['why']}): heater held at {j.get('target')} C, "
               f"the danger-zone clock runs")
        if not interactive:
            out({"paused": True, **{k: j.get(k) for k in ("file_line", "why", "target")}},
                msg + f"; `hearth print -p {port} {file} --continue` (with the same --motion) goes on; the board "
                "holds the pause for its pause_timeout_s, then holds the job for `hearth recovery`")
            return False
        click.echo(msg, err=True)
        return click.confirm("continue the print?", default=True, err=True)

    try:
        res = stream_plan(client, plan, mport, job_id=job_id, progress=bar.update, on_pause=on_pause, cont=cont,
                          resume=resume)
    except MotionStalled as e:
        bar.stop()
        held = _safe(lambda: hold_job(client))
        what = (f"job {held['job']} held on the board after toolhead line {held['done']}, heater off"
                if isinstance(held, dict) else f"the board: {held}")
        out({"error": str(e), "paused": True, "reason": "motion port silent", "file_line": e.file_line,
             "tool_line": e.tool_line, "held": held if isinstance(held, dict) else None},
            f"paused: {e}; {what}; check the motion controller (it must still know where it is, or be homed), "
            f"then `hearth print -p {port} {file} --motion {motion} --resume` takes the job up again, "
            f"`hearth recovery discard -p {port}` drops it", err=True)
        return EXIT_FAIL
    except KeyboardInterrupt:
        bar.stop()
        held = _safe(lambda: hold_job(client))
        out({"interrupted": True, "held": held if isinstance(held, dict) else None},
            f"interrupted: {held}", err=True)
        return EXIT_FAIL
    except (LineRefused, JobError, BoardError) as e:
        bar.stop()
        nxt = _safe(lambda: end_job(client, keep_hot))
        out({"error": str(e), "board": nxt}, f"error: {e}\n{nxt}", err=True)
        return EXIT_FAIL
    except ProtocolError as e:
        bar.stop()
        out({"error": str(e)}, f"error: lost the toolhead mid-job: {e}; `hearth recovery show -p {port}`", err=True)
        return EXIT_USAGE
    finally:
        bar.stop()
        client.close()
        if mport is not None:
            mport.ser.close()
    if res.get("paused"):
        return EXIT_FAIL
    out(res, summary_text(res))
    return 0


def _safe(how: Any) -> Any:
    from host_tools.protocol import ProtocolError

    try:
        return how()
    except ProtocolError as e:
        return f"could not reach the board to finish ({e}); its dead-man turns the heater off within 10 s"
