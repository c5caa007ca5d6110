# The printer's config section: name -> (type, default, min, max, unit), as
# runtime/config.py reads it, and its consistency check. A module of its own, imported
# while the config is read (boot, config commands) and forgotten after: the table is
# not kept on the heap.
from hearth.control.printjob import MATERIALS

# setpoint, tolerance, min extrusion temp, max setpoint (C), danger-zone limit (min; 0 exempt)
_PRESETS = {
    "dark": (32.0, 0.5, 30.0, 34.0, 0),
    "milk": (30.0, 0.5, 28.5, 32.0, 0),
    "white": (28.5, 0.5, 27.0, 30.0, 0),
    "dough": (30.0, 1.0, 20.0, 38.0, 240),
    "puree": (65.0, 1.0, 60.0, 70.0, 120),
}

SCHEMA = {
    "max_c": ("float", 70.0, 20.0, 80.0, "C"),            # no setpoint above (also the board's limit)
    "min_setpoint_c": ("float", 20.0, 0.0, 60.0, "C"),     # no setpoint below, except 0 = off
    "steps_per_mm": ("float", 400.0, 1.0, 10000.0, "steps/mm"),
    "max_feed_mm_s": ("float", 5.0, 0.01, 50.0, "mm/s"),
    "accel_mm_s2": ("float", 50.0, 1.0, 5000.0, "mm/s2"),
    "max_extrude_mm": ("float", 50.0, 0.1, 500.0, "mm"),   # longest extrude-only move
    "retract_mm": ("float", 1.0, 0.0, 20.0, "mm"),          # G10 / G11 firmware retract
    "retract_feed_mm_s": ("float", 2.0, 0.01, 50.0, "mm/s"),
    "unretract_extra_mm": ("float", 0.0, 0.0, 5.0, "mm"),   # G11 pushes this much more
    "tune_hyst_c": ("float", 0.5, 0.1, 5.0, "C"),           # autotune relay hysteresis
    "tune_over_c": ("float", 5.0, 1.0, 15.0, "C"),          # autotune aborts this far above
    "max_step_hz": ("int", 20000, 100, 40000, "Hz"),
    "danger_lo_c": ("float", 5.0, -10.0, 20.0, "C"),
    "danger_hi_c": ("float", 57.0, 40.0, 75.0, "C"),
    "host_timeout_ms": ("int", 10000, 1000, 600000, "ms"),  # job dead-man
    "pause_timeout_s": ("int", 900, 10, 1800, "s"),         # M0/M600 pause: then heater off, job held
    "pressure_advance_s": ("float", 0.0, 0.0, 1.0, "s"),    # K (M900 sets it for a job)
    "m109_hold_ms": ("int", 1000, 0, 60000, "ms"),          # M109: in tolerance this long
    "haccp_every_s": ("int", 10, 1, 3600, "s"),
    "checkpoint_s": ("int", 30, 0, 3600, "s"),                # job state to flash this often, progress or not (0: off)
    "progress_ms": ("int", 1000, 250, 60000, "ms"),           # finished lines to flash at most this often
    # heater model (core.pid.ModelPid)
    "model_power_w": ("float", 20.0, 1.0, 500.0, "W"),
    "model_mass_j_k": ("float", 44.0, 1.0, 5000.0, "J/K"),
    "model_core_j_k": ("float", 3.0, 0.0, 500.0, "J/K"),
    "model_core_w_k": ("float", 3.0, 0.0, 100.0, "W/K"),
    "model_loss_w_k": ("float", 0.10, 0.001, 10.0, "W/K"),
    "model_sensor_s": ("float", 1.5, 0.0, 60.0, "s"),
    "model_ambient_c": ("float", 22.0, -10.0, 45.0, "C"),
    "model_response_s": ("float", 1.0, 0.1, 60.0, "s"),
    "model_dist_rate": ("float", 0.3, 0.0, 2.0, "1/(C.s)"),  # disturbance estimate (0: off)
    "model_checks": ("bool", True, None, None, ""),             # thermal protection's model checks
    # thermal protection (core.thermal)
    "watch_s": ("float", 6.0, 1.0, 600.0, "s"),
    "max_error_cs": ("float", 60.0, 5.0, 3600.0, "C.s"),
    "stuck_rise_c": ("float", 1.0, 0.3, 20.0, "C"),
}
for _m in MATERIALS:
    _sp, _tol, _mn, _mx, _dz = _PRESETS[_m]
    SCHEMA[_m + "_c"] = ("float", _sp, 0.0, 80.0, "C")
    SCHEMA[_m + "_tol_c"] = ("float", _tol, 0.1, 10.0, "C")
    SCHEMA[_m + "_min_c"] = ("float", _mn, 0.0, 80.0, "C")
    SCHEMA[_m + "_max_c"] = ("float", _mx, 0.0, 80.0, "C")
    SCHEMA[_m + "_dz_min"] = ("int", _dz, 0, 1440, "min")


def check_config(c):
    # Values each in bounds that contradict each other (the host's config_host.consistency
    # says the same): None, or the first problem.
    if c["min_setpoint_c"] >= c["max_c"]:
        return "inconsistent: printer.min_setpoint_c=%s is not below printer.max_c=%s" % (
            c["min_setpoint_c"], c["max_c"])
    if c["danger_lo_c"] >= c["danger_hi_c"]:
        return "inconsistent: printer.danger_lo_c=%s is not below printer.danger_hi_c=%s" % (
            c["danger_lo_c"], c["danger_hi_c"])
    for m in MATERIALS:
        lo, sp, hi = c[m + "_min_c"], c[m + "_c"], c[m + "_max_c"]
        if hi > c["max_c"]:
            return "inconsistent: printer.%s_max_c=%s is above printer.max_c=%s" % (m, hi, c["max_c"])
        if lo > hi:
            return "inconsistent: printer.%s_min_c=%s is above printer.%s_max_c=%s" % (m, lo, m, hi)
        if not lo <= sp <= hi:
            return "inconsistent: printer.%s_c=%s is outside printer.%s_min_c..%s_max_c (%s..%s)" % (
                m, sp, m, m, lo, hi)
    return None
