# Pin facts per chip, from the Espressif datasheets. The host reads CHIPS with
# ast.literal_eval to validate board files (keep it one dict literal); check() is the
# HAL's rule, used in-process by the firmware tests' world and by the virtual board's.
# strapping: sampled at reset; a load on them can change the boot mode, so never an
#   actuator (an actuator there would also twitch during boot).
# input_only: no output driver at all.
# reserved: SPI flash / PSRAM / USB; using them crashes or bricks the session.
# adc: pins on ADC1 (ADC2 is unusable while Wi-Fi runs, so we never use it).
# psram_octal: pins an octal-PSRAM module (e.g. ESP32-S3-WROOM-1-N8R8) uses for the
#   PSRAM bus: reserved on such modules (board file "module": {"psram": "octal"}).
CHIPS = {
    "esp32": {
        "gpio": [0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 25, 26, 27,
                 32, 33, 34, 35, 36, 37, 38, 39],
        "strapping": [0, 2, 5, 12, 15],
        "input_only": [34, 35, 36, 37, 38, 39],
        "reserved": [1, 3, 6, 7, 8, 9, 10, 11],
        "adc": [32, 33, 34, 35, 36, 37, 38, 39],
        "uarts": 3,
        "flash_offset": 0x1000,
    },
    "esp32s3": {
        "gpio": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                 21, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48],
        "strapping": [0, 3, 45, 46],
        "input_only": [],
        "reserved": [19, 20, 26, 27, 28, 29, 30, 31, 32, 43, 44],
        "adc": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        "psram_octal": [35, 36, 37],
        "uarts": 3,
        "flash_offset": 0x0,
    },
}


def check(chip_name, pin, kind):
    """"" when `chip_name` allows `pin` for `kind` (out, in, pull, adc, uart: pin is the
    UART id), else why not: the virtual board's HAL refuses what an ESP32 refuses."""
    chip = CHIPS[chip_name]
    if kind == "uart":
        if not 1 <= pin < chip["uarts"]:
            return "UART %d not available for the app" % pin
        return ""
    if pin not in chip["gpio"]:
        return "invalid pin %d for %s" % (pin, chip_name)
    if pin in chip["reserved"]:
        return "pin %d is reserved (flash/USB) on %s" % (pin, chip_name)
    if kind == "out":
        if pin in chip["input_only"]:
            return "pin %d can only be input" % pin
        if pin in chip["strapping"]:
            return "pin %d is a strapping pin: not for actuators" % pin
    if kind == "pull" and pin in chip["input_only"]:
        return "pin %d has no internal pull resistor" % pin
    if kind == "adc" and pin not in chip["adc"]:
        return "pin %d has no ADC1 channel on %s" % (pin, chip_name)
    return ""
