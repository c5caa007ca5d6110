"""The printer plant's bead model and step-pulse edges (host_tools/sim/plants/printer.py)."""

from __future__ import annotations

import math
from types import SimpleNamespace

from host_tools.sim.plants.printer import PrinterPlant

PINS = {"stepper_step": 15, "stepper_dir": 16, "stepper_enable": 17, "heater": 12, "thermistor_adc": 4}


def _world(hz: int) -> SimpleNamespace:
    return SimpleNamespace(pwm={15: (hz, 32768)} if hz else {}, outputs={16: 1, 17: 0}, faults=set(), powered=True)


def _run(p: PrinterPlant, w: SimpleNamespace, hz: int, seconds: float, dt: float = 0.01) -> None:
    w.pwm = {15: (hz, 32768)} if hz else {}
    for _ in range(round(seconds / dt)):
        p.advance(w, dt)


def test_bead_lags_the_piston_then_drools() -> None:
    p = PrinterPlant(PINS)
    w = _world(0)
    _run(p, w, 800, 0.3)                        # 2 mm/s of E: 4.81 mm3/s
    q = 2.0 * p.e_mm3_per_mm
    # one time constant in: 1 - 1/e of the flow, and the bead is short by ~q tau/e
    assert abs(p.extrusion()["flow_mm3_s"] - q * (1 - math.exp(-1))) < 0.05 * q
    _run(p, w, 800, 2.7)
    e = p.extrusion()
    assert abs(e["flow_mm3_s"] - q) < 0.01 * q
    assert abs(e["piston_mm3"] - e["deposited_mm3"] - q * p.bead_tau_s) < 0.02 * q   # the lag, in volume
    _run(p, w, 0, 2.0)                         # piston stopped: the paste drools on
    e = p.extrusion()
    assert e["flow_mm3_s"] < 0.01 and abs(e["piston_mm3"] - e["deposited_mm3"]) < 0.01
    assert abs(e["piston_mm3"] - 3.0 * q) < 0.01 * q


def test_retract_sucks_back_and_deposits_nothing() -> None:
    p = PrinterPlant(PINS)
    w = _world(0)
    w.outputs[16] = 0                          # DIR: retract
    _run(p, w, 800, 0.5)
    e = p.extrusion()
    assert e["deposited_mm3"] == 0 and e["flow_mm3_s"] == 0 and e["piston_mm3"] < 0


def test_retract_then_prime_keeps_the_volume() -> None:
    # a line, a retract, a pause (air comes in at the tip), the prime back, a pause:
    # the air goes out first, so what landed is the line's volume, not line + prime
    p = PrinterPlant(PINS)
    w = _world(0)
    _run(p, w, 800, 1.0)                        # 2 mm of E
    w.outputs[16] = 0
    _run(p, w, 800, 0.5)                        # retract 1 mm
    _run(p, w, 0, 1.0)
    e = p.extrusion()
    assert e["air_mm3"] > 0.5 * p.e_mm3_per_mm  # sucked in while the pressure was below zero
    w.outputs[16] = 1
    _run(p, w, 800, 0.5)                        # prime 1 mm
    _run(p, w, 0, 3.0)
    e = p.extrusion()
    assert abs(e["piston_mm3"] - 2.0 * p.e_mm3_per_mm) < 0.03   # a step or two of PWM start edges
    assert e["air_mm3"] < 0.01
    assert abs(e["deposited_mm3"] - e["piston_mm3"]) < 0.02   # was 2 + the sucked air before


def test_s3_gains_an_edge_per_frequency_change() -> None:
    # the same frequency sequence, changed every 10 ms: the S3 restarts its timer
    seq = [777, 801, 823, 799] * 25
    counts = {}
    for chip in ("esp32", "esp32s3"):
        p = PrinterPlant(PINS, chip=chip)
        w = _world(0)
        for f in seq:
            w.pwm = {15: (f, 32768)}
            p.advance(w, 0.01)
        counts[chip] = p.pulses
    ideal = sum(f * 0.01 for f in seq)
    assert abs(counts["esp32"] - ideal) <= 1
    assert counts["esp32s3"] - ideal >= 0.3 * len(seq), counts   # ~0.5 per change
    p = PrinterPlant(PINS, chip="esp32s3")
    assert p.count(None, 15) == 0 and p.count(None, 16) is None
