# Console commands for the board's config: read it with its schema, change it safely.
#
#   config_get   {} / {"section": S} / {"section": S, "schema": true, "start": i}
#                                           read-only: hashes and stored file / running values /
#                                           a page of the schema (answers stay small: heap)
#   config_set   {"key": "sec.name", "value": v}       one field, merged into the stored file
#   config_stage {"off": n, "text": "..."}  a chunk of a whole config document (JSON text);
#                                           a request line is at most 256 bytes, a config is not
#   config_push  {"data": {...}} or {"staged": n, "crc": "8 hex"}  a whole config document
#
# Every change is validated here again (runtime/config.validate, whatever the host checked),
# written atomically (runtime/config.save: a new file, then rename), read back and hashed.
# On any failure nothing is written and the board keeps its last good config.
#
# Applying a config = a reboot (hal.reset, machine.reset on an ESP32), right after the
# answer carrying the new hash has been written: roles take their config section when
# they are built, and rebuilding them live would risk a half-applied config. Boot puts
# every output safe first; a job or held payload survives through the journal as on
# any reset. Changes are refused while the board is ACTIVE (a job or a motion) or in
# POWERFAIL. `{"reboot": false}` saves without applying (hello then shows the old hash
# until the next reset; config_get shows both).
import binascii
import json

from hearth.runtime import config as configmod
from hearth.runtime.protocol import CommandError

STAGE_MAX = 4096
PAGE = 12


def schema_page(section, start=0, count=PAGE):
    # -> ({name: [type, default, min, max, unit]}, total). Lists, not dicts, and pages of a
    # few fields: one answer must fit the free heap of a busy board (~20 KB on a latch).
    # A str field's min is its tuple of choices.
    fields = configmod.section(section)[0]
    if fields is None:
        return None, 0
    out = {}
    i = 0
    for name, spec in fields.items():
        if start <= i < start + count:
            out[name] = list(spec)
        i += 1
    return out, i


def _code(problem):
    # A value outside its bounds is RANGE; unknown keys, wrong types, bad JSON are BAD_ARGS.
    return "RANGE" if ("outside" in problem or "must be one of" in problem
                       or problem.startswith("inconsistent")) else "BAD_ARGS"


