"""Host side of the printer toolhead: stream a job, run a heater step response.

``stream_job`` sends a job file line by line (``gcode {n, line}``), resending on
BUSY (the board's queue is full), and polls ``job`` between lines: that shows progress
and live temperature, and it is what keeps the board's job dead-man from turning the
heater off. ``heater_test`` records a step response through ``status`` and writes a
CSV and a PNG plot (matplotlib, Agg backend: no display needed).

This module never imports firmware code.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from host_tools.protocol import BoardClient, BoardError

MAX_JOB_LINE = 96  # the board's limit (firmware core/gcode.py)


class JobError(Exception):
    pass


def read_job(path: str | Path) -> list[str]:
    """The job's lines without comments and blanks, in order; line n is list[n-1]."""
    out: list[str] = []
    for i, raw in enumerate(Path(path).read_text().splitlines(), 1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if len(line) > MAX_JOB_LINE:
            raise JobError(f"{path}:{i}: line longer than {MAX_JOB_LINE} characters")
        out.append(line)
    return out


Progress = Callable[[dict[str, Any]], None]


def _poll(c: BoardClient) -> dict[str, Any]:
    return c.request("job")


def _send_line(c: BoardClient, n: int, line: str, progress: Progress | None, every: float,
               last: list[float]) -> dict[str, Any]:
    while True:
        try:
            return c.request("gcode", {"n": n, "line": line})
        except BoardError as e:
            if e.code != "BUSY":
                raise
        j = _poll(c)
        now = time.monotonic()
        if progress is not None and now - last[0] >= every:
            last[0] = now
            progress(j)
        time.sleep(0.05)


def stream_job(c: BoardClient, lines: list[str], material: str, job_id: int | None = None,
               resume: bool = False, progress: Progress | None = None, every: float = 1.0,
               end: bool = True, timeout: float = 3600.0) -> dict[str, Any]:
    """Run a job on the board; returns {"job", "lines", "done", "resumed_at", "haccp"}.

    resume=True: the board must be in RECOVERY with this job interrupted; the host
    sends its wall time (the board needs it to know the outage length), asks for the
    checked resume and streams from the board's next line. A refusal (food safety)
    raises BoardError with the board's reason."""
    h = c.hello()
    start = 1
    if resume:
        if h.get("state") != "RECOVERY" or not h.get("recovery"):
            raise JobError(f"nothing to resume: the board is {h.get('state')}")
        c.request("clock", {"unix": int(time.time())})
        rec = h["recovery"]
        c.request("resume", {"token": rec["token"]})
        j = _poll(c)
        job_id = j["job"]
        start = j["next"]
    else:
        if h.get("state") == "RECOVERY":
            raise JobError("the board holds an interrupted job: resume it (--resume) or discard it first")
        if job_id is None:
            job_id = int(time.time()) % (1 << 30) or 1
        c.request("job_start", {"id": job_id, "material": material, "unix": int(time.time())})
    last = [0.0]
    for n in range(start, len(lines) + 1):
        _send_line(c, n, lines[n - 1], progress, every, last)
        now = time.monotonic()
        if progress is not None and now - last[0] >= every:
            last[0] = now
            progress(_poll(c))
    deadline = time.monotonic() + timeout
    while True:
        j = _poll(c)
        if progress is not None and time.monotonic() - last[0] >= every:
            last[0] = time.monotonic()
            progress(j)
        if j.get("error"):
            raise JobError(f"job {job_id} stopped: {j['error']}")
        if j.get("state") != "ACTIVE":
            raise JobError(f"job {job_id} ended by the board: state {j.get('state')} (see `hearth call -p PORT faults`)")
        if j["done"] >= len(lines):
            break
        if time.monotonic() > deadline:
            raise JobError(f"job {job_id} did not finish in {timeout:g} s (done {j['done']}/{len(lines)})")
        time.sleep(0.1)
    haccp = c.request("haccp")
    res: dict[str, Any] = {"job": job_id, "lines": len(lines), "done": j["done"], "resumed_at": start if resume else None,
                           "danger_zone_s": j.get("danger_zone_s"), "haccp": haccp}
    if end:
        c.request("job_end")
    return res


# ---- heater step response ------------------------------------------------------------------
def heater_test(c: BoardClient, setpoint: float, seconds: float, interval: float = 0.5,
                progress: Progress | None = None) -> list[dict[str, Any]]:
    """Heat from where the nozzle is to `setpoint`, sampling status every `interval`
    seconds for `seconds`; the heater is turned off at the end (and on any error)."""
    samples: list[dict[str, Any]] = []
    t0 = time.monotonic()
    c.request("heat", {"c": setpoint})
    try:
        while True:
            t = time.monotonic() - t0
            st = c.request("status")
            r = st.get("role") or {}
            s = {"t_s": round(t, 3), "uptime_ms": st.get("uptime_ms"), "temp_c": r.get("temp"),
                 "target_c": r.get("target"), "duty": r.get("duty"), "state": st.get("state")}
            samples.append(s)
            if progress is not None:
                progress(s)
            if st.get("state") == "FAULT":
                raise JobError(f"heater test stopped by a board fault: {st.get('last_fault')}")
            if t >= seconds:
                break
            time.sleep(max(0.0, interval - (time.monotonic() - t0 - t)))
    finally:
        try:
            c.request("cool")
        except Exception:  # noqa: BLE001 - the board's own protections still hold
            pass
    return samples


def step_metrics(samples: list[dict[str, Any]], setpoint: float, band: float = 0.5) -> dict[str, Any]:
    """Board-time metrics of a step response: rise to the band, settle, overshoot."""
    pts = [(s["uptime_ms"] / 1000.0, s["temp_c"]) for s in samples if s["temp_c"] is not None and s["uptime_ms"]]
    if not pts:
        return {"samples": 0}
    t0 = pts[0][0]
    reach = next((t - t0 for t, v in pts if v >= setpoint - band), None)
    settle = None
    for i in range(len(pts)):
        if all(abs(v - setpoint) <= band for _, v in pts[i:]):
            settle = pts[i][0] - t0
            break
    return {"samples": len(pts), "start_c": round(pts[0][1], 2), "setpoint_c": setpoint,
            "reach_s": None if reach is None else round(reach, 1),
            "settle_s": None if settle is None else round(settle, 1),
            "overshoot_c": round(max(0.0, max(v for _, v in pts) - setpoint), 2),
            "final_c": round(pts[-1][1], 2)}


def write_csv(samples: list[dict[str, Any]], path: str | Path) -> Path:
    p = Path(path)
    with p.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["t_s", "uptime_ms", "temp_c", "target_c", "duty", "state"])
        w.writeheader()
        for s in samples:
            w.writerow(s)
    return p


def plot(samples: list[dict[str, Any]], setpoint: float, path: str | Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [s for s in samples if s["uptime_ms"] is not None]
    t0 = pts[0]["uptime_ms"] / 1000.0 if pts else 0.0
    t = [s["uptime_ms"] / 1000.0 - t0 for s in pts]
    fig, (ax, ax2) = plt.subplots(2, 1, sharex=True, figsize=(8, 5), height_ratios=[3, 1])
    ax.plot(t, [s["temp_c"] for s in pts], label="nozzle (thermistor)")
    ax.axhline(setpoint, color="k", lw=0.8, ls="--", label=f"setpoint {setpoint:g} °C")
    ax.axhspan(setpoint - 0.5, setpoint + 0.5, color="g", alpha=0.12, label="±0.5 °C")
    ax.set_ylabel("°C")
    ax.legend(loc="lower right")
    ax.set_title(title or f"heater step response to {setpoint:g} °C")
    ax2.plot(t, [s["duty"] or 0.0 for s in pts], color="tab:red")
    ax2.set_ylabel("duty")
    ax2.set_xlabel("board time, s")
    fig.tight_layout()
    p = Path(path)
    fig.savefig(p, dpi=100)
    plt.close(fig)
    return p
