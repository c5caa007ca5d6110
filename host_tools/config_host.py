"""Host side of `hearth config`: check a config against the board's schema, push it in
line-sized chunks, compare host and board.

The schema comes from the board (`config_get`, firmware/hearth/runtime/configcmd.py) or
from a schema file saved from it (`hearth config show --port P --json`, its "schema"
key). Checks mirror firmware/hearth/runtime/config.py (which the board runs again on every
change): unknown sections or keys, wrong types and values outside bounds are all
reported, each naming the field and what it allows. Nothing is sent unless the whole
document passes.
"""

from __future__ import annotations

import binascii
import json
from pathlib import Path
from typing import Any

from host_tools.protocol import encode_request

Schema = dict[str, dict[str, dict[str, Any]]]


class ConfigError(Exception):
    """A config that cannot be used; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def allowed(spec: dict[str, Any]) -> str:
    t = spec.get("type")
    unit = f" {spec['unit']}" if spec.get("unit") else ""
    if t == "bool":
        return "true or false"
    if t == "str":
        ch = spec.get("choices")
        return "one of " + ", ".join(ch) if ch else "a string"
    lo, hi = spec.get("min"), spec.get("max")
    kind = "an integer" if t == "int" else "a number"
    if lo is not None and hi is not None:
        return f"{kind} in {lo}..{hi}{unit}"
    if lo is not None:
        return f"{kind} >= {lo}{unit}"
    if hi is not None:
        return f"{kind} <= {hi}{unit}"
    return kind


def check_value(key: str, spec: dict[str, Any], v: Any) -> str | None:
    t = spec.get("type")
    bad = f"{key}={json.dumps(v)}: must be {allowed(spec)}"
    if t == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            return bad
    elif t == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return bad
    elif t == "bool":
        return None if isinstance(v, bool) else bad
    elif t == "str":
        if not isinstance(v, str):
            return bad
        ch = spec.get("choices")
        return bad if ch and v not in ch else None
    else:
        return f"{key}: the schema has an unknown type {t!r}"
    lo, hi = spec.get("min"), spec.get("max")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        return bad
    return None


def validate(data: Any, schema: Schema) -> list[str]:
    """Every problem with `data` (a whole config document): types and bounds per field,
    then, when those pass, values that contradict each other; [] when it is good."""
    if not isinstance(data, dict):
        return ["config must be a JSON object of sections, e.g. {\"common\": {\"tick_ms\": 10}}"]
    problems: list[str] = []
    for sec, values in data.items():
        fields = schema.get(sec)
        if fields is None:
            problems.append(f"unknown config section {sec!r} (this board has: {', '.join(schema)})")
            continue
        if not isinstance(values, dict):
            problems.append(f"config section {sec!r} must be an object")
            continue
        for name, v in values.items():
            spec = fields.get(name)
            if spec is None:
                problems.append(f"unknown config key {sec}.{name}")
                continue
            err = check_value(f"{sec}.{name}", spec, v)
            if err:
                problems.append(err)
    if not problems:
        problems = consistency(effective(data, schema))
    return problems


MATERIALS = ("dark", "milk", "white", "dough", "puree")


def _n(v: Any) -> str:
    return json.dumps(v)


def consistency(cfg: dict[str, Any]) -> list[str]:
    """Values that are each within bounds but contradict each other, in a config with
    every key filled in (effective()); the board checks the same (runtime/config.py's
    section checks). [] when consistent."""
    out: list[str] = []
    p = cfg.get("printer")
    if isinstance(p, dict) and "max_c" in p:
        if "min_setpoint_c" in p and p["min_setpoint_c"] >= p["max_c"]:
            out.append(f"printer.min_setpoint_c={_n(p['min_setpoint_c'])} is not below printer.max_c={_n(p['max_c'])}")
        if "danger_lo_c" in p and p["danger_lo_c"] >= p["danger_hi_c"]:
            out.append(f"printer.danger_lo_c={_n(p['danger_lo_c'])} is not below "
                       f"printer.danger_hi_c={_n(p['danger_hi_c'])}")
        for m in MATERIALS:
            lo, sp, hi = p.get(f"{m}_min_c"), p.get(f"{m}_c"), p.get(f"{m}_max_c")
            if lo is None or sp is None or hi is None:
                continue
            if hi > p["max_c"]:
                out.append(f"printer.{m}_max_c={_n(hi)} is above printer.max_c={_n(p['max_c'])}")
            if lo > hi:
                out.append(f"printer.{m}_min_c={_n(lo)} is above printer.{m}_max_c={_n(hi)}")
            elif not lo <= sp <= hi:
                out.append(f"printer.{m}_c={_n(sp)} is outside printer.{m}_min_c..{m}_max_c ({_n(lo)}..{_n(hi)})")
    la = cfg.get("latch")
    if isinstance(la, dict):
        if "servo_open_us" in la and la["servo_open_us"] == la.get("servo_locked_us"):
            out.append(f"latch.servo_open_us={_n(la['servo_open_us'])} is the same as latch.servo_locked_us: "
                       "the bolt would never move")
        if "loadcell_off_g" in la and la["loadcell_off_g"] >= la.get("loadcell_on_g", 0):
            out.append(f"latch.loadcell_off_g={_n(la['loadcell_off_g'])} is not below "
                       f"latch.loadcell_on_g={_n(la['loadcell_on_g'])}")
        if "solenoid_pull_ms" in la and la["solenoid_pull_ms"] > la.get("solenoid_max_on_ms", 1 << 30):
            out.append(f"latch.solenoid_pull_ms={_n(la['solenoid_pull_ms'])} is above "
                       f"latch.solenoid_max_on_ms={_n(la['solenoid_max_on_ms'])}")
    return out


def effective(data: dict[str, Any], schema: Schema) -> dict[str, dict[str, Any]]:
    out = {sec: {k: s.get("default") for k, s in fields.items()} for sec, fields in schema.items()}
    for sec, values in data.items():
        if isinstance(values, dict) and sec in out:
            out[sec].update(values)
    return out


def parse_assignment(text: str, schema: Schema) -> tuple[str, str, Any]:
    """`section.name=value` -> (section, name, value); the value as JSON, else a string."""
    if "=" not in text:
        raise ConfigError([f"{text!r}: expected SECTION.NAME=VALUE, e.g. printer.kp=3.5"])
    key, raw = text.split("=", 1)
    key = key.strip()
    if key.count(".") != 1:
        raise ConfigError([f"{key!r}: expected SECTION.NAME, e.g. common.tick_ms"])
    sec, name = key.split(".")
    spec = schema.get(sec, {}).get(name)
    raw = raw.strip()
    value: Any
    if spec is not None and spec.get("type") == "str":
        value = raw
    else:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
    return sec, name, value


def merge(stored: dict[str, Any] | None, sets: list[tuple[str, str, Any]]) -> dict[str, Any]:
    new: dict[str, Any] = {s: dict(v) if isinstance(v, dict) else v for s, v in (stored or {}).items()}
    for sec, name, value in sets:
        sect = new.setdefault(sec, {})
        if isinstance(sect, dict):
            sect[name] = value
    return new


def diff(host: dict[str, Any], board: dict[str, Any], schema: Schema | None = None) -> list[dict[str, Any]]:
    """Fields whose effective values differ (defaults filled in from the schema when given)."""
    a = effective(host, schema) if schema else host
    b = effective(board, schema) if schema else board
    out: list[dict[str, Any]] = []
    for sec in sorted(set(a) | set(b)):
        sa, sb = a.get(sec, {}), b.get(sec, {})
        if not isinstance(sa, dict) or not isinstance(sb, dict):
            if sa != sb:
                out.append({"key": sec, "host": sa, "board": sb})
            continue
        for k in sorted(set(sa) | set(sb)):
            va, vb = sa.get(k), sb.get(k)
            if va != vb or isinstance(va, bool) != isinstance(vb, bool):
                out.append({"key": f"{sec}.{k}", "host": va, "board": vb})
    return out


def load_file(path: str | Path) -> Any:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError([f"{p}: cannot read ({e.strerror})"]) from e
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError([f"{p}: not valid JSON (line {e.lineno} column {e.colno}: {e.msg})"]) from e


def chunks(text: str, max_line: int = 256) -> list[str]:
    """Split `text` so each config_stage request fits in one board line."""
    out: list[str] = []
    i = 0
    while i < len(text):
        n = min(len(text) - i, max_line)
        while n > 1 and len(encode_request(999_999_999, "config_stage", {"off": 99999, "text": text[i:i + n]})) - 1 > max_line:
            n -= max(1, n // 8)
        out.append(text[i:i + n])
        i += n
    return out


def push(client: Any, data: dict[str, Any], reboot: bool = True, timeout: float = 3.0) -> dict[str, Any]:
    """Stage the document in chunks, then commit it with its CRC. Returns the board's answer."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True, sort_keys=True)
    max_line = int(getattr(client, "max_line", 256) or 256)
    off = 0
    for c in chunks(text, max_line):
        client.request("config_stage", {"off": off, "text": c}, timeout=timeout)
        off += len(c)
    crc = "%08x" % (binascii.crc32(text.encode()) & 0xFFFFFFFF)
    return client.request("config_push", {"staged": off, "crc": crc, "reboot": reboot}, timeout=timeout)


