# The printer toolhead's physical world: nozzle heater + thermistor, paste extruder,
# clog switch. For the virtual board (host_tools/sim/world.py, through
# adapters.py) and for firmware tests on a LocalWorld (attach()).
#
# Runs in CPython and in the MicroPython unix port: no typing, no f-strings, no
# dataclasses. Imports heater.py from the same package either way.
#
# Model:
# * heater: heater.HeaterPlant (preset nozzle20 by default) at the duty of the PWM on
#   the "heater" pin; no PWM (board off, deinit) is 0 W, so the nozzle keeps cooling
#   while the board is off;
# * thermistor: heater.NtcAdc with the board file's divider (r25, beta, pullup,
#   vref) on the "thermistor_adc" pin, with noise;
# * step pulses: rising edges of the step PWM (duty > 0), counted whole: a PWM that
#   starts begins its period with an edge; on an ESP32-S3 (chip "esp32s3") every
#   frequency change restarts the LEDC timer, so the period in progress is cut short
#   and a new one begins with an edge (steps gained: issue 11); the classic ESP32's
#   change takes effect with the phase kept. `pulses` is what a pulse counter on the
#   pin sees (hal.Counter on the virtual board), driver enabled or not;
# * extruder: each edge while the driver is enabled (stepper_enable low) is a step,
#   direction from stepper_dir (1 = extrude). Paste back-pressure rises with the flow
#   and relaxes with tau_s; a clog stalls the motor: steps go to stalled_steps,
#   pressure climbs;
# * the bead: the piston displaces e_mm3_per_mm mm3 per mm of E (steps_per_mm steps);
#   the nozzle flow follows the piston's flow with a first-order lag of bead_tau_s
#   (the paste and the syringe/hose are a compliance C, the nozzle a resistance R:
#   dP/dt = (q_piston - q_out)/C, q_out = P/R, so tau = R C). 0.3 s by default: Klipper's
#   pressure-advance values for Bowden-fed extruders (0.3..1 s) and paste extruders'
#   start-up lag of a few hundred ms are the same mechanism; it is a bench knob. A
#   retract takes the pressure below zero: the nozzle sucks air in (air_mm3), it
#   deposits nothing, and what flows out afterwards pushes that air out before any
#   paste lands. Volume is kept: piston = deposited + stored (flow x tau) - air.
#   deposited_mm3 integrates the paste that landed. Without pressure advance the
#   bead starts late and drools on after the piston stops; with K = bead_tau_s the
#   toolhead's K x dv/dt cancels the lag;
# * clog_sw (active low): 0 while the clog fault is on.
#
# Faults (bench names): thermistor_open, thermistor_short, heater_open,
# heater_stuck_on, draught, clog.
import math

from .heater import HeaterPlant, NtcAdc

FAULTS = ("thermistor_open", "thermistor_short", "heater_open", "heater_stuck_on", "draught", "clog")
FAULTS_T1 = FAULTS + ("thermistor2_open",)  # only where the board has a body heater

PARAMS = ("ambient_c", "power_w", "loss_w_k", "mass_j_k", "core_j_k", "core_w_k", "sensor_s",
          "draught_w_k", "noise_uv", "pressure_k", "pressure_tau_s", "nozzle_c", "bead_tau_s",
          "steps_per_mm", "e_mm3_per_mm")


