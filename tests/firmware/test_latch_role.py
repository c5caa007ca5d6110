# The latch role (roles/latch.py) on the simulated HAL with the latch plant: MAVLink in
# and out through hal.Uart, the supervisor glue (faults, estop, power fail, held
# payload, recovery), console commands, config, and "boot never drives open".
import gc

from hearth import hal
from hearth.hal import sim
from hearth.runtime import config as configmod
from hearth.control import latch as L
from hearth.control import mavlink as mv
from hearth.runtime.faults import FaultLog
from hearth.runtime.journal import Journal
from hearth.runtime.protocol import CommandError
from hearth.runtime.supervisor import FAULT, POWERFAIL, READY, RECOVERY, SAFE, Supervisor
from hearth.drivers.servo import duty_for_us
from hearth.roles.latch import Latch as Role
from hearth.roles.latchcmds import decode_role_state

from plants.latch import LatchPlant, attach  # noqa: E402

SERVO, SOLENOID, LOCK_SW, OPEN_SW, PAYLOAD_SW, HX_CLK, HX_DOUT, SUPPLY = 25, 13, 26, 27, 14, 18, 19, 34
BOARD = {
    "name": "latch-esp32", "chip": "esp32", "role": "latch",
    "pins": {"servo": SERVO, "solenoid": SOLENOID, "bolt_locked_sw": LOCK_SW, "bolt_open_sw": OPEN_SW,
             "payload_sw": PAYLOAD_SW, "hx711_sck": HX_CLK, "hx711_dout": HX_DOUT, "supply_adc": SUPPLY,
             "power_good": 35, "mavlink_tx": 17, "mavlink_rx": 16},
    "supply": {"divider": 2.0},
    "mavlink": {"uart": 2, "baud": 57600},
    "limits": {"servo_min_us": 500, "servo_max_us": 2500},
}
OPEN_DUTY = duty_for_us(2000, 50)
LOCK_DUTY = duty_for_us(1000, 50)


def _unwrap(w):
    # world.reset() keeps instance attributes: drop the wrappers earlier tests put on
    # set_output (attach) and set_pwm (PwmLog), or they pile up test after test.
    for name in ("set_output", "set_pwm"):
        if name in w.__dict__:
            delattr(w, name)


def new_plant(payload_g=500, **cfg):
    w = sim.world
    _unwrap(w)
    cfg["payload_g"] = payload_g
    return attach(w, LatchPlant(w, SERVO, LOCK_SW, OPEN_SW, HX_CLK, HX_DOUT, PAYLOAD_SW, cfg))


def rx_buf():
    buf = sim.world.uart_rx.get(2)
    if buf is None:
        buf = sim.world.uart_rx[2] = bytearray()
    return buf


class PwmLog:
    # Records every PWM write to the servo pin (to prove nothing drives it open).
    def __init__(self):
        self.duties = []
        w = sim.world
        orig = w.set_pwm

        def set_pwm(pin, freq, duty, t=None):
            if pin == SERVO:
                self.duties.append(duty)
            orig(pin, freq, duty, t)

        w.set_pwm = set_pwm


