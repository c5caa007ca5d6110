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
# * extruder: steps = the step PWM's frequency integrated over time while it pulses
#   (duty > 0) and the driver is enabled (stepper_enable low); direction from
#   stepper_dir (1 = extrude). Paste back-pressure rises with the flow and relaxes
#   with tau_s; a clog stalls the motor: steps go to stalled_steps, pressure climbs;
# * clog_sw (active low): 0 while the clog fault is on.
#
# Faults (bench names): thermistor_open, thermistor_short, heater_open,
# heater_stuck_on, draught, clog.
from .heater import HeaterPlant, NtcAdc

FAULTS = ("thermistor_open", "thermistor_short", "heater_open", "heater_stuck_on", "draught", "clog")

PARAMS = ("ambient_c", "power_w", "loss_w_k", "mass_j_k", "core_j_k", "core_w_k", "sensor_s",
          "draught_w_k", "noise_uv", "pressure_k", "pressure_tau_s", "nozzle_c")


class PrinterPlant:
    faults = FAULTS

    def __init__(self, pins, thermistor=None, preset="nozzle20", seed=12345):
        th = thermistor or {}
        self.pins = pins
        self.heater = HeaterPlant(preset)
        self.ntc = NtcAdc(r0=float(th.get("r25", 100000)), beta=float(th.get("beta", 3950)),
                                 r_pullup=float(th.get("pullup", 100000)),
                                 vref_uv=int(th.get("vref_mv", 3300)) * 1000, seed=seed)
        self.draught_w_k = 0.3
        self.pressure_k = 0.05     # kPa per step/s at steady flow
        self.pressure_tau_s = 2.0
        self.pressure_kpa = 0.0
        self.steps = 0.0           # net steps that moved paste (+ extrude, - retract)
        self.stalled = 0.0         # steps commanded into a clog
        self.step_hz = 0
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
        # extruder
        sp = self._pwm(world, "stepper_step") if powered else None
        en_pin = self._pin("stepper_enable")
        enabled = powered and en_pin is not None and world.outputs.get(en_pin, 1) == 0
        hz = sp[0] if (sp and sp[1] > 0 and enabled) else 0
        self.step_hz = hz
        dir_pin = self._pin("stepper_dir")
        d = 1 if dir_pin is None or world.outputs.get(dir_pin, 0) == 1 else -1
        n = hz * dt_s
        if n:
            if "clog" in faults:
                self.stalled += n
                self.pressure_kpa += self.pressure_k * hz * dt_s / self.pressure_tau_s * 4
            else:
                self.steps += d * n
        target = self.pressure_k * hz * d if "clog" not in faults else self.pressure_kpa
        a = dt_s / self.pressure_tau_s
        if a > 1.0:
            a = 1.0
        self.pressure_kpa += a * (target - self.pressure_kpa)

    def read_input(self, world, pin):
        if pin == self._pin("clog_sw"):
            return 0 if "clog" in self._faults(world) else 1
        return None

    def read_adc(self, world, pin):
        if pin == self._pin("thermistor_adc"):
            return self.ntc.uv(self.heater.sensor_temp)
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
        }

    # bench parameter -> (part, attribute, type); part "h" is the heater plant, "n" the NTC
    _PARAMS = {
        "ambient_c": ("h", "ambient", float), "power_w": ("h", "power_w", float),
        "loss_w_k": ("h", "loss_w_k", float), "mass_j_k": ("h", "mass_j_k", float),
        "core_j_k": ("h", "core_j_k", float), "core_w_k": ("h", "core_w_k", float),
        "sensor_s": ("h", "sensor_s", float), "noise_uv": ("n", "noise_uv", int),
        "draught_w_k": ("", "draught_w_k", float), "pressure_k": ("", "pressure_k", float),
        "pressure_tau_s": ("", "pressure_tau_s", float),
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


def attach(world, plant):
    h = plant.hook(world)
    world.hooks.append(h)
    return h

