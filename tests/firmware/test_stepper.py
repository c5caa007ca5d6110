# The step/dir driver's pull-back (a negative frequency: pressure advance running the
# piston back for a tick): DIR flips only while no pulses run, and flips back after.
from hearth import hal
from hearth.hal import sim


def _log_pins(log):
    w = sim.world
    out, pwm = w.set_output, w.set_pwm

    def set_output(pin, v):
        log.append(("D", pin, v))
        out(pin, v)

    def set_pwm(pin, f, d, t=None):
        log.append(("P", pin, f if d else 0))
        pwm(pin, f, d, t)

    w.set_output, w.set_pwm = set_output, set_pwm
    return out, pwm


def test_pull_back_flips_dir_with_the_pulses_stopped():
    from hearth.drivers.stepper import Stepper
    sim.world.reset("esp32s3")
    for inv in (False, True):
        fwd = 0 if inv else 1
        s = Stepper(hal.Pwm(15, 1000, 0), hal.Output(16, 0), hal.Output(17, 1), invert_dir=inv)
        s.enable(True)
        s.set_dir(1)
        s.run(800)
        log = []
        out, pwm = _log_pins(log)
        try:
            s.run(-200)
            s.run(-250)
            s.run(300)
        finally:
            sim.world.set_output, sim.world.set_pwm = out, pwm
        # stop, DIR back, the frequency set with no pulses, pulses at 200; a new
        # frequency; stop, DIR forward, pulses at 300
        assert log == [("P", 15, 0), ("D", 16, 1 - fwd), ("P", 15, 0), ("P", 15, 200), ("P", 15, 250),
                       ("P", 15, 0), ("D", 16, fwd), ("P", 15, 0), ("P", 15, 300)], log
        assert s.hz == 300 and not s.back
        s.safe()
        assert sim.world.outputs[16] == 0 and sim.world.pwm[15][1] == 0 and not s.back
