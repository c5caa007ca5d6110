"""What the host does with each G-code of common slicer output (Cura, PrusaSlicer,
Simplify3D; Marlin and RepRap flavours) on a food toolhead plus a gantry.

Four classes (docs/protocol.md, "Slicer files", is the table for people):
  ACT     acted on by the toolhead: heater, extruder, fan, dwell, pause, tool select;
  MOTION  passed to the motion controller (--motion port): moves, homing, probing, modes;
  IGNORE  acknowledged and ignored, with the note the --check plan prints;
  REFUSE  refused: the whole file is, before anything heats, with the line and reason.
Commands that only change the host's own state (absolute/relative E, G92 E, feed and
flow factors) are HOST: the host folds them into the lines it sends.
A code not in the table is refused ("not a command this toolhead or its gantry knows").
"""

from __future__ import annotations

ACT, MOTION, IGNORE, REFUSE, HOST = "act", "motion", "ignore", "refuse", "host"

CLASS_TITLE = {
    ACT: "acted on (toolhead)",
    MOTION: "passed to motion",
    HOST: "host state (folded into the lines sent)",
    IGNORE: "acknowledged and ignored",
    REFUSE: "refused",
}

# code -> (class, what it is / why)
POLICY: dict[str, tuple[str, str]] = {
    # moves: XYZ to the gantry, E to the toolhead in step (planner.py)
    "G0": (MOTION, "move; its E, if any, goes to the toolhead in step with it"),
    "G1": (MOTION, "move; its E goes to the toolhead in step with it (E alone: toolhead only)"),
    "G28": (MOTION, "home axes"),
    "G29": (MOTION, "bed probing / mesh levelling"),
    "G90": (MOTION, "absolute XYZ (also absolute E, as Marlin, unless M83)"),
    "G91": (MOTION, "relative XYZ (also relative E, as Marlin, unless M82)"),
    "G92": (MOTION, "set position: XYZ to the gantry; E is kept by the host"),
    "G21": (MOTION, "units: millimetres"),
    "M84": (MOTION, "motors off"),
    "M18": (MOTION, "motors off"),
    "M17": (MOTION, "motors on"),
    "M400": (MOTION, "wait for moves to finish (the host waits for both sides at each step anyway)"),
    "M420": (MOTION, "bed levelling on/off"),
    # the toolhead
    "M104": (ACT, "set nozzle temperature (within the material's limits)"),
    "M109": (ACT, "set nozzle temperature and wait (within the material's limits)"),
    "G10": (ACT, "firmware retract (RepRap flavour with P/S/R: tool temperatures)"),
    "G11": (ACT, "firmware unretract"),
    "M106": (ACT, "fan on (the toolhead's fan pin)"),
    "M107": (ACT, "fan off"),
    "G4": (ACT, "dwell (both sides wait)"),
    "M0": (ACT, "pause: heater held, food-safety clock running, resume by prompt or --continue"),
    "M1": (ACT, "pause (as M0)"),
    "M25": (ACT, "pause (as M0)"),
    "M226": (ACT, "pause (as M0)"),
    "M600": (ACT, "pause to change the cartridge (as M0)"),
    "M601": (ACT, "pause (PrusaSlicer's pause_print_gcode, as M0)"),
    "M112": (ACT, "emergency stop"),
    "T0": (ACT, "tool 0: the nozzle heater"),
    "T1": (ACT, "tool 1: the second heater (body), if the board declares one"),
    # host state
    "M82": (HOST, "absolute E: the host sends E as per-move amounts"),
    "M83": (HOST, "relative E"),
    "M220": (HOST, "feed rate factor: applied to the planned feeds"),
    "M221": (HOST, "flow factor: applied to E"),
    # acknowledged and ignored
    "M140": (IGNORE, "bed temperature: no bed heater on a toolhead"),
    "M190": (IGNORE, "wait for bed temperature: no bed heater on a toolhead"),
    "M141": (IGNORE, "chamber temperature: no chamber heater"),
    "M191": (IGNORE, "wait for chamber temperature: no chamber heater"),
    "M105": (IGNORE, "report temperatures: the host reads them itself"),
    "M117": (IGNORE, "display message"),
    "M118": (IGNORE, "serial message"),
    "M73": (IGNORE, "progress for the printer's display: the host shows its own"),
    "M115": (IGNORE, "firmware info request"),
    "M300": (IGNORE, "beep"),
    "M31": (IGNORE, "print time report"),
    "M114": (IGNORE, "position report"),
    "M501": (IGNORE, "load the printer's EEPROM settings: the host plans with its profile"),
    "M201": (IGNORE, "slicer's acceleration limits: the host plans with its printer profile, so both sides agree"),
    "M203": (IGNORE, "slicer's feed limits: the host plans with its printer profile"),
    "M204": (IGNORE, "slicer's acceleration: the host plans with its printer profile"),
    "M205": (IGNORE, "slicer's jerk limits: the host plans rest-to-rest moves"),
    "M900": (IGNORE, "slicer's linear advance K: the toolhead's pressure advance K comes from its config"),
    "M862.1": (IGNORE, "Prusa nozzle check"),
    "M862.3": (IGNORE, "Prusa printer model check"),
    "M907": (IGNORE, "stepper currents"),
    "M486": (IGNORE, "object labels (cancel-object)"),
    "M204.1": (IGNORE, "acceleration"),
    "G80": (IGNORE, "Prusa mesh bed levelling: not a gantry command here"),
    "W1": (IGNORE, "PancakePainter's workspace size for the PancakeBot"),
    # refused
    "G2": (REFUSE, "arc move: not supported (slice with arcs off)"),
    "G3": (REFUSE, "arc move: not supported (slice with arcs off)"),
    "G20": (REFUSE, "inch units: slice in millimetres"),
    "M3": (REFUSE, "spindle/laser on: not a food toolhead"),
    "M4": (REFUSE, "spindle/laser on: not a food toolhead"),
    "M5": (REFUSE, "spindle/laser off: not a food toolhead"),
    "M42": (REFUSE, "set a pin directly: the toolhead's pins are its own"),
    "M280": (REFUSE, "servo position: no servo on a food toolhead"),
    "M302": (REFUSE, "cold extrusion: the toolhead's guard stays on"),
    "M303": (REFUSE, "heater autotune: run `hearth tune`, not inside a print"),
    "M500": (REFUSE, "save settings to the printer's EEPROM from a print file"),
    "M502": (REFUSE, "factory reset of the printer's settings from a print file"),
    "M92": (REFUSE, "steps per mm from a print file: set it in the toolhead's config"),
    "M851": (REFUSE, "probe offset from a print file"),
    "M163": (REFUSE, "mixing extruder"),
    "M98": (REFUSE, "macro call (RepRapFirmware): the host cannot see what it does"),
}


def classify(code: str) -> tuple[str, str]:
    if code in POLICY:
        return POLICY[code]
    if code.startswith("T") and code[1:].isdigit():
        return REFUSE, f"tool {code[1:]}: the toolhead has T0 (nozzle) and T1 (body) at most"
    return REFUSE, "not a command this toolhead or its gantry knows"
