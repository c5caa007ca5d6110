# Inputs as the board file wires them. An input without a pull floats on an ESP32
# (machine.Pin(n, Pin.IN) leaves the pad's pull as it was), so the board file names
# one for every input: "up"/"down" (enable the chip's internal pull), "external" (a
# resistor on the board) or "driven" (another chip's push-pull output).


def pull(board, name):
    p = (board.get("pulls") or {}).get(name)
    return p if p == "up" or p == "down" else None


def input_pin(hal, board, name):
    return hal.Input(board["pins"][name], pull(board, name))


class Pins:
    # The board's named pins, made on request through the hal it is given: drivers get
    # this and never import hal (tests/host/test_firmware_rules.py). `board` is the
    # board file, for the sections a driver reads itself (limits, thermistor, heater...).
    def __init__(self, hal, board):
        self.hal = hal
        self.board = board
        self.map = board.get("pins", {})

    def input(self, name):
        return input_pin(self.hal, self.board, name)

    def output(self, name, level):
        return self.hal.Output(self.map[name], level)

    def pwm(self, name, freq, duty):
        return self.hal.Pwm(self.map[name], freq, duty)

    def adc(self, name):
        return self.hal.Adc(self.map[name])
