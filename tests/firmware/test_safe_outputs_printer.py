# Every printer-s3 safe output at its level after every safe() path (issue 12, defect
# 8): see safe_outputs_check.py.
from hearth import hal
from hearth.hal import sim
from safe_outputs_check import check_board


def test_printer_every_safe_output_after_every_safe_path():
    check_board("printer-s3")


def test_stepper_safe_sets_dir_to_its_safe_level():
    from hearth.drivers.stepper import Stepper
    sim.world.reset("esp32s3")
    for inv in (False, True):
        s = Stepper(hal.Pwm(15, 1000, 0), hal.Output(16, 0), hal.Output(17, 1), invert_dir=inv)
        s.enable(True)
        s.set_dir(1)
        s.set_dir(-1)
        s.safe()
        assert sim.world.outputs[16] == 0 and sim.world.outputs[17] == 1 and sim.world.pwm[15][1] == 0
        s.enable(True)
        s.set_dir(1)  # after safe() the next move sets its direction again
        assert sim.world.outputs[16] == (0 if inv else 1)
