# The MAVLink gripper endpoint, driven through the real codec both ways.
from hearth.control import mavlink as mv
from hearth.control.latch import Latch
from hearth.control import latch as L
from hearth.control.gripper import Gripper


class Rig:
    def __init__(self, latch_cfg=None, **gcfg):
        cfg = {"auto_close_ms": 0}
        if latch_cfg:
            cfg.update(latch_cfg)
        self.lt = Latch(cfg)
        self.g = Gripper(self.lt, gcfg or None)
        self.fc = mv.Encoder(1, 1)
        self.rx = mv.Parser(queue=8)
        self.tx = mv.Parser(queue=64)
        self.t = 0
        self.sw = (1, 0)
        self.present = 1
        self.out = []

    def send(self, msg, enc=None):
        self.rx.feed((enc or self.fc).encode(msg))
        m = self.rx.get()
        while m is not None:
            self.g.handle(m, self.t)
            m = self.rx.get()
        self._drain()

    def _drain(self):
        b = self.g.pop_tx()
        while b is not None:
            self.tx.feed(b)
            b = self.g.pop_tx()
        m = self.tx.get()
        while m is not None:
            self.out.append(m)
            m = self.tx.get()

    def tick(self, ms=10, n=1):
        for _ in range(n):
            self.t += ms
            self.lt.step(self.t, self.sw[0], self.sw[1], self.present)
            self.g.step(self.t)
            self._drain()

    def take(self, msgid=None):
        got = [m for m in self.out if msgid is None or m.msgid == msgid]
        self.out = [m for m in self.out if not (msgid is None or m.msgid == msgid)]
        return got

    def acks(self):
        return [(a.command, a.result) for a in self.take(mv.COMMAND_ACK)]

    def texts(self):
        return [s.text for s in self.take(mv.STATUSTEXT)]

    def fc_hb(self):
        self.send(mv.Heartbeat(2, 3, 0, 0, 4, 3))

    def cmd(self, command, p1=0.0, p2=0.0, conf=0, ts=1, tc=158, enc=None):
        self.send(mv.CommandLong(ts, tc, command, conf, p1, p2), enc)

    def ready(self):
        self.tick()
        self.fc_hb()
        self.tick()
        assert self.lt.state == L.LOCKED
        self.take()
        return self


def test_heartbeat_1hz_as_gripper():
    r = Rig()
    r.tick(10, 500)  # 5 s
    hbs = r.take(mv.HEARTBEAT)
    assert len(hbs) == 5
    h = hbs[0]
    assert h.type == 48 and h.autopilot == 8 and h.compid == 158 and h.sysid == 1
    assert h.mavlink_version == 3


def test_compid_validation():
    for c in (0, 1, 2, 6, 256):
        try:
            Gripper(Latch(), {"compid": c})
        except ValueError:
            continue
        raise AssertionError("compid %d accepted" % c)
    Gripper(Latch(), {"compid": 7})
    g = Gripper(Latch(), {"compid": 25, "sysid": 3})
    assert g.heartbeat().msgid == 0 and g.enc.compid == 25 and g.enc.sysid == 3


def test_release_flow_in_progress_then_accepted():
    r = Rig().ready()
    r.cmd(400, 1.0)
    assert r.acks() == [(400, 0)] and r.lt.state == L.ARMED
    r.cmd(211, 1.0, 0.0)
    assert r.acks() == [(211, 5)]
    assert r.lt.state == L.RELEASING
    r.tick()
    r.sw = (0, 0)
    r.tick(10, 10)
    assert r.acks() == []
    r.sw = (0, 1)
    r.present = 0
    r.tick()
    assert r.acks() == [(211, 0)]
    assert r.lt.state == L.OPEN


def test_release_denied_names_interlock():
    r = Rig().ready()
    r.cmd(211, 1.0, 0.0)
    assert r.acks() == [(211, 2)]
    assert r.texts() == ["latch: release denied: armed"]
    assert r.lt.state == L.LOCKED


def test_jam_reports_failed():
    r = Rig({"release_timeout_ms": 300}).ready()
    r.cmd(400, 1.0)
    r.cmd(211, 0.0, 0.0)
    assert r.acks() == [(400, 0), (211, 5)]
    r.tick(10, 40)
    assert r.acks() == [(211, 4)]
    assert any("jam" in t for t in r.texts())
    assert r.lt.state == L.FAULT and r.lt.cmd == "lock"
    # in FAULT every action is denied with the reason
    r.cmd(211, 1.0, 1.0)
    assert r.acks() == [(211, 2)] and r.texts() == ["latch: grab denied: fault"]
    hb = [h for h in (r.tick(10, 100) or r.take(mv.HEARTBEAT))][-1]
    assert hb.system_status == mv.MAV_STATE_CRITICAL and hb.custom_mode == 5


def test_busy_and_duplicate_while_moving():
    r = Rig().ready()
    r.cmd(400, 1.0)
    r.cmd(211, 1.0, 0.0)
    r.take()
    r.cmd(211, 1.0, 0.0, conf=1)  # retransmission while moving
    assert r.acks() == [(211, 5)]
    r.cmd(211, 1.0, 0.0)  # same action, fresh: still IN_PROGRESS, no second action
    assert r.acks() == [(211, 5)]
    r.cmd(211, 1.0, 1.0)  # a different action while moving
    assert r.acks() == [(211, 1)]
    assert r.lt.motion_seq == 2  # boot + one release


