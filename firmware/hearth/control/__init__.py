# The pure control floor: controllers that take `now` and readings in and give outputs
# back. Nothing here imports hal, runtime or roles (tests/host/test_firmware_rules.py).


class ControlError(Exception):
    # A controller refusing a request. `code` is one of the console protocol's error codes
    # (docs/protocol.md): the runtime answers it as `err <code> <message>` (runtime/protocol.py),
    # so control code never needs the wire's own error type.
    def __init__(self, code, message=""):
        super().__init__(code, message)
        self.code = code
        self.message = message
