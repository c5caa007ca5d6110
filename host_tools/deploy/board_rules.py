"""The rules a board file must keep before any firmware is built for it.

Each rule is a fact about the chip or the module, from Espressif's datasheets:
strapping pins are sampled at reset (an actuator there twitches at boot and can change
the boot mode); input-only pins have no output driver and no internal pulls; flash,
USB and octal-PSRAM pins belong to the module; ADC2 is unusable with Wi-Fi; the ADC
at 11 dB is specified up to about 2450 mV (ESP32 and ESP32-S3 datasheets, "ADC
characteristics"), so a divider must keep its input below that; and an input without a
pull floats (`machine.Pin(n, Pin.IN)` leaves the pad's pull as it was), so every input
names one: "up"/"down" (the firmware enables the chip's internal pull), "external" (a
resistor on the board) or "driven" (another chip's push-pull output).
"""

from __future__ import annotations

import functools
import runpy
from pathlib import Path
from typing import Any

CHIPS_PY = Path(__file__).resolve().parents[2] / "firmware" / "hearth" / "hal" / "chips.py"
ADC_MAX_MV = 2450  # 11 dB attenuation, the recommended range's top
PULLS = ("up", "down", "external", "driven")


@functools.cache
def _chips_file() -> dict[str, Any]:
    # The firmware's chip facts, read as a file (plain data and one pure function), not
    # imported: host_tools does not import the firmware package.
    return runpy.run_path(str(CHIPS_PY))


def chips() -> dict[str, Any]:
    return _chips_file()["CHIPS"]


def check_pin(chip: str, pin: int, kind: str) -> str:
    """The HAL's rule for one pin (see hal/chips.py check()): "" or why not."""
    return _chips_file()["check"](chip, pin, kind)


def is_input(name: str) -> bool:
    """Pin names the firmware reads as digital inputs."""
    return name.endswith("_sw") or name in ("power_good", "hx711_dout", "mavlink_rx")


def problems(board: dict[str, Any]) -> list[str]:
    """Every broken rule, each naming the pin and the rule; [] when the board is fine."""
    out: list[str] = []
    name = board.get("name", "?")
    chip_name = board.get("chip")
    table = chips()
    if chip_name not in table:
        return [f"{name}: unknown chip {chip_name!r} (known: {', '.join(table)})"]
    chip = table[chip_name]
    psram = (board.get("module") or {}).get("psram")
    reserved = set(chip["reserved"]) | (set(chip.get("psram_octal", [])) if psram == "octal" else set())
    pins = board.get("pins", {})
    pulls = board.get("pulls", {})
    actuators = {int(i["pin"]) for i in board.get("safe_outputs", [])}
    for pname, pin in pins.items():
        if not isinstance(pin, int):
            continue
        where = f"{name}: pin {pin} ({pname})"
        if pin not in chip["gpio"]:
            out.append(f"{where}: not a GPIO of the {chip_name}")
            continue
        if pin in reserved:
            why = "octal PSRAM" if pin in chip.get("psram_octal", []) and psram == "octal" else "flash/USB"
            out.append(f"{where}: reserved for the module's {why}")
        if pin in actuators:
            if pin in chip["strapping"]:
                out.append(f"{where}: an actuator on a strapping pin (sampled at reset: it would twitch at boot)")
            if pin in chip["input_only"]:
                out.append(f"{where}: an actuator on an input-only pin (no output driver)")
        if pname.endswith("_adc") and pin not in chip["adc"]:
            out.append(f"{where}: not an ADC1 channel (ADC2 is unusable with Wi-Fi)")
        if is_input(pname):
            pull = pulls.get(pname)
            if pull not in PULLS:
                out.append(f"{where}: an input with no pull in the board file's \"pulls\" "
                           f"(one of {', '.join(PULLS)}): without one it floats")
            elif pull in ("up", "down") and pin in chip["input_only"]:
                out.append(f"{where}: pull {pull!r} asked of an input-only pin, which has no internal pulls "
                           "(use an external resistor: \"external\")")
    for item in board.get("safe_outputs", []):
        if int(item["pin"]) not in pins.values():
            out.append(f"{name}: safe output pin {item['pin']} is not one of the board's pins")
    sup = board.get("supply") or {}
    if "supply_adc" in pins and sup:
        at_adc = float(sup.get("nominal_mv", 0)) / float(sup.get("divider", 1) or 1)
        if at_adc > ADC_MAX_MV:
            out.append(f"{name}: pin {pins['supply_adc']} (supply_adc): the divider puts {at_adc:.0f} mV on the ADC "
                       f"at nominal supply, above the {ADC_MAX_MV} mV the ADC reads accurately at 11 dB: "
                       "use a larger divider")
    return out
