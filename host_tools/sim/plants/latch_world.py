"""The latch plant (plants/latch.py, LatchPlant) as a plant of the host-side World.

`latch_plants(board)` -> [LatchWorldPlant] for a latch board, [] otherwise. The plant
keeps its own pin levels (bolt switches, payload switch, HX711 DOUT) and answers
World.read_input for those pins; it follows the servo's PWM in world.pwm.

Default: bolt locked, a 500 g parcel on the hook.

Bench faults (world.faults, set with `hearth bench ENDPOINT fault NAME`):
  jam           the bolt sticks where it is while the fault is on
  payload_slip  the parcel slips out (once, when the fault goes on)
  lock_sw_stuck the lock switch reads closed whatever the bolt does
  open_sw_dead  the open switch never closes
Parameters (`bench set NAME VALUE`): payload_g (load a parcel), travel_ms, bolt_pos,
probe_reset (zero the servo probe: servo_writes / servo_open_writes in the state).
"""

from __future__ import annotations

from typing import Any

from host_tools.sim.plants.latch import LatchPlant


class _Io:
    """What LatchPlant reads and writes: world.pwm (live) and its own input levels."""

    def __init__(self) -> None:
        self.pwm: dict[int, tuple[int, int]] = {}
        self.inputs: dict[int, int] = {}


class _PwmProbe(dict):  # type: ignore[type-arg]
    """world.pwm with a probe on the servo pin: counts every PWM write that pulses
    toward open, however short (a poll of the bench state could miss it)."""

    def __init__(self, base: dict[int, tuple[int, int]], owner: LatchWorldPlant) -> None:
        super().__init__(base)
        self.owner = owner

    def __setitem__(self, pin: int, fd: tuple[int, int]) -> None:
        super().__setitem__(pin, fd)
        if pin == self.owner.plant.servo_pin:
            self.owner._servo_write(fd)


class LatchWorldPlant:
    faults = ["jam", "payload_slip", "lock_sw_stuck", "open_sw_dead"]

    def __init__(self, board: dict[str, Any], payload_g: int = 500, **cfg: Any) -> None:
        pins = board.get("pins", {})
        self.pins = pins
        self.io = _Io()
        cfg.setdefault("payload_g", payload_g)
        self.plant = LatchPlant(
            self.io, pins["servo"], pins["bolt_locked_sw"], pins["bolt_open_sw"],
            pins.get("hx711_sck"), pins.get("hx711_dout"), pins.get("payload_sw"), cfg,
        )
        self._owned = {p for p in (pins["bolt_locked_sw"], pins["bolt_open_sw"], pins.get("payload_sw"),
                                   pins.get("hx711_dout")) if p is not None}
        self._us = 0
        self.plant.step(0)  # start the plant's clock: the first advance moves the bolt
        self._slipped = False
        self.open_writes = 0  # servo PWM writes with a pulse toward open (bench probe)
        self.servo_writes = 0

    def _probe(self, world: Any) -> None:
        if not isinstance(world.pwm, _PwmProbe):
            world.pwm = _PwmProbe(world.pwm, self)
        self.io.pwm = world.pwm

    def _servo_write(self, fd: tuple[int, int]) -> None:
        self.servo_writes += 1
        freq, duty = fd
        if not freq or not duty:
            return
        us = duty * 1_000_000 // (freq * 65536)
        c = self.plant.cfg
        if us > (c["locked_us"] + c["open_us"]) // 2:
            self.open_writes += 1

    # ---- the World's plant interface -------------------------------------------------
    def advance(self, world: Any, dt_s: float) -> None:
        self._probe(world)
        p = self.plant
        faults = world.faults
        p.jam("jam" in faults)
        if "payload_slip" in faults:
            if not self._slipped:
                self._slipped = True
                p.slip()
        else:
            self._slipped = False
        if "lock_sw_stuck" in faults:
            p.stuck[p.lock_sw_pin] = 1
        else:
            p.stuck.pop(p.lock_sw_pin, None)
        if "open_sw_dead" in faults:
            p.stuck[p.open_sw_pin] = 0
        else:
            p.stuck.pop(p.open_sw_pin, None)
        self._us += int(dt_s * 1_000_000)
        p.step(self._us)

    def on_output(self, world: Any, pin: int, v: int) -> None:
        self._probe(world)
        self.plant.on_output(pin, v)

    def read_input(self, world: Any, pin: int) -> int | None:
        self._probe(world)
        if pin in self._owned:
            return self.io.inputs.get(pin)
        return None

    def read_adc(self, world: Any, pin: int) -> int | None:
        return None

    def snapshot(self, world: Any) -> dict[str, Any]:
        self._probe(world)
        p = self.plant
        us = world.pulse_us("servo")
        return {
            "latch": {
                "bolt_pos": p.pos,
                "lock_sw": self.io.inputs.get(p.lock_sw_pin, 0),
                "open_sw": self.io.inputs.get(p.open_sw_pin, 0),
                "payload_g": p.payload_g,
                "dropped": p.dropped,
                "jammed": p.jammed,
                "servo_us": None if us is None else round(us, 1),
                "servo_target": p.target(),
                "servo_writes": self.servo_writes,
                "servo_open_writes": self.open_writes,
            }
        }

    def set_param(self, name: str, value: Any) -> bool:
        p = self.plant
        if name == "payload_g":
            p.load(int(value))
            return True
        if name == "travel_ms":
            p.cfg["travel_ms"] = max(1, int(value))
            return True
        if name == "bolt_pos":
            p.pos = max(0, min(1000, int(value)))
            p._publish()
            return True
        if name == "probe_reset":
            self.open_writes = 0
            self.servo_writes = 0
            return True
        return False


def latch_plants(board: dict[str, Any]) -> list[Any]:
    if board.get("role") != "latch":
        return []
    pins = board.get("pins", {})
    if not all(k in pins for k in ("servo", "bolt_locked_sw", "bolt_open_sw")):
        return []
    return [LatchWorldPlant(board)]