class Rig:
    def __init__(self, plant=None, part=None, cfg=None, payload_g=500):
        w = sim.world
        self.plant = plant if plant is not None else new_plant(payload_g)
        w.adc[SUPPLY] = 2500000  # 5 V through the 2:1 divider
        if part is None:
            gc.collect()
            part = sim.Partition("journal", 4 * 4096)
        self.part = part
        self.j = Journal(self.part, 77)
        self.log = FaultLog(self.j)
        self.sup = Supervisor(self.j, self.log)
        self.role = Role(BOARD, cfg or {}, self.sup)
        self.sup.register_safe(self.role.safe)
        self.j.mount()
        self.sup.boot(hal.ticks_ms())
        self.fc = mv.Encoder(1, 1)
        self.rx = mv.Parser(queue=64)
        self.msgs = []
        self.cmds = self.role.commands()

    def tick(self, n=1, hb=True):
        w = sim.world
        for _ in range(n):
            w.advance_us(10000)
            now = hal.ticks_ms()
            if hb and now % 1000 < 10:
                self.send(mv.Heartbeat(2, 3, 0, 0, 4, 3))
            self.role.tick(now)
            out = w.uart_tx.get(2)
            if out:
                self.rx.feed(bytes(out))
                w.uart_tx[2] = bytearray()
                m = self.rx.get()
                while m is not None:
                    self.msgs.append(m)
                    m = self.rx.get()

    def send(self, msg, enc=None):
        data = (enc or self.fc).encode(msg)
        rx_buf().extend(data)

    def cmd(self, command, p1=0.0, p2=0.0, conf=0, ts=1, tc=158, enc=None):
        self.send(mv.CommandLong(ts, tc, command, conf, p1, p2), enc)

    def take(self, msgid=None):
        out = [m for m in self.msgs if msgid is None or m.msgid == msgid]
        self.msgs = [m for m in self.msgs if not (msgid is None or m.msgid == msgid)]
        return out

    def acks(self):
        return [(m.command, m.result) for m in self.take(mv.COMMAND_ACK)]

    def texts(self):
        return [m.text for m in self.take(mv.STATUSTEXT)]

    def ready(self):
        self.send(mv.Heartbeat(2, 3, 0, 0, 4, 3))
        self.tick(60)
        assert self.role.latch.state == L.LOCKED, self.role.latch.state
        self.take()
        return self

    def call(self, name, args=None):
        h = self.cmds[name]  # (handler, writes) or (handler, writes, True): handler(name, args)
        return h[0](name, args or {}) if len(h) > 2 and h[2] else h[0](args or {})

    def until(self, pred, max_ticks=500):
        for _ in range(max_ticks):
            if pred():
                return True
            self.tick()
        return pred()


def _err(code, fn, *a):
    try:
        fn(*a)
    except CommandError as e:
        assert e.code == code, (e.code, e.message)
        return e.message
    raise AssertionError("no CommandError")


def test_boot_locks_and_heartbeats_as_gripper():
    log = PwmLog()
    r = Rig()
    assert sim.world.pwm[SERVO] == (50, LOCK_DUTY)
    r.tick(150)
    assert r.role.latch.state == L.LOCKED
    hbs = r.take(mv.HEARTBEAT)
    assert len(hbs) >= 1
    assert hbs[0].type == 48 and hbs[0].compid == 158 and hbs[0].sysid == 1
    assert OPEN_DUTY not in log.duties
    assert r.role.held and r.sup.flags & 2
    assert r.sup.state == SAFE


def test_release_over_mavlink_in_progress_then_accepted():
    r = Rig().ready()
    r.cmd(211, 1.0, 0.0)
    r.tick()
    assert r.acks() == [(211, 2)]
    assert r.texts() == ["latch: release denied: armed"]
    r.cmd(400, 1.0)
    r.tick()
    assert r.acks() == [(400, 0)]
    assert r.sup.state == READY
    r.cmd(211, 1.0, 0.0)
    r.tick()
    assert r.acks() == [(211, 5)]
    assert r.until(lambda: r.role.latch.state == L.OPEN)
    r.tick()
    assert r.acks() == [(211, 0)]
    assert r.plant.dropped and r.plant.pos >= 960
    assert r.until(lambda: not r.role.held)
    assert not (r.sup.flags & 2)
    # auto-close (3 s) brings the bolt back, verified
    assert r.until(lambda: r.role.latch.state == L.LOCKED, 600)
    assert r.plant.pos <= 40


def test_wrong_system_and_garbage_ignored():
    r = Rig().ready()
    r.cmd(400, 1.0, enc=mv.Encoder(7, 1))
    r.cmd(211, 1.0, 0.0, enc=mv.Encoder(7, 1))
    rx_buf().extend(b"\xfd\x21garbage\xfe\x00" * 20)
    r.tick(5)
    assert r.acks() == []
    assert r.role.latch.state == L.LOCKED
    assert r.role.gripper.ignored >= 2


def test_uart_reads_bounded_per_tick():
    r = Rig().ready()
    rx_buf().extend(b"\x00" * 1000)
    r.role.tick(hal.ticks_ms())
    assert len(rx_buf()) == 1000 - 128


def test_console_arm_release_and_interlock_names():
    r = Rig().ready()
    assert "interlock armed" in _err("STATE", r.call, "release")
    assert r.call("arm")["state"] == L.ARMED
    assert r.call("arm")["state"] == L.ARMED  # arming twice: refreshed, no motion
    assert r.call("release")["result"] == "in_progress"
    assert _err("BUSY", r.call, "grab")
    assert r.until(lambda: r.role.latch.state == L.OPEN)
    assert r.call("latch")["state"] == L.OPEN
    assert r.call("hold")["result"] == "open"
    r.tick(400)
    assert r.role.latch.state == L.OPEN  # hold suspended auto-close
    r.call("grab")
    assert r.until(lambda: r.role.latch.state == L.LOCKED)


