"""`hearth monitor`: poll `status`, show it live, log it, plot it.

The firmware emits no periodic `!tel` lines yet (common.telemetry_ms is in the schema,
unused), so the monitor polls `status` every `interval` seconds; any `!tel`/`!evt`
lines that do arrive are logged too (JSONL) by the client's event callback.

A sample is one flat row: t_s, state, supply_mv, power_ok, heap_free, overruns, then
the role's scalar readings (printer: temp, target, duty, step_hz, clog, ...; latch:
state, locked_sw, open_sw, payload, grams, ...), prefixed `role.`.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

NUMERIC_PREFERRED = ("role.temp", "role.target", "role.duty", "supply_mv", "role.grams", "role.step_hz")


def flatten(status: dict[str, Any], t_s: float) -> dict[str, Any]:
    row: dict[str, Any] = {"t_s": round(t_s, 3), "state": status.get("state"), "supply_mv": status.get("supply_mv"),
                           "power_ok": status.get("power_ok"), "heap_free": status.get("heap_free")}
    loop = status.get("loop") or {}
    row["overruns"] = loop.get("overruns")
    row["worst_tick_us"] = loop.get("worst_tick_us")
    lf = status.get("last_fault")
    row["last_fault"] = lf.get("code") if isinstance(lf, dict) else lf
    for k, v in (status.get("role") or {}).items():
        if v is None or isinstance(v, (bool, int, float, str)):
            row[f"role.{k}"] = round(v, 3) if isinstance(v, float) else v
    return row


def samples(client: Any, interval: float, duration: float | None,
            stop: Callable[[], bool] | None = None) -> Iterator[dict[str, Any]]:
    t0 = time.monotonic()
    n = 0
    while True:
        now = time.monotonic()
        if duration is not None and now - t0 > duration:
            return
        if stop is not None and stop():
            return
        st = client.request("status", None, timeout=2.0)
        yield flatten(st, time.monotonic() - t0)
        n += 1
        wait = t0 + n * interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)


class Logger:
    """CSV (columns fixed by the first sample; later extra keys are dropped) and/or JSONL."""

    def __init__(self, csv_path: str | None, jsonl_path: str | None) -> None:
        self._csv_f: TextIO | None = open(csv_path, "w", newline="") if csv_path else None  # noqa: SIM115
        self._jsonl: TextIO | None = open(jsonl_path, "w") if jsonl_path else None  # noqa: SIM115
        self._writer: csv.DictWriter[str] | None = None
        self.rows = 0

    def write(self, row: dict[str, Any]) -> None:
        if self._csv_f is not None:
            if self._writer is None:
                self._writer = csv.DictWriter(self._csv_f, fieldnames=list(row), extrasaction="ignore")
                self._writer.writeheader()
            self._writer.writerow(row)
            self._csv_f.flush()
        if self._jsonl is not None:
            self._jsonl.write(json.dumps(row) + "\n")
            self._jsonl.flush()
        self.rows += 1

    def event(self, kind: str, data: Any) -> None:
        if self._jsonl is not None:
            self._jsonl.write(json.dumps({"event": kind, "data": data, "t": time.time()}) + "\n")

    def close(self) -> None:
        for f in (self._csv_f, self._jsonl):
            if f is not None:
                f.close()


def read_log(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    rows: list[dict[str, Any]] = []
    if p.suffix == ".jsonl":
        for line in p.read_text().splitlines():
            if line.strip():
                d = json.loads(line)
                if "event" not in d:
                    rows.append(d)
        return rows
    with p.open(newline="") as f:
        for r in csv.DictReader(f):
            rows.append({k: _num(v) for k, v in r.items()})
    return rows


def _num(v: str) -> Any:
    if v == "":
        return None
    if v in ("True", "False"):
        return v == "True"
    try:
        return float(v)
    except ValueError:
        return v


def plot(rows: list[dict[str, Any]], out: str | Path, title: str = "") -> Path:
    """Numeric columns over time: temperatures/setpoint on the first axis, supply on the
    second, the state as a step line on the third."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [float(r.get("t_s") or 0) for r in rows]
    numeric = [k for k in (rows[0] if rows else {})
               if k != "t_s" and any(isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool) for r in rows)]
    top = [k for k in ("role.temp", "role.target") if k in numeric]
    if not top:
        top = [k for k in numeric if k.startswith("role.") and k not in ("role.rx_bytes", "role.tx_bytes")][:3]
    fig, axes = plt.subplots(3, 1, figsize=(9, 7), sharex=True)
    for k in top:
        axes[0].plot(t, [r.get(k) if isinstance(r.get(k), (int, float)) else float("nan") for r in rows], label=k)
    axes[0].set_ylabel("role readings")
    if top:
        axes[0].legend(loc="best", fontsize=8)
    axes[1].plot(t, [r.get("supply_mv") if isinstance(r.get("supply_mv"), (int, float)) else float("nan") for r in rows],
                 color="tab:red", label="supply_mv")
    if "role.duty" in numeric:
        ax2 = axes[1].twinx()
        ax2.plot(t, [r.get("role.duty") or 0 for r in rows], color="tab:orange", label="heater duty")
        ax2.set_ylabel("duty")
    axes[1].set_ylabel("supply mV")
    states = [str(r.get("state")) for r in rows]
    names = sorted(set(states))
    axes[2].step(t, [names.index(s) for s in states], where="post")
    axes[2].set_yticks(range(len(names)), names)
    axes[2].set_xlabel("time (s)")
    axes[2].set_ylabel("board state")
    fig.suptitle(title or "hearth monitor")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
