# Plant models for the virtual bench: a nozzle heater and its thermistor.
#
# Written to run unchanged on CPython (the virtual board's host side, host tests) AND
# inside the MicroPython unix port (firmware tests, bench/heater_control.py): no numpy,
# no dataclasses, no typing, no f-strings.
#
# HeaterPlant is a lumped thermal model with three lags between the heater and the
# thermistor's reading, because a single-node model is far too kind to a controller:
#
#   heater core (C_h)  --k_hb-->  block / nozzle (C_b)  --loss (+draught)-->  ambient
#                                      |
#                                      +--> delay line (delay_s) --> sensor bead (tau_s)
#
# `temp` is the block (food-contact) temperature; `sensor_temp` is what the thermistor
# bead is at. Heater faults: `heater_open` (no power whatever the duty), `stuck_on`
# (full power whatever the duty). NtcAdc turns a bead temperature into the microvolts
# an ESP32 ADC reads through a divider, with seeded noise and open/short faults.
import math

# Presets: realistic values for a food printer nozzle (ambient 22 C).
#   nozzle20: 20 W cartridge in a ~40 g aluminium nozzle block; full power reaches
#             32 C in ~20 s, 45 C in ~45 s; holding 32 C takes ~1.2 W.
#   nozzle40: the same block with a 40 W cartridge.
#   block:    a slow, heavy ~330 g heated syringe block with a 40 W heater and a
#             thermistor seated further away (longer lag and dead time).
PRESETS = {
    "nozzle20": {
        "power_w": 20.0, "core_j_k": 3.0, "core_w_k": 3.0, "mass_j_k": 40.0,
        "loss_w_k": 0.12, "sensor_s": 1.2, "delay_s": 0.3, "ambient_c": 22.0,
    },
    "nozzle40": {
        "power_w": 40.0, "core_j_k": 3.0, "core_w_k": 3.0, "mass_j_k": 40.0,
        "loss_w_k": 0.12, "sensor_s": 1.2, "delay_s": 0.3, "ambient_c": 22.0,
    },
    "block": {
        "power_w": 40.0, "core_j_k": 6.0, "core_w_k": 4.0, "mass_j_k": 300.0,
        "loss_w_k": 0.30, "sensor_s": 3.0, "delay_s": 1.0, "ambient_c": 22.0,
    },
}


class HeaterPlant:
    def __init__(self, preset=None, sub_dt=0.05, **kw):
        p = dict(PRESETS[preset]) if preset else dict(PRESETS["nozzle20"])
        for k in kw:
            if k not in p:
                raise ValueError("unknown plant parameter %s" % k)
            p[k] = kw[k]
        self.params = p
        self.power_w = float(p["power_w"])
        self.core_j_k = float(p["core_j_k"])
        self.core_w_k = float(p["core_w_k"])
        self.mass_j_k = float(p["mass_j_k"])
        self.loss_w_k = float(p["loss_w_k"])
        self.sensor_s = float(p["sensor_s"])
        self.delay_s = float(p["delay_s"])
        self.ambient = float(p["ambient_c"])
        self.sub_dt = float(sub_dt)
        self.draught_w_k = 0.0  # extra loss to ambient (a draught, a fan, a door)
        self.heater_open = False
        self.stuck_on = False
        n = int(self.delay_s / self.sub_dt + 0.5)
        self._ring = [self.ambient] * max(1, n)
        self._ri = 0
        self.reset(self.ambient)

    def reset(self, temp=None):
        t = self.ambient if temp is None else float(temp)
        self.core = t
        self.temp = t
        self.sensor_temp = t
        for i in range(len(self._ring)):
            self._ring[i] = t
        self.time_s = 0.0
        self.energy_j = 0.0  # heater energy delivered

    def heater_w(self, duty):
        if self.heater_open:
            return 0.0
        if self.stuck_on:
            return self.power_w
        if duty <= 0.0:
            return 0.0
        if duty >= 1.0:
            return self.power_w
        return self.power_w * duty

    def step(self, dt_s, duty):
        # Advance by dt_s seconds at the given mean duty (0..1). The 10 Hz PWM ripple is
        # averaged: the heater core's own lag (~1 s) smooths it far below 0.01 C.
        if dt_s <= 0:
            return self.temp
        n = int(dt_s / self.sub_dt + 0.999)
        if n < 1:
            n = 1
        h = dt_s / n
        q = self.heater_w(duty)
        ring = self._ring
        rn = len(ring)
        for _ in range(n):
            flow = self.core_w_k * (self.core - self.temp)
            self.core += h * (q - flow) / self.core_j_k
            loss = (self.loss_w_k + self.draught_w_k) * (self.temp - self.ambient)
            self.temp += h * (flow - loss) / self.mass_j_k
            # delay line then first-order sensor lag
            delayed = ring[self._ri]
            ring[self._ri] = self.temp
            self._ri = (self._ri + 1) % rn
            if self.delay_s <= 0:
                delayed = self.temp
            a = h / self.sensor_s if self.sensor_s > h else 1.0
            self.sensor_temp += a * (delayed - self.sensor_temp)
        self.time_s += dt_s
        self.energy_j += q * dt_s
        return self.temp

    def max_temp(self):
        # Steady state at full power, no draught.
        return self.ambient + self.power_w / self.loss_w_k

    def adc_uv(self, ntc):
        return ntc.uv(self.sensor_temp)


