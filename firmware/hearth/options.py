# Options for a driver or controller: its DEFAULTS overlaid with what config gives.
# An unknown key is an error, not ignored: a typo must not silently leave a default
# in force. (Bounds are checked where the meaning is known: runtime/config.py's schema
# for the board's config file, the constructor for derived limits.)


def merge(defaults, config, what):
    out = dict(defaults)
    if config:
        for k in config:
            if k not in defaults:
                raise ValueError("unknown %s config key: %s" % (what, k))
            out[k] = config[k]
    return out


def complete(schema, config):
    # The config section as the board's config gives it (runtime/config.py fills in every
    # default) is used as it is: the app holds the same dict, and a second copy of a
    # 40-key table at boot needs a contiguous block the heap may not have. None when
    # keys are missing or unknown (tests, partial sections): the caller merges.
    if not config or len(config) != len(schema):
        return None
    for k in config:
        if k not in schema:
            return None
    return config
