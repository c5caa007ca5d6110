# Config: defaults and bounds, all-or-nothing validation, atomic save, file hash.
import os

from hearth.runtime import config

PATH = "/tmp/hearth_test_config.json"


def _rm(p):
    try:
        os.remove(p)
    except OSError:
        pass


def test_missing_file_gives_defaults_and_says_so():
    _rm(PATH)
    cfg, h, err = config.load(PATH)
    assert cfg["common"]["tick_ms"] == 10
    assert h == "defaults"
    assert "no " in err


def test_corrupt_file_keeps_defaults():
    with open(PATH, "w") as f:
        f.write('{"common": {"tick_ms": 20')
    cfg, h, err = config.load(PATH)
    assert cfg["common"]["tick_ms"] == 10
    assert "not valid JSON" in err
    assert len(h) == 16


def test_one_bad_field_rejects_whole_file():
    with open(PATH, "w") as f:
        f.write('{"common": {"tick_ms": 20, "watchdog_ms": 5}}')
    cfg, _h, err = config.load(PATH)
    assert cfg["common"]["tick_ms"] == 10  # the good field is not applied either
    assert "common.watchdog_ms" in err and "500..10000" in err


def test_unknown_keys_and_types():
    assert "unknown config key" in config.validate({"common": {"tick": 1}})[1]
    assert "unknown config section" in config.validate({"nope": {}})[1]
    assert "integer" in config.validate({"common": {"tick_ms": 1.5}})[1]
    assert "integer" in config.validate({"common": {"tick_ms": True}})[1]
    assert config.validate([1])[1] == "config must be a JSON object"


def test_valid_file_applies_and_hash_tracks_bytes():
    with open(PATH, "w") as f:
        f.write('{"common": {"tick_ms": 20}}')
    cfg, h1, err = config.load(PATH)
    assert err is None and cfg["common"]["tick_ms"] == 20
    assert cfg["common"]["watchdog_ms"] == 2000
    with open(PATH, "w") as f:
        f.write('{"common": {"tick_ms": 25}}')
    _cfg, h2, _err = config.load(PATH)
    assert h1 != h2


def test_save_is_validated_and_atomic():
    with open(PATH, "w") as f:
        f.write('{"common": {"tick_ms": 20}}')
    cfg, err = config.save({"common": {"tick_ms": 1}}, PATH)
    assert cfg is None and "tick_ms" in err
    assert config.load(PATH)[0]["common"]["tick_ms"] == 20  # last good config kept
    cfg, err = config.save({"common": {"tick_ms": 30}}, PATH)
    assert err is None and config.load(PATH)[0]["common"]["tick_ms"] == 30
    _rm(PATH)


def test_role_sections_known_only_for_the_boards_role():
    # A role's section is read from hearth/roles/<role>_cfg.py only for the board's role:
    # another role's section is refused as on a board that does not run it.
    assert "unknown config section" in config.validate({"latch": {"compid": 25}})[1]
    assert "unknown config section" in config.validate({"latch": {"compid": 25}}, ("printer",))[1]
    cfg, err = config.validate({"latch": {"compid": 25}}, ("latch",))
    assert err is None and cfg["latch"]["compid"] == 25 and cfg["common"]["tick_ms"] == 10
    assert config.names(("latch", "nosuchrole")) == ["common", "latch"]
    assert sorted(config.defaults(("printer",))) == ["common", "printer"]


def test_save_knows_the_boards_role_section():
    _rm(PATH)
    cfg, err = config.save({"latch": {"compid": 25}}, PATH, ("latch",))
    assert err is None and cfg["latch"]["compid"] == 25
    assert config.load(PATH, ("latch",))[0]["latch"]["compid"] == 25
    cfg, err = config.save({"latch": {"compid": 26}}, PATH)  # a board without the latch role
    assert cfg is None and "unknown config section" in err
    _rm(PATH)
