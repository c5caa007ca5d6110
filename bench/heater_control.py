# Heater control benchmark: the firmware's model-based controller (core.pid.ModelPid)
# against the textbook baseline (Ziegler-Nichols PID from a relay autotune, the
# Marlin M303 / Klipper PID_CALIBRATE method), both running inside the real shell
# (drivers.heater.Heater) with the real thermistor driver and the same thermal
# protection, on the simulated HAL, against the plant models in host_tools/sim/plants/heater.py.
#
# Runs INSIDE MicroPython so the measured code is the firmware as it runs on a board
# (note: the unix port's floats are double precision; the ESP32's are single):
#
#   MICROPYPATH=firmware:host_tools/sim .venv/bin/micropython bench/heater_control.py
#   (host_tools/sim: host_tools.sim.MICROPY_PATH, where the `plants` package is)
#
# (It also runs under CPython with firmware/ and host_tools/sim on sys.path: a bench
# script may import firmware code; the host package never does.)
#
# Virtual time; control period 100 ms (heater PWM at 10 Hz, duty averaged by the plant).
# For each plant (nozzle20, nozzle40, block) and setpoint (32, 45, 65 C) from 22 C:
#   ratio      settle time (block temperature enters +/-0.5 C and stays) divided by
#              the full-power physical minimum (the plant at 100 % from ambient, time
#              for the block to reach the setpoint)
#   overshoot  max block temperature - setpoint (C)
#   ripple     block temperature peak-to-peak over the last 60 s (C)
#   trips      thermal protection trips (must be 0)
# The food-side (block) temperature is scored, not the lagging sensor reading.
# Output: bench/results/heater_control.json and a markdown table on stdout.
#
# pyright: reportMissingImports=false
# (the imports below resolve through MICROPYPATH, not the host package)
import json
import sys

from hearth.control.autotune import RelayAutotune
from hearth.control.pid import ModelPid, Pid
from hearth.control.thermal import ThermalProtection
from hearth.drivers.heater import Heater
from hearth.drivers.thermistor import Thermistor
from hearth.hal import sim
from plants import heater as plants

PERIOD_MS = 100
PWM_PIN = 26
ADC_PIN = 34
SETPOINTS = (32.0, 45.0, 65.0)
PLANTS = ("nozzle20", "nozzle40", "block")
BAND = 0.5

# Model parameters handed to ModelPid: the plant's nominal values with deliberate
# errors (heat capacity +10 %, loss -15 %, power -5 %, sensor lag and dead time
# lumped into one first-order lag), as a datasheet-and-scale estimate would give.
DEFAULT_ERR = {"mass_j_k": 1.10, "loss_w_k": 0.85, "power_w": 0.95, "core_j_k": 1.0, "core_w_k": 1.0}
MODEL_ERR = dict(DEFAULT_ERR)
DIST_RATE = 0.3

# Thermal protection: firmware defaults for the nozzles; the heavy block heats at
# ~0.13 C/s with ~5 s of lag, so its heating watch and stuck-on windows are longer.
PROTECTION = {
    "nozzle20": {},
    "nozzle40": {},
    "block": {"watch_s": 20.0, "stuck_grace_s": 10.0, "stuck_rise_c": 1.0,
              "resid_tau_s": 3.0, "resid_s": 4.0, "resid_frac": 0.0},
}


def model_config(preset):
    p = plants.PRESETS[preset]
    c = {}
    for k in ("power_w", "mass_j_k", "loss_w_k", "core_j_k", "core_w_k"):
        c[k] = p[k] * MODEL_ERR[k]
    c["sensor_s"] = p["sensor_s"] + p["delay_s"]
    c["ambient_c"] = p["ambient_c"]
    c["dist_rate"] = DIST_RATE
    return c


def protection_config(preset):
    # the protection's own copy of the (same, imperfect) heater model: its residual checks
    c = dict(PROTECTION[preset])
    m = model_config(preset)
    for k in ("power_w", "mass_j_k", "core_j_k", "core_w_k", "loss_w_k", "sensor_s", "ambient_c"):
        c[k] = m[k]
    return c