def test_confirm_interlock_when_required():
    r = Rig(cfg={"require_confirm": True}).ready()
    r.call("arm")
    assert "interlock confirm" in _err("STATE", r.call, "release")
    assert r.call("confirm", {"ok": True}) == {"confirmed": True}
    assert r.call("release")["result"] == "in_progress"
    _err("BAD_ARGS", r.call, "confirm", {"ok": 3})


def test_link_required_for_arm():
    r = Rig()
    r.tick(60, hb=False)
    assert "interlock link" in _err("STATE", r.call, "arm")
    assert r.role.latch.state == L.LOCKED


def test_low_supply_denies_arm():
    r = Rig().ready()
    sim.world.adc[SUPPLY] = 2000000  # 4.0 V
    r.tick(10)
    assert "interlock supply" in _err("STATE", r.call, "arm")


def test_jam_fails_faults_supervisor_and_clear_relocks():
    r = Rig().ready()
    r.plant.jam(True)
    r.cmd(400, 1.0)
    r.cmd(211, 1.0, 0.0)
    r.tick()
    assert r.acks() == [(400, 0), (211, 5)]
    assert r.until(lambda: r.role.latch.state == L.FAULT, 300)
    r.tick()
    assert (211, 4) in r.acks()
    assert any("failed: jam" in t for t in r.texts())
    assert r.sup.state == FAULT
    assert r.log.last()["code"] == "LATCH_JAM"
    assert sim.world.pwm[SERVO] == (50, LOCK_DUTY)
    assert "interlock fault" in _err("STATE", r.call, "arm")
    r.plant.jam(False)
    r.tick(50)
    assert r.plant.pos <= 40  # commanded back to lock
    r.sup.clear()
    assert r.until(lambda: r.role.latch.state == L.LOCKED)
    assert r.sup.state == SAFE


def test_estop_during_release_takes_back_open():
    log = PwmLog()
    r = Rig().ready()
    r.call("arm")
    r.cmd(211, 1.0, 0.0)
    r.tick(5)
    assert r.role.latch.state == L.RELEASING
    r.sup.estop("test")
    assert sim.world.pwm[SERVO] == (50, LOCK_DUTY)
    n = len(log.duties)
    r.tick()
    assert OPEN_DUTY not in log.duties[n:]
    assert r.role.latch.state in (L.CLOSING, L.LOCKED)
    assert (211, 4) in r.acks()
    assert r.until(lambda: r.role.latch.state == L.LOCKED)
    assert not r.plant.dropped


def test_powerfail_signal_during_release_keeps_locked():
    log = PwmLog()
    r = Rig().ready()
    r.call("arm")
    r.call("release")
    r.tick(3)
    r.sup.power_fail(hal.ticks_ms())
    assert r.sup.state == POWERFAIL
    assert sim.world.pwm[SERVO] == (50, LOCK_DUTY)
    n = len(log.duties)
    r.tick(50)
    assert OPEN_DUTY not in log.duties[n:]
    assert r.role.latch.state == L.FAULT
    r.sup.power_restore(hal.ticks_ms())
    assert r.sup.state == RECOVERY  # a payload was held
    assert r.until(lambda: r.role.latch.state == L.LOCKED)


def _reboot(r):
    # Power cut: the world keeps the plant and the flash; PWM stops.
    sim.world.pwm.clear()
    sim.world.uart_rx.clear()
    sim.world.uart_tx.clear()
    return Rig(plant=r.plant, part=r.part)


def test_power_cut_in_flight_boots_recovery_locked_holding():
    r = Rig().ready()
    assert r.sup.flags & 2
    log = PwmLog()
    r2 = _reboot(r)
    assert r2.sup.state == RECOVERY
    assert r2.sup.recovery["held"] is True
    r2.tick(100)
    assert OPEN_DUTY not in log.duties and log.duties[0] == LOCK_DUTY
    st = r2.call("latch")
    assert st["state"] == L.LOCKED and st["held"] is True
    assert st["recovered"]["held"] is True and st["recovered"]["latch"] == L.LOCKED
    # the explicit arm from the flight controller is the checked resume
    r2.send(mv.Heartbeat(2, 3, 0, 0, 4, 3))
    r2.cmd(400, 1.0)
    r2.tick()
    assert (400, 0) in r2.acks()
    assert r2.sup.state == READY


