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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO


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


LATCH_STATES = ("LOCKED", "ARMED", "RELEASING", "OPEN", "CLOSING", "FAULT")
BOARD_STATES = ("BOOT", "SAFE", "READY", "ACTIVE", "RECOVERY", "POWERFAIL", "FAULT")


@dataclass
class Series:
    key: str  # the log column
    label: str  # the legend
    kind: str = "line"  # line | step (on/off, states)
    scale: float = 1.0  # shown value = logged value * scale


@dataclass
class Panel:
    ylabel: str
    series: list[Series]
    levels: tuple[str, ...] = ()  # a state panel: y ticks are these names


def panels(rows: list[dict[str, Any]]) -> list[Panel]:
    """What the plot shows, by role: a latch's state, bolt switches, payload and flight
    controller link; a printer's nozzle temperature and setpoint, heater duty, supply;
    always the board state. Counters (releases, bytes) are not plotted."""
    keys = set().union(*(r.keys() for r in rows)) if rows else set()
    out: list[Panel] = []
    if "role.locked_sw" in keys:
        out.append(Panel("latch state", [Series("role.state", "latch state", "step")], LATCH_STATES))
        out.append(Panel("switch (1 = closed)", [Series("role.locked_sw", "lock switch", "step"),
                                                 Series("role.open_sw", "open switch", "step")]))
        pay = [Series("role.payload", "payload present", "step")]
        out.append(Panel("payload (1 = present)", pay))
        if any(isinstance(r.get("role.grams"), (int, float)) for r in rows):
            out.append(Panel("load cell (g)", [Series("role.grams", "payload weight")]))
        out.append(Panel("FC link (1 = up)", [Series("role.link", "flight controller heartbeat", "step")]))
    elif "role.temp" in keys:
        out.append(Panel("nozzle (°C)", [Series("role.temp", "nozzle temperature"),
                                         Series("role.target", "setpoint", "step")]))
        out.append(Panel("heater duty (%)", [Series("role.duty", "heater duty", scale=100.0)]))
    if "supply_mv" in keys:
        out.append(Panel("supply (V)", [Series("supply_mv", "supply voltage", scale=0.001)]))
    out.append(Panel("board state", [Series("state", "board state", "step")], BOARD_STATES))
    return out


def _values(rows: list[dict[str, Any]], s: Series, levels: tuple[str, ...]) -> list[float]:
    out: list[float] = []
    for r in rows:
        v = r.get(s.key)
        if levels:
            out.append(float(levels.index(v)) if v in levels else float("nan"))
        elif isinstance(v, bool):
            out.append(1.0 if v else 0.0)
        elif isinstance(v, (int, float)):
            out.append(float(v) * s.scale)
        else:
            out.append(float("nan"))
    return out


def plot(rows: list[dict[str, Any]], out: str | Path, title: str = "") -> Path:
    """One panel per quantity (panels()), sharing the time axis; each with its unit and
    a legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [float(r.get("t_s") or 0) for r in rows]
    ps = panels(rows)
    fig, axes = plt.subplots(len(ps), 1, figsize=(9, 1.6 + 1.5 * len(ps)), sharex=True, squeeze=False)
    for ax, p in zip([a[0] for a in axes], ps, strict=True):
        for s in p.series:
            ys = _values(rows, s, p.levels)
            if s.kind == "step":
                ax.step(t, ys, where="post", label=s.label)
            else:
                ax.plot(t, ys, label=s.label)
        ax.set_ylabel(p.ylabel)
        if p.levels:
            ax.set_yticks(range(len(p.levels)), p.levels)
        elif p.ylabel.endswith("= closed)") or p.ylabel.endswith("= present)") or p.ylabel.endswith("= up)"):
            ax.set_ylim(-0.15, 1.15)
            ax.set_yticks([0, 1])
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1][0].set_xlabel("time since the monitor started (s)")
    fig.suptitle(title or "hearth monitor")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