class Rig:
    def __init__(self, preset, controller):
        w = sim.world
        w.reset()
        self.world = w
        self.plant = plants.HeaterPlant(preset)
        self.ntc = plants.NtcAdc()
        self.hook = plants.WorldHook(w, self.plant, self.ntc, PWM_PIN, ADC_PIN)
        w.hooks.append(self.hook)
        self.pwm = sim.Pwm(PWM_PIN, 10, 0)
        self.therm = Thermistor(sim.Adc(ADC_PIN))
        self.prot = ThermalProtection(protection_config(preset))
        self.heater = Heater(self.pwm, self.therm, controller, self.prot, {"period_ms": PERIOD_MS})

    def now_ms(self):
        return sim.ticks_ms()

    def tick(self):
        self.world.advance_us(PERIOD_MS * 1000)
        self.heater.tick(self.now_ms())


def run_control(preset, sp, controller, t_min):
    rig = Rig(preset, controller)
    rig.heater.tick(rig.now_ms())
    rig.heater.set_target(sp)
    duration = 3.0 * t_min + 600.0
    n = int(duration * 1000 / PERIOD_MS)
    last_out = 0.0
    peak = -1e9
    win = int(60000 / PERIOD_MS)
    lo_w = 1e9
    hi_w = -1e9
    lo_s = 1e9
    hi_s = -1e9
    for i in range(n):
        rig.tick()
        t = rig.plant.temp
        if t > peak:
            peak = t
        if t > sp + BAND or t < sp - BAND:
            last_out = (i + 1) * PERIOD_MS / 1000.0
        if i >= n - win:
            if t < lo_w:
                lo_w = t
            if t > hi_w:
                hi_w = t
            m = rig.heater.temp
            if m is not None:
                if m < lo_s:
                    lo_s = m
                if m > hi_s:
                    hi_s = m
    fault = rig.heater.fault
    return {
        "settle_s": round(last_out, 2),
        "ratio": round(last_out / t_min, 3),
        "overshoot_c": round(peak - sp if peak > sp else 0.0, 3),
        "ripple_c": round(hi_w - lo_w, 3),
        "sensor_ripple_c": round(hi_s - lo_s, 3),
        "trips": 0 if fault is None else 1,
        "trip": None if fault is None else fault[0],
        "settled": last_out < duration - 60.0,
    }


def autotune(preset, sp):
    rig = Rig(preset, Pid())
    at = RelayAutotune({"setpoint": sp, "hysteresis_c": 0.5})
    limit = int(4 * 3600 * 1000 / PERIOD_MS)
    rig.heater.tick(rig.now_ms())
    for _ in range(limit):
        rig.world.advance_us(PERIOD_MS * 1000)
        now = rig.now_ms()
        rig.therm.read(now)
        d = at.step(now, rig.therm.temp)
        rig.pwm.duty_u16(int(d * 65535 + 0.5))
        if at.done:
            break
    return at


# Healthy runs that must never trip, ModelPid in control (besides the heat-ups above):
# setpoint steps up and down; at each setpoint, draughts the heater can hold (x2 the
# loss, the virtual board's bench draught of 0.3 W/K, x4 and x6 the loss; each taken away
# again; a draught is held when it takes at most 90 % of the heater's power; in the
# strongest one held the heater is switched off and heats up again), then the
# reading stepped down 3 C (the bead chilled: a thermistor glitch; it recovers with the
# sensor lag) and the block chilled 3 C (a cold paste charge); then the heater off from
# the hottest setpoint and the same two steps with the heater idle.
VB_DRAUGHT_W_K = 0.3      # host_tools/sim/plants/printer.py: the bench's "draught" fault
DRAUGHTS = (("x2", 1.0), ("0.3 W/K", None), ("x4", 3.0), ("x6", 5.0))  # (name, extra loss / nominal loss)


def _draught_w_k(preset, factor):
    return VB_DRAUGHT_W_K if factor is None else factor * plants.PRESETS[preset]["loss_w_k"]


def holdable(preset, sp, draught_w_k, margin=0.9):
    p = plants.PRESETS[preset]
    return (p["loss_w_k"] + draught_w_k) * (sp - p["ambient_c"]) <= margin * p["power_w"]


