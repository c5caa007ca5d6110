# Runs first after every reset: every actuator pin goes to its safe level (the ESP32
# keeps GPIO levels across a soft reset and stops PWM), then the firmware is checked
# against /manifest.json (hearth.safe_boot.problem; main.py reads it).
try:
    import hearth.safe_boot

    hearth.safe_boot.run()
except Exception as e:  # noqa: BLE001 - boot must reach the REPL whatever happens
    import sys

    print("boot: safe outputs failed:", repr(e))
    sys.print_exception(e)
try:
    hearth.safe_boot.check()  # noqa: F821 - imported above, or NameError caught here
except Exception as e:  # noqa: BLE001
    print("boot: firmware check failed:", repr(e))
