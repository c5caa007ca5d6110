"""The simulated world around a virtual board: supply, pins, plants, faults, watchdog.

It lives in the host process so that it outlives the interpreter: when power is cut
the nozzle keeps cooling and the payload stays in the latch. The firmware's
hearth.hal.sim talks to it over a line protocol on two pipes (see `handle`).
"""

from __future__ import annotations

import threading
import time
from typing import Any


class World:
    LIVE_S = 0.25  # real seconds without a line before the firmware counts as silent

    def __init__(self, board: dict[str, Any], speed: float = 1.0) -> None:
        self.board = board
        self.pins: dict[str, Any] = board.get("pins", {})
        self.speed = speed
        self.lock = threading.RLock()
        self._t0 = time.monotonic()
        self.powered = False
        supply = board.get("supply", {})
        self.nominal_mv = int(supply.get("nominal_mv", 5000))
        self.supply_mv = self.nominal_mv
        self.outputs: dict[int, int] = {}
        self.pwm: dict[int, tuple[int, int]] = {}
        self.inputs: dict[int, int] = {}
        self.pulls: dict[int, str] = {}  # pin -> the internal pull the firmware set: up/down/none
        # Contacts (board file "pulls": "up"/"down") read their open level only through
        # the internal pull; without it they float and read at random (bench knob
        # float_inputs 0 turns that off).
        self.float_inputs = True
        import random

        self._rng = random.Random()
        self.adc: dict[int, int] = {}
        self.faults: set[str] = set()
        self.wdt_timeout_ms = 0
        self.wdt_fed_s = 0.0
        self.programs = 0
        self.erases = 0
        self.drop_at: float | None = None  # when the bench dropped the supply (power fail)
        self.safe_at: float | None = None  # first moment after the drop with every actuator safe
        self.cut_at_program = 0  # absolute count of programs since power-on; 0 = never
        self.tear_bytes = 1
        self.cut_requested = threading.Event()  # set when the firmware tore a program
        self.reset_requested: str | None = None
        self.uart_rx: dict[int, bytearray] = {}
        self.uart_tx_sinks: dict[int, Any] = {}
        self.boots = 0
        self._last_step = self.now_s()
        # The firmware's clock on this one (see "T" in handle): world time of its 0, and
        # the world time of its latest timestamped line and when that line came in.
        self._fw_base: float | None = None
        self._fw_t = 0.0
        self._fw_rx = -1.0
        self.plants: list[Any] = []
        self._ramp: tuple[float, float, int, int] | None = None  # t0, dur, from, to
        for name, value in board.get("inputs_default", {}).items():
            pin = self.pins.get(name)
            if pin is not None:
                self.inputs[int(pin)] = int(value)

    # ---- time -----------------------------------------------------------------------
    def now_s(self) -> float:
        return (time.monotonic() - self._t0) * self.speed

    def step(self, to: float | None = None) -> None:
        """Bring plants up to world time `to` (lazy integration: done before each read).

        The firmware's lines bring it to the time they carry. A reading from this side
        (`to` None) brings it to now only while the firmware is silent (off, hung,
        stalled in a flash erase). While it talks, the world stays where its latest line
        left it, at most a tick behind: a line still in the pipe, stamped earlier than
        now, must not find the world already past its instant, or an output would act
        late by however long this machine kept the relay waiting."""
        with self.lock:
            now = self.now_s()
            if to is None:
                if self.powered and self._fw_base is not None and (now - self._fw_rx) < self.LIVE_S * self.speed:
                    now = self._fw_t
            elif to < now:
                now = to
            dt = now - self._last_step
            if dt <= 0:
                return
            self._last_step = now
            if self._ramp:
                t0, dur, a, b = self._ramp
                frac = min(1.0, max(0.0, (now - t0) / dur)) if dur > 0 else 1.0
                self.supply_mv = int(a + (b - a) * frac)
                if frac >= 1.0:
                    self._ramp = None
            for p in self.plants:
                p.advance(self, dt)

    # ---- power ----------------------------------------------------------------------
    def power_off(self) -> None:
        with self.lock:
            self.step(self.now_s())  # the plants ran on the outputs up to the cut
            self.powered = False
            self._fw_base = None
            self.supply_mv = 0
            self._ramp = None
            # An unpowered ESP32 drives nothing: every output floats to its pull (low).
            self.outputs.clear()
            self.pwm.clear()
            self.wdt_timeout_ms = 0

    def power_fail_report(self) -> dict[str, Any]:
        with self.lock:
            if self.drop_at is None:
                return {}
            return {
                "safe_after_ms": None if self.safe_at is None else round((self.safe_at - self.drop_at) * 1000 / self.speed, 3),
                "programs": self.programs - self._programs_at_drop,
                "erases": self.erases - self._erases_at_drop,
            }

    def power_on(self) -> None:
        with self.lock:
            self.powered = True
            self.supply_mv = self.nominal_mv
            self.pulls.clear()  # a chip reset leaves every pad without its pull
            self.programs = 0
            self.erases = 0
            self.cut_at_program = 0  # a cut is armed for one power-on only
            self.drop_at = None
            self.safe_at = None
            self.reset_requested = None
            self.cut_requested.clear()
            self.boots += 1

    def ramp_supply(self, to_mv: int, duration_s: float) -> None:
        with self.lock:
            self.step()
            self._ramp = (self.now_s(), duration_s, self.supply_mv, to_mv)

    # ---- the wire to hearth.hal.sim -------------------------------------------------
    def handle(self, line: bytes) -> bytes | None:
        parts = line.split()
        if not parts:
            return None
        op = parts[0]
        with self.lock:
            t = self._at(op, parts)
            if op == b"D":
                pin, v = int(parts[1]), int(parts[2])
                self.outputs[pin] = v
                for p in self.plants:
                    on_output = getattr(p, "on_output", None)
                    if on_output is not None:
                        on_output(self, pin, v)  # e.g. an HX711 clocked by the firmware
                self._note_safe(t)
            elif op == b"P":
                pin, freq, duty = int(parts[1]), int(parts[2]), int(parts[3])
                if freq:
                    self.pwm[pin] = (freq, duty)
                else:
                    self.pwm.pop(pin, None)
                self._note_safe(t)
            elif op == b"K":
                from host_tools.deploy.board_rules import check_pin

                return check_pin(self.board["chip"], int(parts[1]), parts[2].decode()).encode() + b"\n"
            elif op == b"C":
                self.pulls[int(parts[1])] = parts[2].decode()
            elif op == b"I":
                return b"%d\n" % self.read_input(int(parts[1]))
            elif op == b"A":
                return b"%d\n" % self.read_adc(int(parts[1]))
            elif op == b"T":
                self._clock(int(parts[1]))
            elif op == b"W":
                self.wdt_timeout_ms = int(parts[1])
                self.wdt_fed_s = self.now_s()
            elif op == b"F":
                self.wdt_fed_s = self.now_s()
            elif op == b"U":
                uid = int(parts[1])
                data = bytes.fromhex(parts[2].decode()) if len(parts) > 2 else b""
                sink = self.uart_tx_sinks.get(uid)
                if sink is not None:
                    sink(data)
            elif op == b"u":
                uid, n = int(parts[1]), int(parts[2])
                buf = self.uart_rx.setdefault(uid, bytearray())
                out = bytes(buf[:n])
                del buf[:n]
                return out.hex().encode() + b"\n"
            elif op == b"a":
                return b"%d\n" % len(self.uart_rx.get(int(parts[1]), b""))
            elif op == b"G":
                n = int(parts[1])
                self.programs += 1
                if self.cut_at_program and self.programs >= self.cut_at_program:
                    # tear >= the program's size: it lands whole, then power dies (-1)
                    return b"%d\n" % (self.tear_bytes if self.tear_bytes < n else -1)
                return b"%d\n" % n
            elif op == b"E":
                self.erases += 1
            elif op == b"Z":
                self.cut_requested.set()
            elif op == b"X":
                self.reset_requested = parts[1].decode()
        return None

    def actuators_safe(self) -> bool:
        """Every actuator at its safe level, by the board file's safe_outputs/safe_pwm."""
        for item in self.board.get("safe_outputs", []):
            pin = int(item["pin"])
            if pin in self.pwm:
                continue  # judged by safe_pwm below
            if self.outputs.get(pin, item["level"]) != item["level"]:
                return False
        for name, rule in self.board.get("safe_pwm", {}).items():
            pin = self.pins.get(name)
            fd = self.pwm.get(int(pin)) if pin is not None else None
            if not fd:
                continue  # not pulsing: safe (the pin level is checked above)
            freq, duty = fd
            if "max_duty_u16" in rule and duty > rule["max_duty_u16"]:
                return False
            if "max_pulse_us" in rule and duty / 65535.0 * 1e6 / freq > rule["max_pulse_us"]:
                return False
        return True

    def power_fail_begin(self) -> None:
        """The supply collapses (the board's hold-up capacitor now carries it)."""
        with self.lock:
            self._ramp = None
            self.supply_mv = 0
            self.drop_at = self.now_s()
            self.safe_at = self.drop_at if self.actuators_safe() else None
            self._programs_at_drop = self.programs
            self._erases_at_drop = self.erases

    def _clock(self, ticks_us: int) -> None:
        """The interpreter's ticks_us at its virtual time 0. Both it and this process read
        CLOCK_MONOTONIC, so the offset is exact. Its ticks wrap at 2**30 us on the 32-bit
        build (2**62 on a 64-bit one); this line comes at its start, far less than 2**30
        us ago, so the difference modulo 2**30 is right for either."""
        mono_ns = time.monotonic_ns()
        since_us = ((mono_ns // 1000) - ticks_us) % (1 << 30)
        self._fw_base = ((mono_ns / 1e9 - since_us / 1e6) - self._t0) * self.speed
        self._fw_t = self._fw_base
        self._fw_rx = self.now_s()

    def _at(self, op: bytes, parts: list[bytes]) -> float | None:
        """For a timestamped line (D P I A: the firmware's us last), bring the plants to
        its instant and return that world time; None for the others."""
        n = {b"D": 4, b"P": 5, b"I": 3, b"A": 3}.get(op)
        if n is None or len(parts) != n or self._fw_base is None:
            if n is not None:
                self.step(self.now_s())  # an unstamped line acts on arrival
            return None
        t = self._fw_base + int(parts[-1]) / 1e6
        self._fw_t = max(self._fw_t, t)
        self._fw_rx = self.now_s()
        self.step(t)
        return max(t, self._last_step)  # a line late for a reading from this side acts now

    def _note_safe(self, t: float | None = None) -> None:
        if self.drop_at is not None and self.safe_at is None and self.actuators_safe():
            # the firmware's instant, but never before the drop it answers
            self.safe_at = self.now_s() if t is None else max(t, self.drop_at)

    def read_input(self, pin: int) -> int:
        return self._through_pull(pin, self._level(pin))

    def _level(self, pin: int) -> int:
        """The level the board's design gives (a contact read through its intended pull)."""
        for p in self.plants:
            v = p.read_input(self, pin)
            if v is not None:
                return int(v)
        if pin == self.pins.get("power_good"):
            return 1 if self.supply_mv >= self.board.get("supply", {}).get("good_mv", 4500) else 0
        return self.inputs.get(pin, 1)

    def _through_pull(self, pin: int, level: int) -> int:
        named = {v: k for k, v in self.pins.items() if isinstance(v, int)}
        want = self.board.get("pulls", {}).get(named.get(pin, ""))
        if want not in ("up", "down"):
            return level  # driven, or an external resistor: never floats
        open_level = 1 if want == "up" else 0
        if level != open_level:
            return level  # the contact is closed: it drives the pin
        got = self.pulls.get(pin, "none")
        if got == want:
            return level
        if got in ("up", "down"):
            return 1 if got == "up" else 0  # the wrong pull
        return self._rng.getrandbits(1) if self.float_inputs else level  # floating

    def count(self, pin: int) -> int:
        """Rising edges the plants made on pin since the world began (0: nothing there); the
        board's own hal.Counter counts the same edges on its side (hal/sim.py)."""
        for p in self.plants:
            fn = getattr(p, "count", None)
            n = fn(self, pin) if fn is not None else None
            if n is not None:
                return int(n)
        return 0

    def extrusion(self) -> dict[str, float]:
        """The bead, brought up to now: deposited_mm3 (cumulative since the world began),
        flow_mm3_s (nozzle flow now), piston_mm3 (displaced), air_mm3, and t_s (the
        world time of those figures). For the bench and the
        virtual gantry in this process (docs/CONTRACTS.md); {} on a board without an
        extruder."""
        with self.lock:
            self.step()
            for p in self.plants:
                fn = getattr(p, "extrusion", None)
                if fn is not None:
                    # t_s: the world time the bead was brought up to, read under the same
                    # lock (a now_s() taken after returning is late by however long this
                    # thread waited, which smears the bead where its rate changes)
                    return {**fn(), "t_s": self._last_step}
        return {}

    def read_adc(self, pin: int) -> int:
        for p in self.plants:
            v = p.read_adc(self, pin)
            if v is not None:
                return int(v)
        if pin == self.pins.get("supply_adc"):
            div = float(self.board.get("supply", {}).get("divider", 2.0))
            return int(self.supply_mv * 1000 / div)
        return self.adc.get(pin, 0)

    def wdt_expired(self) -> bool:
        with self.lock:
            if not self.wdt_timeout_ms or not self.powered:
                return False
            return (self.now_s() - self.wdt_fed_s) * 1000 > self.wdt_timeout_ms

    # ---- what a probe on the bench sees -----------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            self.step()
            named = {v: k for k, v in self.pins.items() if isinstance(v, int)}
            state: dict[str, Any] = {
                "time_s": round(self.now_s(), 3),
                "powered": self.powered,
                "supply_mv": self.supply_mv,
                "faults": sorted(self.faults),
                "outputs": {named.get(p, str(p)): v for p, v in sorted(self.outputs.items())},
                "pwm": {
                    named.get(p, str(p)): {"freq": f, "duty_u16": d} for p, (f, d) in sorted(self.pwm.items())
                },
                "watchdog_ms": self.wdt_timeout_ms,
                "flash_programs": self.programs,
                "boots": self.boots,
            }
            for p in self.plants:
                state.update(p.snapshot(self))
            return state

    # ---- bench helpers used by plants ---------------------------------------------------
    def duty(self, name: str) -> float:
        """Fraction 0..1 of a PWM output by board pin name (0 when not driven)."""
        pin = self.pins.get(name)
        if pin is None or not self.powered:
            return 0.0
        fd = self.pwm.get(int(pin))
        if not fd:
            return float(self.outputs.get(int(pin), 0))
        return fd[1] / 65535.0

    def pulse_us(self, name: str) -> float | None:
        """Pulse width of a PWM output (servo signal), None when not pulsing."""
        pin = self.pins.get(name)
        if pin is None or not self.powered:
            return None
        fd = self.pwm.get(int(pin))
        if not fd or fd[1] == 0:
            return None
        freq, duty = fd
        return duty / 65535.0 * 1e6 / freq