class ConfigCommands:
    # What it needs is handed in, not read out of the app:
    #   running       the config in force (sections of values) and running_hash its hash
    #   sup           the supervisor (its state says whether a change is allowed now)
    #   reset_later() asks the app to reset once this answer is out
    def __init__(self, path, running, running_hash, sup, reset_later):
        self.path = path
        self.running = running
        self.running_hash = running_hash
        self.sup = sup
        self.reset_later = reset_later
        self.stage = bytearray()
        # The board's role sections: those of the config in force (common is always known).
        self.roles = [s for s in running if s != "common"]

    # ---- reading -------------------------------------------------------------------------
    def _stored(self):
        # -> (data or None, raw bytes or None)
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except OSError:
            return None, None
        try:
            data = json.loads(raw)
        except ValueError:
            return None, raw
        return data, raw

    def cmd_get(self, args):
        # {}                      -> hashes, section names, the stored file
        # {"section": S}          -> S's running values
        # {"section": S, "schema": true, "start": i} -> a page of S's schema
        import gc

        gc.collect()
        sec = args.get("section")
        if sec is None:
            data, raw = self._stored()
            return {
                "hash": self.running_hash,
                "stored_hash": configmod.file_hash(raw),
                "sections": configmod.names(self.roles),
                "stored": data if isinstance(data, dict) else None,
                "page": PAGE,
            }
        if sec not in configmod.names(self.roles):
            raise CommandError("BAD_ARGS", "no config section %r" % sec)
        if args.get("schema"):
            start = args.get("start", 0)
            if not isinstance(start, int) or isinstance(start, bool) or start < 0:
                raise CommandError("BAD_ARGS", "start must be an integer >= 0")
            page, total = schema_page(sec, start)
            return {"section": sec, "start": start, "total": total, "fields": page}
        return {"section": sec, "config": self.running.get(sec, {})}

    # ---- writing -------------------------------------------------------------------------
    def _check_state(self):
        st = self.sup.state
        if st == "ACTIVE":
            raise CommandError("BUSY", "a job or motion is running: change the config when idle")
        if st == "POWERFAIL":
            raise CommandError("STATE", "power is failing: config not changed")

    def _apply(self, data, reboot):
        self._check_state()
        cfg, err = configmod.validate(data, self.roles)
        if err or cfg is None:
            raise CommandError(_code(err or "invalid"), "%s; config not changed" % err)
        try:
            cfg, err = configmod.save(data, self.path, self.roles)
        except OSError as e:
            try:
                import os

                os.remove(self.path + ".new")
            except OSError:
                pass
            raise CommandError("INTERNAL", "config not saved (%s); the board keeps its last good config" % e)
        if err:
            raise CommandError(_code(err), "%s; config not changed" % err)
        _data, raw = self._stored()
        h = configmod.file_hash(raw)
        if reboot:
            # The answer is written by the superloop after this handler returns; the app
            # resets once its answers are out, so the host gets the new hash.
            self.reset_later()
        return {"hash": h, "saved": True, "reboot": bool(reboot)}

    def cmd_set(self, args):
        key = args.get("key")
        if not isinstance(key, str) or key.count(".") != 1 or "value" not in args:
            raise CommandError("BAD_ARGS", 'config_set takes {"key": "section.name", "value": v}')
        sec, name = key.split(".")
        data, raw = self._stored()
        if raw is not None and not isinstance(data, dict):
            raise CommandError("STATE", "the stored config is not valid JSON: push a whole config")
        new = {}
        if isinstance(data, dict):
            for s, vals in data.items():
                new[s] = dict(vals) if isinstance(vals, dict) else vals
        sect = new.setdefault(sec, {})
        if not isinstance(sect, dict):
            raise CommandError("BAD_ARGS", "config section %r must be an object" % sec)
        sect[name] = args["value"]
        return self._apply(new, args.get("reboot", True))

    def cmd_stage(self, args):
        off = args.get("off")
        text = args.get("text")
        if not isinstance(off, int) or isinstance(off, bool) or not isinstance(text, str):
            raise CommandError("BAD_ARGS", 'config_stage takes {"off": n, "text": "..."}')
        if off == 0:
            self.stage = bytearray()
        if off != len(self.stage):
            raise CommandError("STATE", "staged %d bytes, chunk is for offset %d: start again at 0"
                               % (len(self.stage), off))
        chunk = text.encode()
        if len(self.stage) + len(chunk) > STAGE_MAX:
            self.stage = bytearray()
            raise CommandError("RANGE", "a config is at most %d bytes" % STAGE_MAX)
        self.stage.extend(chunk)
        return {"staged": len(self.stage)}

    def cmd_push(self, args):
        reboot = args.get("reboot", True)
        if "data" in args:
            data = args["data"]
        elif "staged" in args:
            buf = bytes(self.stage)
            self.stage = bytearray()
            if args.get("staged") != len(buf):
                raise CommandError("STATE", "staged %d bytes, push says %r: stage again" % (len(buf), args.get("staged")))
            crc = "%08x" % (binascii.crc32(buf) & 0xFFFFFFFF)
            if args.get("crc") != crc:
                raise CommandError("BAD_ARGS", "staged text CRC %s does not match %r: stage again" % (crc, args.get("crc")))
            try:
                data = json.loads(buf)
            except ValueError:
                raise CommandError("BAD_ARGS", "staged text is not valid JSON; config not changed")
        else:
            raise CommandError("BAD_ARGS", 'config_push takes {"data": {...}} or {"staged": n, "crc": "..."}')
        return self._apply(data, reboot)
