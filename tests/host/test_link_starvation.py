"""The relay tells a chip's full RX ring from one this machine starved (host_tools/sim/link.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from host_tools.sim.link import Starvation, cpu_share

SPIN = "while True: pass"


def _spinner(cpu: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["taskset", "-c", str(cpu), sys.executable, "-c", SPIN])


def _looks(st: Starvation, pid: int, n: int = 40) -> list[bool]:
    out = []
    for _ in range(n):
        out.append(st.waiting(pid))
        time.sleep(0.005)
    return out


def test_a_process_kept_off_the_cpu_is_waited_for_and_a_sleeping_one_is_not() -> None:
    cpu = sorted(os.sched_getaffinity(0))[0]
    hogs = [_spinner(cpu) for _ in range(2)]
    starved = _spinner(cpu)  # three spinners on one CPU: each waits about 2/3 of the time
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.3)
        share = cpu_share(starved.pid)
        assert share is not None and share[0]  # runnable
        st = Starvation(limit_s=10)
        st.seen(starved.pid)
        looks = _looks(st, starved.pid)
        assert all(looks), looks  # runnable, with about a third of a CPU
        quiet = Starvation(limit_s=10)
        quiet.seen(sleeper.pid)
        assert not any(_looks(quiet, sleeper.pid))  # asleep on its own: a chip's ring overflows too
        capped = Starvation(limit_s=0.05)
        capped.seen(starved.pid)
        late = _looks(capped, starved.pid)
        assert not any(late[-10:]), late  # a bounded wait: then the ring overflows after all
    finally:
        for p in (*hogs, starved, sleeper):
            p.kill()
            p.wait()


def test_no_process_is_never_waited_for() -> None:
    st = Starvation()
    st.seen(None)
    assert not st.waiting(None)
    assert cpu_share(2**22 + 12345) is None  # no such pid