def full_power_time(preset, setpoint, start=None, dt=0.1, limit_s=20000.0, **kw):
    # The physical minimum: seconds for the block (food-side) temperature to reach
    # `setpoint` at 100 % duty from `start` (ambient by default). None if never.
    p = HeaterPlant(preset, **kw)
    if start is not None:
        p.reset(start)
    t = 0.0
    while t < limit_s:
        prev = p.temp
        p.step(dt, 1.0)
        t += dt
        if p.temp >= setpoint:
            # interpolate inside the last step
            return t - dt * (p.temp - setpoint) / (p.temp - prev)
    return None


class Lcg:
    # Numerical Recipes LCG, 32-bit; same sequence on CPython and MicroPython.
    def __init__(self, seed=1):
        self.s = seed & 0xFFFFFFFF

    def next(self):
        self.s = (1664525 * self.s + 1013904223) & 0xFFFFFFFF
        return self.s

    def uniform(self):
        # -1.0 .. 1.0
        return (self.next() >> 8) / 8388608.0 - 1.0


class NtcAdc:
    # NTC thermistor to ground, pull-up resistor to vref: the ADC reads the NTC's
    # voltage. Beta model for the part itself (a real part deviates from it a little;
    # set `sh_skew` to bend it so the firmware's Steinhart-Hart fit has work to do).
    # Faults: fault = "open" (wire off: the pull-up drives the input to vref, which
    # the ESP32 ADC reads as its top, adc_max_uv), "short" (0 V plus the ADC's floor).
    def __init__(self, r0=100000.0, t0=25.0, beta=3950.0, r_pullup=100000.0,
                 vref_uv=3300000, noise_uv=2000, seed=12345, adc_max_uv=3150000,
                 adc_floor_uv=20000, sh_skew=0.0):
        self.r0 = float(r0)
        self.t0 = float(t0)
        self.beta = float(beta)
        self.r_pullup = float(r_pullup)
        self.vref_uv = vref_uv
        self.noise_uv = noise_uv
        self.adc_max_uv = adc_max_uv
        self.adc_floor_uv = adc_floor_uv
        self.sh_skew = sh_skew
        self.rng = Lcg(seed)
        self.fault = None

    def resistance(self, temp_c):
        tk = temp_c + 273.15
        x = 1.0 / tk - 1.0 / (self.t0 + 273.15)
        return self.r0 * math.exp(self.beta * x + self.sh_skew * x * x * 1e6)

    def ideal_uv(self, temp_c):
        r = self.resistance(temp_c)
        return self.vref_uv * r / (r + self.r_pullup)

    def uv(self, temp_c):
        noise = self.noise_uv * self.rng.uniform() if self.noise_uv else 0.0
        if self.fault == "open":
            v = self.vref_uv + noise
        elif self.fault == "short":
            v = self.adc_floor_uv + abs(noise)
        else:
            v = self.ideal_uv(temp_c) + noise
        if v > self.adc_max_uv:
            v = self.adc_max_uv
        if v < 0:
            v = 0
        return int(v)


class WorldHook:
    # Couples a plant and its thermistor to a simulated world (hearth.hal.sim's
    # LocalWorld, or anything with .pwm {pin: (freq, duty_u16)} and .adc {pin: uV}):
    # append it to world.hooks. Each time advance steps the plant by the elapsed time
    # at the duty the firmware last wrote, then puts the new reading on the ADC pin.
    def __init__(self, world, plant, ntc, pwm_pin, adc_pin):
        self.world = world
        self.plant = plant
        self.ntc = ntc
        self.pwm_pin = pwm_pin
        self.adc_pin = adc_pin
        self.last_us = world.now_us()
        world.adc[adc_pin] = plant.adc_uv(ntc)

    def duty(self):
        fd = self.world.pwm.get(self.pwm_pin)
        if not fd or not fd[0]:
            return 0.0
        return fd[1] / 65535.0

    def __call__(self, now_us):
        dt = (now_us - self.last_us) / 1000000.0
        self.last_us = now_us
        if dt > 0:
            self.plant.step(dt, self.duty())
        self.world.adc[self.adc_pin] = self.plant.adc_uv(self.ntc)