def test_retransmission_after_completion_repeats_result():
    r = Rig({"auto_close_ms": 50}).ready()
    r.cmd(400, 1.0)
    r.cmd(211, 1.0, 0.0)
    r.sw = (0, 1)
    r.tick()
    r.take()
    r.tick(10, 6)  # auto-close starts
    r.sw = (1, 0)
    r.tick()
    assert r.lt.state == L.LOCKED
    rel = r.lt.releases
    r.cmd(211, 1.0, 0.0, conf=1)  # the FC never saw our ACCEPTED: resends
    assert r.acks() == [(211, 0)] and r.lt.releases == rel and r.lt.state == L.LOCKED
    r.cmd(211, 1.0, 0.0, conf=0)  # a new command: judged afresh
    assert r.acks() == [(211, 2)]
    r.t += 4000
    r.cmd(211, 1.0, 0.0, conf=2)  # outside the window: judged afresh
    assert r.acks() == [(211, 2)]


def test_grab_and_hold():
    r = Rig().ready()
    r.cmd(400, 1.0)
    r.cmd(211, 1.0, 0.0)
    r.sw = (0, 1)
    r.tick()
    r.take()
    r.cmd(211, 1.0, 2.0)  # HOLD while open
    assert r.acks() == [(211, 0)]
    r.cmd(211, 1.0, 1.0)  # GRAB
    assert r.acks() == [(211, 5)] and r.lt.state == L.CLOSING
    r.tick()
    r.sw = (1, 0)
    r.tick()
    assert r.acks() == [(211, 0)] and r.lt.state == L.LOCKED
    r.cmd(211, 1.0, 1.0)  # GRAB when locked: accepted at once
    assert r.acks() == [(211, 0)]
    r.cmd(211, 1.0, 7.0)  # bad action
    assert r.acks() == [(211, 2)]


def test_only_flight_controller_obeyed():
    r = Rig().ready()
    gcs = mv.Encoder(255, 190)
    r.cmd(400, 1.0, enc=gcs)
    r.cmd(211, 1.0, 0.0, enc=gcs)
    r.tick()
    assert r.acks() == [] and r.lt.state == L.LOCKED and r.g.ignored == 2
    other = mv.Encoder(2, 1)
    r.cmd(400, 1.0, enc=other)
    assert r.acks() == [] and r.lt.state == L.LOCKED


def test_targeting_and_unsupported():
    r = Rig().ready()
    r.cmd(400, 1.0, tc=159)  # someone else's component
    r.cmd(400, 1.0, ts=2)  # someone else's system
    assert r.acks() == [] and r.lt.state == L.LOCKED
    r.cmd(512, 1.0)  # MAV_CMD_REQUEST_MESSAGE addressed to us
    assert r.acks() == [(512, 3)]
    r.cmd(512, 1.0, tc=0)  # broadcast: not ours to refuse
    assert r.acks() == []
    r.cmd(400, 1.0, tc=0)  # broadcast arm reaches us
    assert r.acks() == [(400, 0)]


def test_gripper_instance():
    r = Rig().ready()
    r.cmd(400, 1.0)
    r.take()
    r.cmd(211, 2.0, 0.0, tc=0)  # broadcast for gripper 2: not us
    assert r.acks() == [] and r.lt.state == L.ARMED
    r.cmd(211, 2.0, 0.0)  # addressed to us with the wrong instance
    assert r.acks() == [(211, 2)] and r.lt.state == L.ARMED
    r.cmd(211, float("nan"), 0.0)
    assert r.acks() == [(211, 2)]
    r.cmd(211, 0.0, 0.0)  # 0 = any instance
    assert r.acks() == [(211, 5)] and r.lt.state == L.RELEASING


def test_fc_link_loss_reported_and_locks():
    r = Rig().ready()
    r.cmd(400, 1.0)
    assert r.lt.state == L.ARMED
    r.take()
    r.tick(100, 31)  # > 3 s without FC heartbeat
    assert "latch: FC link lost, locked" in r.texts()
    assert r.lt.state == L.LOCKED and not r.g.fc_link
    r.cmd(400, 1.0)
    assert r.acks() == [(400, 2)] and r.texts() == ["latch: arm denied: link"]
    r.fc_hb()
    assert r.texts() == ["latch: FC link ok"]
    r.cmd(400, 1.0)
    assert r.acks() == [(400, 0)]


def test_no_fc_at_boot_reported_once():
    r = Rig()
    r.tick(100, 100)
    assert r.texts().count("latch: FC link lost, locked") == 1
    assert r.lt.arm(r.t) == (False, "link")


def test_heartbeat_from_other_fc_component_does_not_count():
    r = Rig()
    r.tick()
    r.send(mv.Heartbeat(6, 8), mv.Encoder(1, 191))  # companion computer
    assert not r.g.fc_link


def test_heartbeat_reflects_state():
    r = Rig().ready()
    r.cmd(400, 1.0)
    r.tick(100, 11)
    h = r.take(mv.HEARTBEAT)[-1]
    assert h.custom_mode == 1 and h.base_mode & 128 and h.system_status == mv.MAV_STATE_ACTIVE
    r.cmd(400, 0.0)
    r.tick(100, 11)
    h = r.take(mv.HEARTBEAT)[-1]
    assert h.custom_mode == 0 and h.base_mode == 0 and h.system_status == mv.MAV_STATE_STANDBY


def test_outbox_bounded():
    r = Rig(outbox=4)
    for _ in range(10):
        r.g._text(6, "x")
    assert len(r.g._out) == 4 and r.g.tx_dropped == 6


def test_idle_step_allocation_small():
    import gc
    r = Rig().ready()
    ts = list(range(1020, 2000, 10))  # between two heartbeats (at 1010 and 2010)
    r.g.step(1010)
    assert r.g.pop_tx() is not None
    gc.collect()
    before = gc.mem_free()
    for t in ts:
        r.g.step(t)
    used = before - gc.mem_free()
    assert used < 64, used
