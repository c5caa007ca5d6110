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
