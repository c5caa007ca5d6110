# The latch's config section: name -> (type, default, min, max, unit), as
# runtime/config.py reads it. A module of its own, imported while the config is read
# (boot, config commands) and forgotten after: the table is not kept on the heap.


SCHEMA = {
    "actuator": ("str", "servo", ("servo", "solenoid", "epm"), None, ""),
    "servo_locked_us": ("int", 1000, 500, 2500, "us"),
    "servo_open_us": ("int", 2000, 500, 2500, "us"),
    "solenoid_pull_ms": ("int", 150, 10, 1000, "ms"),
    "solenoid_max_on_ms": ("int", 2000, 100, 5000, "ms"),
    "solenoid_hold_pct": ("int", 40, 5, 100, "%"),
    "solenoid_max_duty_pct": ("int", 25, 1, 100, "%"),
    "epm_pulse_ms": ("int", 30, 5, 100, "ms"),
    "sysid": ("int", 1, 1, 255, ""),
    "compid": ("int", 158, 7, 255, ""),  # never 1-6 (autopilot/reserved), never 0
    "fc_sysid": ("int", 1, 1, 255, ""),
    "fc_compid": ("int", 1, 1, 255, ""),
    "instance": ("int", 1, 1, 255, ""),
    "heartbeat_ms": ("int", 1000, 200, 5000, "ms"),
    "fc_timeout_ms": ("int", 3000, 500, 60000, "ms"),
    "arm_timeout_ms": ("int", 10000, 1000, 120000, "ms"),
    "release_timeout_ms": ("int", 1500, 100, 10000, "ms"),
    "close_timeout_ms": ("int", 1500, 100, 10000, "ms"),
    "auto_close_ms": ("int", 3000, 0, 600000, "ms"),
    "require_confirm": ("bool", False, None, None, ""),
    "confirm_max_age_ms": ("int", 2000, 0, 60000, "ms"),
    "require_link": ("bool", True, None, None, ""),
    "host_release": ("bool", True, None, None, ""),
    "recovery_arm": ("bool", True, None, None, ""),
    "max_regrabs": ("int", 3, 0, 20, ""),
    "switch_debounce_ms": ("int", 20, 0, 500, "ms"),
    "switch_fault_ms": ("int", 300, 50, 5000, "ms"),
    "switches_active_low": ("bool", False, None, None, ""),
    "presence": ("str", "switch", ("switch", "loadcell", "either"), None, ""),
    "loadcell_on_g": ("int", 150, 1, 50000, "g"),
    "loadcell_off_g": ("int", 80, 0, 50000, "g"),
    "loadcell_counts_per_g": ("int", 420, 1, 100000, "counts/g"),
    "loadcell_offset": ("int", 8000, -8388608, 8388607, "counts"),
    "loadcell_ms": ("int", 200, 50, 5000, "ms"),
    "supply_min_mv": ("int", 4500, 0, 30000, "mV"),
    "supply_ms": ("int", 50, 10, 1000, "ms"),
    "uart_read_max": ("int", 128, 16, 1024, "bytes"),
    "tx_frames": ("int", 4, 1, 16, "frames"),
}


def check_config(c):
    # Values each in bounds that contradict each other (as the host's
    # config_host.consistency): None, or the first problem.
    if c["servo_open_us"] == c["servo_locked_us"]:
        return "inconsistent: latch.servo_open_us=%d is the same as latch.servo_locked_us: the bolt would " \
            "never move" % c["servo_open_us"]
    if c["loadcell_off_g"] >= c["loadcell_on_g"]:
        return "inconsistent: latch.loadcell_off_g=%d is not below latch.loadcell_on_g=%d" % (
            c["loadcell_off_g"], c["loadcell_on_g"])
    if c["solenoid_pull_ms"] > c["solenoid_max_on_ms"]:
        return "inconsistent: latch.solenoid_pull_ms=%d is above latch.solenoid_max_on_ms=%d" % (
            c["solenoid_pull_ms"], c["solenoid_max_on_ms"])
    return None