def _bead(rig):
    rig.plant.sensor_temp -= 3.0


def _block(rig):
    rig.plant.temp -= 3.0


def healthy_phases(preset):
    phases = []
    for sp in (32.0, 65.0, 45.0, 32.0, 45.0):
        phases.append(("sp %g" % sp, sp, None))
    for sp in (32.0, 45.0, 65.0):
        phases.append(("sp %g" % sp, sp, None))
        strongest = None
        for name, f in DRAUGHTS:
            w = _draught_w_k(preset, f)
            if holdable(preset, sp, w):
                phases.append(("draught %s at %g" % (name, sp), sp, w))
                phases.append(("draught off at %g" % sp, sp, 0.0))
                strongest = (name, w)
        if strongest is not None:
            # cool down and heat up again in the strongest draught held
            name, w = strongest
            phases.append(("draught %s at %g" % (name, sp), sp, w))
            phases.append(("heater off in draught %s" % name, None, None))
            phases.append(("heat-up to %g in draught %s" % (sp, name), sp, None))
            phases.append(("draught off at %g" % sp, sp, 0.0))
        phases.append(("reading -3 C at %g" % sp, sp, _bead))
        phases.append(("cold charge -3 C at %g" % sp, sp, _block))
    phases.append(("heater off", None, None))
    phases.append(("reading -3 C, heater off", None, _bead))
    phases.append(("cold charge -3 C, heater off", None, _block))
    return phases


def healthy_trips(preset):
    rig = Rig(preset, ModelPid(model_config(preset)))
    rig.heater.tick(rig.now_ms())
    hold = max(300.0, 3.0 * plants.full_power_time(preset, 65.0))
    phases = healthy_phases(preset)
    trips = []
    for name, sp, act in phases:
        if callable(act):
            act(rig)
        elif act is not None:
            rig.plant.draught_w_k = act
        elif rig.heater.target != sp:
            rig.heater.set_target(sp)
        for _ in range(int(hold * 1000 / PERIOD_MS)):
            rig.tick()
            f = rig.heater.fault
            if f is not None:
                trips.append("%s: %s %s" % (name, f[0], f[1]))
                rig.heater.clear_fault()
                rig.heater.set_target(sp)
                break
    return {"plant": preset, "phases": len(phases), "trips": trips}


def unholdable(preset):
    # Draughts the heater cannot hold (duty saturates, the temperature falls): a real
    # "heater cannot hold" fault, reported, not scored. Seconds to the trip and its code.
    out = []
    for sp in SETPOINTS:
        for name, f in DRAUGHTS:
            w = _draught_w_k(preset, f)
            if holdable(preset, sp, w, 1.0):
                continue
            rig = Rig(preset, ModelPid(model_config(preset)))
            rig.heater.tick(rig.now_ms())
            rig.heater.set_target(sp)
            for _ in range(int((2.0 * plants.full_power_time(preset, sp) + 60.0) * 1000 / PERIOD_MS)):
                rig.tick()
            t0 = rig.now_ms()
            rig.plant.draught_w_k = w
            r = {"plant": preset, "setpoint": sp, "draught": name, "code": None, "detect_s": None}
            for _ in range(int(600000 / PERIOD_MS)):
                rig.tick()
                fl = rig.heater.fault
                if fl is not None:
                    r["code"] = fl[0]
                    r["detect_s"] = round((rig.now_ms() - t0) / 1000.0, 1)
                    break
            out.append(r)
    return out


FAULTS = (
    # (name, setpoint, inject at: "hold" after settling / "start" with the heat-up)
    ("thermistor open", 32.0, "hold"),
    ("thermistor short", 32.0, "hold"),
    ("heater open, heat-up", 45.0, "start"),
    ("heater open, holding", 32.0, "hold"),
    ("heater open, holding", 65.0, "hold"),
    ("heater stuck on, holding", 32.0, "hold"),
    ("heater stuck on, heater off", 0.0, "start"),
)


def _inject(rig, name):
    if name.startswith("thermistor open"):
        rig.ntc.fault = "open"
    elif name.startswith("thermistor short"):
        rig.ntc.fault = "short"
    elif name.startswith("heater open"):
        rig.plant.heater_open = True
    else:
        rig.plant.stuck_on = True


