"""The world acts on a firmware line at the instant the line carries, not when the relay
read it (host_tools/sim/world.py, "T" and the stamped D/P/I/A lines of docs/CONTRACTS.md).

A board's pulse counter and its motor see the same edges. In the virtual board the
firmware counts them on its clock; if the world started and stopped the step PWM when
the relay got round to a line, a machine that kept the relay waiting made the two counts
part (377 steps made where the board counted 400)."""

from __future__ import annotations

import time

from host_tools.sim.plants.printer import PrinterPlant
from host_tools.sim.world import World

PINS = {"stepper_step": 15, "stepper_dir": 16, "stepper_enable": 17, "heater": 12, "thermistor_adc": 4}
PERIOD = 1 << 30  # the faithful interpreter's ticks_us period


def _world() -> tuple[World, PrinterPlant]:
    w = World({"chip": "esp32", "pins": PINS})
    plant = PrinterPlant(PINS)
    w.plants.append(plant)
    w.power_on()
    # the firmware's clock starts now: its ticks_us now is its virtual 0
    w.handle(b"T %d" % ((time.monotonic_ns() // 1000) % PERIOD))
    return w, plant


def test_lines_read_late_act_at_their_own_instant() -> None:
    w, plant = _world()
    lines = [b"D 17 0 0", b"D 16 1 0", b"P 15 1000 32768 10000", b"P 15 0 0 410000"]
    time.sleep(0.6)  # the relay was kept waiting: every line arrives long after it was sent
    for line in lines:
        w.handle(line)
    w.handle(b"A 4 700000")  # a later read brings the world on; the PWM is long stopped
    # 0.4 s at 1 kHz: 400 periods, plus the edge a starting PWM begins with
    assert plant.steps in (400, 401), plant.steps
    assert 15 not in w.pwm


def test_a_reading_from_the_host_never_runs_ahead_of_a_talking_firmware() -> None:
    w, plant = _world()
    w.handle(b"D 17 0 0")
    w.handle(b"D 16 1 0")
    w.handle(b"P 15 1000 32768 0")
    time.sleep(0.15)
    e = w.extrusion()  # the bench or gantry reads while the firmware is mid-move
    assert e["t_s"] <= w._fw_t + 1e-9  # where the firmware's last line left the world
    w.handle(b"P 15 0 0 100000")  # sent at 0.1 s, read at 0.15 s: not in the world's past
    assert plant.steps in (100, 101), plant.steps


def test_a_silent_firmware_leaves_the_world_to_run_on() -> None:
    # a hung or dead firmware sends nothing: the world keeps its own time (the nozzle
    # cools, a stuck heater heats, a watchdog expires)
    w, _plant = _world()
    w.handle(b"A 4 0")
    time.sleep(World.LIVE_S + 0.1)
    before = w.now_s()
    w.step()
    assert w._last_step >= before
