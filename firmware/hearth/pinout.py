# Inputs as the board file wires them. An input without a pull floats on an ESP32
# (machine.Pin(n, Pin.IN) leaves the pad's pull as it was), so the board file names
# one for every input: "up"/"down" (enable the chip's internal pull), "external" (a
# resistor on the board) or "driven" (another chip's push-pull output).


def pull(board, name):
    p = (board.get("pulls") or {}).get(name)
    return p if p == "up" or p == "down" else None


def input_pin(hal, board, name):
    return hal.Input(board["pins"][name], pull(board, name))