def test_power_cut_during_releasing_boots_locked():
    r = Rig().ready()
    r.call("arm")
    r.call("release")
    r.tick(8)  # bolt part-way, payload still on
    assert r.role.latch.state == L.RELEASING and 0 < r.plant.pos < 700
    log = PwmLog()
    r2 = _reboot(r)
    assert r2.sup.state == RECOVERY
    assert r2.until(lambda: r2.role.latch.state == L.LOCKED)
    assert OPEN_DUTY not in log.duties
    assert r2.plant.pos <= 40 and not r2.plant.dropped
    assert r2.role.held


def test_recovery_arm_refused_when_disabled():
    r = Rig().ready()
    r2 = Rig(plant=r.plant, part=r.part, cfg={"recovery_arm": False})
    r2.ready()
    assert "interlock recovery" in _err("STATE", r2.call, "arm")
    assert r2.sup.state == RECOVERY


def test_resume_refused_unless_locked():
    r = Rig().ready()
    sim.world.pwm.clear()
    r.plant.jam(True)
    r.plant.pos = 500
    r2 = Rig(plant=r.plant, part=r.part)
    r2.tick(3)
    assert r2.role.latch.state == L.CLOSING
    try:
        r2.sup.resume(r2.sup.recovery["token"])
    except Exception as e:  # noqa: BLE001
        assert getattr(e, "code", None) == "REFUSED"
    else:
        raise AssertionError("resume accepted while the bolt is not locked")


def test_role_state_snapshot_bytes():
    r = Rig().ready()
    d = decode_role_state(r.sup.role_state)
    assert d["latch"] == L.LOCKED and d["present"] and d["held"] and d["locked_sw"] and d["fc_link"]
    assert d["cmd"] == "lock"


def test_config_section_and_bounds():
    s = configmod.section("latch")[0]
    assert s["compid"][1] == 158
    for bad in (0, 1, 6, 256):
        cfg, err = configmod.validate({"latch": {"compid": bad}}, ("latch",))
        assert cfg is None and "compid" in err
    cfg, err = configmod.validate({"latch": {"compid": 25, "actuator": "solenoid"}}, ("latch",))
    assert err is None and cfg["latch"]["compid"] == 25
    cfg, err = configmod.validate({"latch": {"actuator": "rope"}}, ("latch",))
    assert cfg is None


def test_solenoid_actuator_starts_off_and_is_limited():
    r = Rig(cfg={"actuator": "solenoid"})
    assert sim.world.pwm[SOLENOID] == (1000, 0)
    r.ready()
    r.call("arm")
    r.call("release")
    r.tick()
    assert sim.world.pwm[SOLENOID][1] > 0
    r.role.safe()
    assert sim.world.pwm[SOLENOID][1] == 0
    r.tick()
    assert sim.world.pwm[SOLENOID][1] == 0


def test_loadcell_presence():
    r = Rig(cfg={"presence": "loadcell"})
    r.ready()
    r.tick(50)
    st = r.call("latch")
    assert st["grams"] is not None and 480 <= st["grams"] <= 520, st["grams"]
    assert st["payload"] is True
    r.plant.slip()
    r.tick(60)
    assert r.role.latch.regrabs == 1 or r.role.latch.present is False


def test_tick_allocation_bounded():
    r = Rig().ready()
    r.tick(5)
    gc.collect()
    before = gc.mem_alloc()
    gc.disable()
    for _ in range(20):
        sim.world.advance_us(10000)
        r.role.tick(hal.ticks_ms())
    used = gc.mem_alloc() - before
    gc.enable()
    assert used < 20 * 1024, used


def test_contradictory_config_refused_as_a_whole():
    # issue 12: the role refused to start on these; the config check now names them first
    for data, want in (({"latch": {"servo_open_us": 1000}}, "latch.servo_open_us=1000 is the same as"),
                       ({"latch": {"loadcell_off_g": 200}}, "latch.loadcell_off_g=200 is not below"),
                       ({"latch": {"solenoid_pull_ms": 900, "solenoid_max_on_ms": 500}}, "solenoid_pull_ms=900")):
        cfg, err = configmod.validate(data, ("latch",))
        assert cfg is None and err is not None and want in err, (data, err)
