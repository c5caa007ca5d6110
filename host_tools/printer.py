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

MAX_JOB_LINE = 96  # the board's limit (firmware control/gcode.py)
AMBIENT_BAND_C = 3.0  # heater-test: a nozzle warmer than model ambient + this is not a cold start


class JobError(Exception):
    pass


class LineRefused(JobError):
    """The board refused job line `line` (`code`, `message` from the board)."""

    def __init__(self, line: int, text: str, code: str, message: str) -> None:
        super().__init__(f"line {line} ({text}) refused by the board: {code} {message}")
        self.line, self.text, self.code, self.message = line, text, code, message


def file_id(lines: list[str]) -> tuple[str, int]:
    """What the board's job record keeps of the file: a hash of its job lines (8 hex
    digits of sha256) and their number. Comments and blank lines do not count."""
    import hashlib

    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:8], len(lines)


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


def resume_recovered(c: BoardClient, h: dict[str, Any], fhash: str, nlines: int) -> dict[str, Any]:
    """Ask for the checked resume of the print job the board holds in RECOVERY (h: its
    hello), for this file (its hash and line count); returns the board's job record
    after it ("job", "next"). A board with no such job, another file, or nothing left
    to do raises JobError before anything is asked; a food-safety refusal BoardError."""
    rec = h.get("recovery") or {}
    if not rec:
        raise JobError(f"nothing to resume: the board is {h.get('state')} with no interrupted print job")
    if not rec.get("job"):
        raise JobError("the board's recovery holds no print job (a latch?): nothing to resume")
    got = _poll(c).get("recovered") or {}
    if got.get("file") and (got["file"] != fhash or got.get("lines") != nlines):
        raise JobError(f"job {rec['job']} was printing file {got['file']} ({got.get('lines')} lines), not this file "
                       f"({fhash}, {nlines} lines): resume with the job's own file, or drop the job with "
                       "`hearth recovery discard`")
    if got.get("done") is not None and got["done"] >= nlines:
        raise JobError(f"job {rec['job']} has {got['done']} lines done and this file has {nlines}: nothing to "
                       "resume; `hearth recovery discard` drops it")
    c.request("clock", {"unix": int(time.time())})
    c.request("resume", {"token": rec["token"], "file": fhash, "lines": nlines})
    return _poll(c)


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

    The job record on the board keeps the file's hash and line count (file_id).
    resume=True: the board must be in RECOVERY with this file's job interrupted (a
    different file is refused, here and on the board); the host sends its wall time
    (the board needs it to know the outage length), asks for the checked resume and
    streams from the board's next line. A refusal (food safety) raises BoardError
    with the board's reason; a refused line raises LineRefused."""
    h = c.hello()
    start = 1
    fhash, nlines = file_id(lines)
    if resume:
        j = resume_recovered(c, h, fhash, nlines)
        job_id = j["job"]
        start = j["next"]
    else:
        if h.get("state") == "RECOVERY":
            what = "an interrupted job" if (h.get("recovery") or {}).get("job") else "a recovery"
            raise JobError(f"the board holds {what}: resume it (--resume FILE) or drop it (`hearth recovery discard`)")
        if job_id is None:
            job_id = int(time.time()) % (1 << 30) or 1
        c.request("job_start", {"id": job_id, "material": material, "unix": int(time.time()),
                                "file": fhash, "lines": nlines})
    last = [0.0]
    for n in range(start, len(lines) + 1):
        try:
            _send_line(c, n, lines[n - 1], progress, every, last)
        except BoardError as e:
            raise LineRefused(n, lines[n - 1], e.code, e.message) from e
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
    if progress is not None:
        progress(j)
    haccp = c.request("haccp")
    res: dict[str, Any] = {"job": job_id, "lines": len(lines), "done": j["done"], "resumed_at": start if resume else None,
                           "danger_zone_s": j.get("danger_zone_s"), "haccp": haccp}
    if end:
        c.request("job_end")
    return res


def end_job(c: BoardClient, keep_hot: bool = False) -> str:
    """After an error: end the board's job (heater off unless keep_hot). -> what was done."""
    j = c.request("job", timeout=1.0, retries=2)
    st = j.get("state")
    if st == "RECOVERY":
        return ("the board holds the job in RECOVERY, heater off: `hearth print --resume FILE` continues it, "
                "`hearth recovery discard` drops it")
    out = ""
    if st == "ACTIVE" and j.get("job"):
        r = c.request("job_end", {"abort": True, "keep_heat": keep_hot}, timeout=1.0, retries=2)
        out = f"job {r['job']} ended on the board after line {r['done']}"
    else:
        out = f"no job running on the board (it is {st})"
    if keep_hot:
        t = c.request("job").get("target")
        return out + (f"; heater kept at {t:.1f} C" if t is not None else "; heater off")
    c.request("cool", timeout=1.0, retries=2)
    return out + "; heater off"


def hold_job(c: BoardClient) -> dict[str, Any] | None:
    """Park the board's running job for a resume (heater off). -> the board's answer, or
    None when no job was running."""
    j = c.request("job", timeout=1.0, retries=2)
    if j.get("state") != "ACTIVE" or not j.get("job"):
        return None
    return c.request("job_hold", timeout=1.0, retries=2)


# ---- heater step response ------------------------------------------------------------------
def warm_start(c: BoardClient) -> str | None:
    """Why a step response from here would not be a cold start's (the nozzle warmer than
    the board's model ambient by more than AMBIENT_BAND_C), or None."""
    t0 = (c.status().get("role") or {}).get("temp")
    amb = c.request("config_get", {"section": "printer"}).get("config", {}).get("model_ambient_c")
    if isinstance(t0, (int, float)) and isinstance(amb, (int, float)) and t0 > amb + AMBIENT_BAND_C:
        return (f"the nozzle starts at {t0:.1f} C, not at ambient (~{amb:.0f} C): rise and settle times are "
                "not those of a cold start; let it cool (`hearth status`) and run again to compare")
    return None


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
    ax.plot(t, [s["temp_c"] for s in pts], label="nozzle temperature (thermistor)")
    ax.axhline(setpoint, color="k", lw=0.8, ls="--", label=f"setpoint {setpoint:g} °C")
    ax.axhspan(setpoint - 0.5, setpoint + 0.5, color="g", alpha=0.12, label="setpoint ±0.5 °C")
    ax.set_ylabel("temperature (°C)")
    ax.legend(loc="lower right")
    ax.set_title(title or f"heater step response to {setpoint:g} °C")
    ax2.plot(t, [100.0 * (s["duty"] or 0.0) for s in pts], color="tab:red", label="heater duty")
    ax2.set_ylim(-5, 105)
    ax2.set_ylabel("heater duty (%)")
    ax2.set_xlabel("time since the step (s, board clock)")
    ax2.legend(loc="upper right")
    fig.tight_layout()
    p = Path(path)
    fig.savefig(p, dpi=100)
    plt.close(fig)
    return p
