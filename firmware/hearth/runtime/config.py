# Board configuration: /config.json checked against a schema of defaults and bounds.
#
# One place reads config (Klipper's lesson): every module gets its section as a
# plain dict already validated here. A missing or invalid file never stops the board:
# it runs on the defaults and says why in `hello` / `status`. Validation is all or
# nothing: one bad field rejects the whole file, so a board is never half-configured.
#
# Schema entries: name -> (type, default, min, max, unit). type is "int", "float",
# "bool" or "str"; min/max None where they make no sense.
import hashlib
import json

COMMON = {
    "tick_ms": ("int", 10, 5, 100, "ms"),
    "watchdog_ms": ("int", 2000, 500, 10000, "ms"),
    "repl_watchdog_ms": ("int", 3600000, 60000, 7200000, "ms"),
    "telemetry_ms": ("int", 0, 0, 60000, "ms"),
    "host_timeout_ms": ("int", 10000, 1000, 600000, "ms"),
    "journal_maintain_ms": ("int", 1000, 100, 60000, "ms"),
    "gc_reserve": ("int", 16384, 2048, 65536, "bytes"),
    "arm_timeout_ms": ("int", 30000, 1000, 300000, "ms"),
}



def section(sec):
    # -> (fields, check or None) of a config section; (None, None) if there is none.
    # A role's section lives in hearth/roles/<role>_cfg.py (SCHEMA, check_config),
    # imported only while a config is read or changed (boot, config commands): the
    # tables are not kept on the heap of a running board. `check` finds values that
    # are each in bounds but contradict each other ("inconsistent: ..." problems).
    if sec == "common":
        return COMMON, None
    try:
        mod = __import__("hearth.roles.%s_cfg" % sec, None, None, ("SCHEMA",))
    except ImportError:
        return None, None
    return mod.SCHEMA, getattr(mod, "check_config", None)


def names(roles=()):
    # The board's config sections: common and its role's (roles: the role names).
    out = ["common"]
    for r in roles:
        if section(r)[0] is not None:
            out.append(r)
    return out


def defaults(roles=()):
    out = {}
    for sec in names(roles):
        fields = section(sec)[0] or {}
        d = {}
        for name in fields:
            d[name] = fields[name][1]
        out[sec] = d
    return out


def _check(sec, name, spec, v):
    typ, _default, lo, hi, unit = spec
    if typ == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            return "%s.%s must be an integer" % (sec, name)
    elif typ == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return "%s.%s must be a number" % (sec, name)
    elif typ == "bool":
        if not isinstance(v, bool):
            return "%s.%s must be true or false" % (sec, name)
        return None
    elif typ == "str":
        if not isinstance(v, str):
            return "%s.%s must be a string" % (sec, name)
        if lo is not None and v not in lo:
            return "%s.%s must be one of %s" % (sec, name, ", ".join(lo))
        return None
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        return "%s.%s=%s is outside %s..%s %s" % (sec, name, v, lo, hi, unit)
    return None


def validate(data, roles=()):
    # -> (config, None) or (None, problem). Unknown sections or keys are errors: a
    # typo must not silently leave the default in force. roles: the board's role
    # names (their sections are known; any other role's section is not).
    if not isinstance(data, dict):
        return None, "config must be a JSON object"
    known = names(roles)
    cfg = defaults(roles)
    for sec, values in data.items():
        fields = section(sec)[0] if sec in known else None
        if fields is None:
            return None, "unknown config section %r" % sec
        if not isinstance(values, dict):
            return None, "config section %r must be an object" % sec
        for name, v in values.items():
            spec = fields.get(name)
            if spec is None:
                return None, "unknown config key %s.%s" % (sec, name)
            err = _check(sec, name, spec, v)
            if err:
                return None, err
            if spec[0] == "float":
                v = float(v)
            cfg[sec][name] = v
    for sec in known:
        check = section(sec)[1]
        err = check(cfg[sec]) if check is not None else None
        if err:
            return None, err
    return cfg, None


def file_hash(raw):
    # The hash `hello` reports: the stored file's own bytes, so the host can compare it
    # with its copy without re-serialising floats the same way on both sides.
    if raw is None:
        return "defaults"
    return "".join("%02x" % b for b in hashlib.sha256(raw).digest()[:8])


def load(path="/config.json", roles=()):
    # -> (config, hash, problem or None)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return defaults(roles), "defaults", "no %s: running on defaults" % path
    try:
        data = json.loads(raw)
    except ValueError:
        return defaults(roles), file_hash(raw), "%s is not valid JSON: running on defaults" % path
    cfg, err = validate(data, roles)
    if err or cfg is None:
        return defaults(roles), file_hash(raw), "%s rejected (%s): running on defaults" % (path, err)
    return cfg, file_hash(raw), None


def save(data, path="/config.json", roles=()):
    # Validate, then write atomically: a new file, then rename over the old one (an
    # atomic operation on LittleFS), so a power cut leaves the old or the new config.
    cfg, err = validate(data, roles)
    if err:
        return None, err
    raw = json.dumps(data).encode()
    tmp = path + ".new"
    with open(tmp, "wb") as f:
        f.write(raw)
    import os

    os.rename(tmp, path)
    return cfg, None
