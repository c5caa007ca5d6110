# Runs first after every reset, before anything else: every actuator pin goes to its
# safe level (the ESP32 keeps GPIO levels across a soft reset and stops PWM).
try:
    import hearth.safe_boot

    hearth.safe_boot.run()
except Exception as e:  # noqa: BLE001 - boot must reach the REPL whatever happens
    import sys

    print("boot: safe outputs failed:", repr(e))
    sys.print_exception(e)