def spec_from_board(item: list[Any]) -> dict[str, Any]:
    """The board's [type, default, min, max, unit] -> a schema entry (str: min is the choices)."""
    typ, default, lo, hi, unit = (list(item) + [None] * 5)[:5]
    e: dict[str, Any] = {"type": typ, "default": default, "unit": unit or ""}
    if typ == "str":
        if lo is not None:
            e["choices"] = list(lo)
    elif typ != "bool":
        e["min"], e["max"] = lo, hi
    return e


def fetch(client: Any, timeout: float = 2.0, schema: bool = True) -> dict[str, Any]:
    """Everything `config_get` tells, in a few small requests: hash, stored_hash, stored
    (the file on the board, None if none), config (running values per section), schema."""
    base = client.request("config_get", {}, timeout=timeout)
    out: dict[str, Any] = {"hash": base.get("hash"), "stored_hash": base.get("stored_hash"),
                           "stored": base.get("stored"), "config": {}, "schema": {}}
    for sec in base.get("sections", []):
        out["config"][sec] = client.request("config_get", {"section": sec}, timeout=timeout).get("config", {})
        if not schema:
            continue
        fields: dict[str, Any] = {}
        start = 0
        while True:
            page = client.request("config_get", {"section": sec, "schema": True, "start": start}, timeout=timeout)
            got = page.get("fields") or {}
            for name, item in got.items():
                fields[name] = spec_from_board(item)
            start += int(base.get("page") or 12)
            if not got or start >= int(page.get("total", 0)):
                break
        out["schema"][sec] = fields
    return out