class PrinterPlant:
    faults = FAULTS

    def __init__(self, pins, thermistor=None, preset="nozzle20", seed=12345, chip=None):
        th = thermistor or {}
        self.pins = pins
        self.heater = HeaterPlant(preset)
        self.ntc = NtcAdc(r0=float(th.get("r25", 100000)), beta=float(th.get("beta", 3950)),
                                 r_pullup=float(th.get("pullup", 100000)),
                                 vref_uv=int(th.get("vref_mv", 3300)) * 1000, seed=seed)
        # the body heater (T1) where the board has pins for one: the same heater model
        self.heater2 = None
        self.ntc2 = None
        self.duty2 = 0.0
        if "heater2" in pins and "thermistor2_adc" in pins:
            self.heater2 = HeaterPlant(preset)
            self.faults = FAULTS_T1  # a bench fault no board without T1 could show
            self.ntc2 = NtcAdc(r0=float(th.get("r25", 100000)), beta=float(th.get("beta", 3950)),
                                      r_pullup=float(th.get("pullup", 100000)),
                                      vref_uv=int(th.get("vref_mv", 3300)) * 1000, seed=seed + 1)
        self.draught_w_k = 0.3
        self.pressure_k = 0.05     # kPa per step/s at steady flow
        self.pressure_tau_s = 2.0
        self.pressure_kpa = 0.0
        self.steps = 0.0           # net steps that moved paste (+ extrude, - retract)
        self.stalled = 0.0         # steps commanded into a clog
        self.step_hz = 0
        self.restarts = chip == "esp32s3"   # a frequency change restarts the LEDC timer
        self.pulses = 0            # rising edges on the step pin (what a counter sees)
        self._edge_f = 0           # the frequency the pin pulsed at
        self._phase = 0.0          # periods into the current one
        # the bead
        self.steps_per_mm = 400.0
        self.e_mm3_per_mm = 2.405  # a 1.75 mm filament's section: slicers' E unit
        self.bead_tau_s = 0.3
        self.flow_mm3_s = 0.0      # nozzle flow (negative: suck-back pressure)
        self.deposited_mm3 = 0.0
        self.piston_mm3 = 0.0
        self.air_mm3 = 0.0         # sucked into the nozzle by a retract, not yet pushed out
        self.active = set()        # faults on, for a LocalWorld (a World keeps world.faults)
        self._last_us = None
        self.duty = 0.0

    # ---- pins ----------------------------------------------------------------------
    def _pin(self, name):
        return self.pins.get(name)

    def _pwm(self, world, name):
        p = self._pin(name)
        if p is None:
            return None
        return world.pwm.get(p)

    def _faults(self, world):
        f = getattr(world, "faults", None)
        return f if isinstance(f, set) else self.active

    # ---- the physics -----------------------------------------------------------------
    def advance(self, world, dt_s):
        if dt_s <= 0:
            return
        faults = self._faults(world)
        powered = getattr(world, "powered", True)
        fd = self._pwm(world, "heater") if powered else None
        duty = fd[1] / 65535.0 if fd and fd[0] else 0.0
        self.duty = duty
        h = self.heater
        h.heater_open = "heater_open" in faults
        h.stuck_on = "heater_stuck_on" in faults and powered
        h.draught_w_k = self.draught_w_k if "draught" in faults else 0.0
        h.step(dt_s, duty)
        fault = None
        if "thermistor_open" in faults:
            fault = "open"
        elif "thermistor_short" in faults:
            fault = "short"
        setattr(self.ntc, "fault", fault)  # noqa: B010 - NtcAdc declares it None-only
        if self.heater2 is not None:
            f2 = self._pwm(world, "heater2") if powered else None
            self.duty2 = f2[1] / 65535.0 if f2 and f2[0] else 0.0
            self.heater2.step(dt_s, self.duty2)
            fault2 = "open" if "thermistor2_open" in faults else None
            setattr(self.ntc2, "fault", fault2)  # noqa: B010
        # extruder
        sp = self._pwm(world, "stepper_step") if powered else None
        en_pin = self._pin("stepper_enable")
        enabled = powered and en_pin is not None and world.outputs.get(en_pin, 1) == 0
        f = sp[0] if (sp and sp[1] > 0) else 0
        edges = self._edges(f, dt_s)
        hz = f if enabled else 0
        self.step_hz = hz
        dir_pin = self._pin("stepper_dir")
        d = 1 if dir_pin is None or world.outputs.get(dir_pin, 0) == 1 else -1
        n = edges if enabled else 0
        q_in = 0.0
        if n:
            if "clog" in faults:
                self.stalled += n
                self.pressure_kpa += self.pressure_k * hz * dt_s / self.pressure_tau_s * 4
            else:
                self.steps += d * n
                q_in = d * n / self.steps_per_mm * self.e_mm3_per_mm / dt_s
        self._bead(q_in, dt_s)
        target = self.pressure_k * hz * d if "clog" not in faults else self.pressure_kpa
        a = dt_s / self.pressure_tau_s
        if a > 1.0:
            a = 1.0
        self.pressure_kpa += a * (target - self.pressure_kpa)

    def _edges(self, f, dt_s):
        # rising edges of a 50 % PWM at f over dt_s (f: the frequency since the last call)
        n = 0
        if f != self._edge_f:
            if f and (not self._edge_f or self.restarts):
                n = 1                  # (re)started: the period begins with an edge
                self._phase = 0.0
            self._edge_f = f
        if f:
            ph = self._phase + f * dt_s
            k = int(ph)
            n += k
            self._phase = ph - k
        self.pulses += n
        return n

    def _bead(self, q_in, dt_s):
        # exact first-order response to q_in held over dt_s
        tau = self.bead_tau_s
        q0 = self.flow_mm3_s
        self.piston_mm3 += q_in * dt_s
        if tau <= 0:
            q1 = q_in
            vol = q_in * dt_s
        else:
            e = math.exp(-dt_s / tau)
            q1 = q_in + (q0 - q_in) * e
            vol = q_in * dt_s + (q0 - q_in) * tau * (1.0 - e)
        self.flow_mm3_s = q1
        if vol < 0:
            self.air_mm3 -= vol        # sucked back: air in at the tip
        elif vol > 0:
            out = vol - self.air_mm3   # the air goes out first
            if out > 0:
                self.air_mm3 = 0.0
                self.deposited_mm3 += out
            else:
                self.air_mm3 = -out

    def extrusion(self):
        """Deposited volume (mm3, since power-on of the world), nozzle flow (mm3/s, 0 when
        sucking back), the piston's displaced volume (mm3) and the air a retract left in
        the nozzle (mm3): for the bench."""
        return {"deposited_mm3": self.deposited_mm3, "flow_mm3_s": max(self.flow_mm3_s, 0.0),
                "piston_mm3": self.piston_mm3, "air_mm3": self.air_mm3}

    def count(self, world, pin):
        # a pulse counter on pin (hal.Counter): the step pin's rising edges
        return self.pulses if pin == self._pin("stepper_step") else None

    def read_input(self, world, pin):
        if pin == self._pin("clog_sw"):
            return 0 if "clog" in self._faults(world) else 1
        return None

    def read_adc(self, world, pin):
        if pin == self._pin("thermistor_adc"):
            return self.ntc.uv(self.heater.sensor_temp)
        if self.heater2 is not None and self.ntc2 is not None and pin == self._pin("thermistor2_adc"):
            return self.ntc2.uv(self.heater2.sensor_temp)
        return None

    def snapshot(self, world):
        h = self.heater
        return {
            "nozzle_c": round(h.temp, 3),
            "sensor_c": round(h.sensor_temp, 3),
            "core_c": round(h.core, 3),
            "heater_duty": round(self.duty, 4),
            "heater_w": round(h.heater_w(self.duty), 3),
            "ambient_c": h.ambient,
            "extruded_steps": int(self.steps),
            "stalled_steps": int(self.stalled),
            "step_hz": self.step_hz,
            "pressure_kpa": round(self.pressure_kpa, 2),
            "step_pulses": self.pulses,
            "body_c": round(self.heater2.temp, 3) if self.heater2 is not None else None,
            "deposited_mm3": round(self.deposited_mm3, 4),
            "nozzle_flow_mm3_s": round(max(self.flow_mm3_s, 0.0), 4),
        }

    # bench parameter -> (part, attribute, type); part "h" is the heater plant, "n" the NTC
    _PARAMS = {
        "ambient_c": ("h", "ambient", float), "power_w": ("h", "power_w", float),
        "loss_w_k": ("h", "loss_w_k", float), "mass_j_k": ("h", "mass_j_k", float),
        "core_j_k": ("h", "core_j_k", float), "core_w_k": ("h", "core_w_k", float),
        "sensor_s": ("h", "sensor_s", float), "noise_uv": ("n", "noise_uv", int),
        "draught_w_k": ("", "draught_w_k", float), "pressure_k": ("", "pressure_k", float),
        "pressure_tau_s": ("", "pressure_tau_s", float), "bead_tau_s": ("", "bead_tau_s", float),
        "steps_per_mm": ("", "steps_per_mm", float), "e_mm3_per_mm": ("", "e_mm3_per_mm", float),
    }

    def set_param(self, name, value):
        if name == "nozzle_c":
            self.heater.reset(float(value))   # a pre-warmed (or chilled) nozzle
            return True
        spec = self._PARAMS.get(name)
        if spec is None:
            return False
        part, attr, typ = spec
        obj = self.heater if part == "h" else self.ntc if part == "n" else self
        setattr(obj, attr, typ(value))
        return True

    # ---- a LocalWorld (firmware tests) --------------------------------------------------
    def hook(self, world):
        """A world.hooks callable for hearth.hal.sim's LocalWorld: steps the plant by
        the elapsed virtual time and publishes the ADC and the clog switch."""
        self._last_us = world.now_us()
        self._publish(world)

        def run(now_us):
            dt = (now_us - self._last_us) / 1000000.0
            self._last_us = now_us
            if dt > 0:
                self.advance(world, dt)
            self._publish(world)
        return run

    def _publish(self, world):
        p = self._pin("thermistor_adc")
        if p is not None:
            world.adc[p] = self.read_adc(world, p)
        p = self._pin("clog_sw")
        if p is not None:
            world.inputs[p] = self.read_input(world, p)
        p = self._pin("thermistor2_adc")
        if p is not None and self.heater2 is not None:
            world.adc[p] = self.read_adc(world, p)


def attach(world, plant):
    h = plant.hook(world)
    world.hooks.append(h)
    return h