def fault_time(preset, name, sp, when):
    # Seconds from the fault to the trip (and the trip code), ModelPid in control.
    rig = Rig(preset, ModelPid(model_config(preset)))
    rig.heater.tick(rig.now_ms())
    rig.heater.set_target(sp if sp > 0 else None)
    if when == "hold":
        for _ in range(int((2.0 * plants.full_power_time(preset, sp) + 60.0) * 1000 / PERIOD_MS)):
            rig.tick()
        if rig.heater.fault is not None:
            return {"fault": name, "setpoint": sp, "error": "tripped before the fault"}
    t0 = rig.now_ms()
    _inject(rig, name)
    for _ in range(int(600000 / PERIOD_MS)):
        rig.tick()
        f = rig.heater.fault
        if f is not None:
            return {"fault": name, "setpoint": sp, "code": f[0],
                    "detect_s": round((rig.now_ms() - t0) / 1000.0, 2)}
    return {"fault": name, "setpoint": sp, "code": None, "detect_s": None}


def main(argv):
    # optional: k=factor,... overrides the model error (robustness checks), e.g.
    #   micropython bench/heater_control.py mass_j_k=1.3,loss_w_k=0.6 --no-baseline
    baseline = "--no-baseline" not in argv
    for a in argv:
        if "=" in a:
            for kv in a.split(","):
                k, v = kv.split("=")
                if k == "dist_rate":
                    global DIST_RATE
                    DIST_RATE = float(v)
                else:
                    MODEL_ERR[k] = float(v)
    results = {"period_ms": PERIOD_MS, "band_c": BAND, "model_error": MODEL_ERR,
               "protection": PROTECTION, "runs": []}
    rows = []
    for preset in PLANTS:
        for sp in SETPOINTS:
            t_min = plants.full_power_time(preset, sp)
            mp = run_control(preset, sp, ModelPid(model_config(preset)), t_min)
            at = autotune(preset, sp) if baseline else None
            if at is None:
                zn = {}
                base = None
            elif at.result is None:
                zn = {"error": at.error}
                base = None
            else:
                r = at.result
                zn = {"ku": round(r["ku"], 4), "tu": round(r["tu"], 2), "kp": round(r["kp"], 4),
                      "ki": round(r["ki"], 5), "kd": round(r["kd"], 4)}
                base = run_control(preset, sp, Pid({"kp": r["kp"], "ki": r["ki"], "kd": r["kd"]}), t_min)
            results["runs"].append({"plant": preset, "setpoint": sp, "t_min_s": round(t_min, 2),
                                    "model": mp, "baseline": base, "zn": zn})
            rows.append((preset, sp, t_min, mp, base))
            sys.stdout.write(".")
    print()
    print("| plant | sp C | t_min s | model: ratio | overshoot C | ripple C | trips "
          "| ZN-PID: ratio | overshoot C | ripple C | trips |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    for preset, sp, t_min, mp, base in rows:
        if base is None:
            b = "| - | | | |"
            ok = ok and not baseline
        else:
            b = "| %s | %.2f | %.3f | %d |" % (_ratio(base), base["overshoot_c"], base["ripple_c"], base["trips"])
        print("| %s | %.0f | %.1f | %s | %.2f | %.3f | %d %s" % (
            preset, sp, t_min, _ratio(mp), mp["overshoot_c"], mp["ripple_c"], mp["trips"], b))
        if (mp["ratio"] > 1.15 or mp["overshoot_c"] > 0.5 or mp["trips"] or not mp["settled"]):
            ok = False
        if base is not None and mp["settled"] and base["settled"] and mp["ratio"] >= base["ratio"]:
            ok = False
    print()
    results["healthy"] = []
    for preset in PLANTS:
        h = healthy_trips(preset)
        results["healthy"].append(h)
        print("%s: %d healthy phases (setpoint steps up/down; draughts x2, 0.3 W/K, x4, x6 on/off at "
              "32/45/65 C where held; reading and block -3 C holding and idle; heater off): "
              "%d false trips %s" % (preset, h["phases"], len(h["trips"]), "; ".join(h["trips"])))
        if h["trips"]:
            ok = False
    print()
    results["unholdable"] = []
    cells = []
    for preset in PLANTS:
        for r in unholdable(preset):
            results["unholdable"].append(r)
            cells.append("%s %s at %g C: %s" % (r["plant"], r["draught"], r["setpoint"],
                                                 "%.1f s (%s)" % (r["detect_s"], r["code"]) if r["code"] else "no trip"))
    print("draughts the heater cannot hold (a real fault, not scored): " + "; ".join(cells))
    print()
    print("goals met (ratio <= 1.15, overshoot <= 0.5 C, zero trips, beats baseline): %s" % ok)
    # fault injection: detection times through the same shell and protection
    results["faults"] = []
    print()
    print("| fault | sp C | " + " | ".join(PLANTS) + " |")
    print("|---|---|" + "---|" * len(PLANTS))
    for name, sp, when in FAULTS:
        cells = []
        for preset in PLANTS:
            r = fault_time(preset, name, sp, when)
            r["plant"] = preset
            results["faults"].append(r)
            if r.get("detect_s") is None:
                cells.append("not found")
            else:
                cells.append("%.1f s (%s)" % (r["detect_s"], r["code"]))
        print("| %s | %s | %s |" % (name, "%.0f" % sp if sp else "off", " | ".join(cells)))
    print()
    print(NOTES)
    results["goals_met"] = ok
    if not baseline or MODEL_ERR != DEFAULT_ERR:
        return
    path = "bench/results/heater_control.json"
    try:
        with open(path, "w") as f:
            json.dump(results, f)
    except OSError:
        print("could not write %s (run from the repo root)" % path)


NOTES = """Fault detection: the thermistor's own checks (3 bad reads), the heating watch on the way
up, and the protection's model checks (control/thermal.py): its own copy of the heater model,
run on the duty in force and as if the heater gave nothing, estimates with the same lag the
commanded power P and the heat that arrived net of unexplained loss D. D tells how the
temperature moves: ~ the model's holding power while it is held (draught or not), ~ 0 while
it falls as if unheated, below 0 while a fresh draught cools it faster. A stuck heater
delivers heat nobody asked for (and the temperature rises).

An open heater while holding and a draught look the same until the controller answers: at
32 C the nozzle holds on ~1.2 W (6 % of 20 W) and the block on ~3 W, and a draught takes
that much or more. So the check asks for a response, not for a gap: P at least 2x the
holding power while D stays near 0 and steady (not climbing back) for 2 s of evidence,
counted with a leak. A draught the heater can hold (x2, the virtual board's 0.3 W/K, x4,
x6 the loss) is answered within seconds and D climbs back to the holding power; an open
heater's D stays put however hard it is driven. The nozzles need ~4 s for the sag to show
through ~1.5 s of lag and ~0.015 C of reading noise, ~3 s for the controller to ask 2x the
holding power, 2 s of evidence: 8-10 s. The block is slower than before (17-22 s; it was
14-15 s when the check tripped on the gap alone, which also tripped on every strong
draught): its D is ~ +-2-3 W noisy against ~2.5 W of holding power at 32 C, its loop rings
in a strong draught (P 7-20 W, D -5..+14 W over ~25 s while the temperature holds within
0.05 C), and after an open fault its observer rings too (D dips and climbs back for ~20 s),
so it needs D <= 0 and 4 s of evidence over 3 s of smoothing. A reading step of -3 C (a
glitch, a cold paste charge) is no heat flow: the checks wait it out (3 sensor lags, then
the warm-up). A draught the heater cannot hold is a real fault: "runaway" (or
heating_failed) once the temperature sags beyond the 3 C band; one it only just cannot
hold leaves it 1-1.5 C low and does not trip. The model checks assume a model within about +-15 %
(the benchmark's error) and a real loss within 0.5-2x the model's: calibrate the model
(M303) or set model_checks false (the watch and runaway checks remain)."""


def _ratio(r):
    if not r["settled"]:
        return "never"
    return "%.3f" % r["ratio"]


if __name__ == "__main__":
    main(sys.argv[1:])
