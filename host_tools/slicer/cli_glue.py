"""The `hearth print` pieces for slicer files, kept out of the CLI module so the verb
itself stays a thin caller (host_tools/cli is being split into a package)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from host_tools.slicer import job
from host_tools.slicer.gcodefile import FileRefused
from host_tools.slicer.planner import Profile

# The toolhead's own G-code subset (firmware/hearth/core/gcode.py SUPPORTED): a file
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


def plan_file(file: str, material: str, slicer_temps: str, profile: str | None, heaters: int = 1) -> job.Plan:
    """FileRefused / ValueError for what cannot be planned at all."""
    return job.build(file, job.Material.preset(material), slicer_temps, load_profile(profile), heaters=heaters)


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
