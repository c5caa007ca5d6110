"""Partition tables: each board's CSV, its binary at 0x8000, and what flashing does with them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from host_tools.boards import BOARDS, load_board
from host_tools.cli import main as cli
from host_tools.deploy import esp, partitions
from host_tools.deploy.image import ImageError, vfs_partition

MB = partitions.MB


@pytest.mark.parametrize("name", ["latch-esp32", "printer-s3"])
def test_table_round_trips_and_every_offset_is_checked(name: str) -> None:
    board = load_board(name)
    table = partitions.load(board)
    data = partitions.binary(table)
    assert len(data) == 0xC00 and data[:2] == b"\xaa\x50"  # the entries' magic
    back = partitions.from_binary(data)
    assert [(p.name, p.type, p.subtype, p.offset, p.size) for p in back] == \
        [(p.name, p.type, p.subtype, p.offset, p.size) for p in table]
    parts = partitions.layout(back, partitions.flash_size(board))
    # what the firmware and the virtual board rely on
    assert parts["journal"].size == 64 * 1024 and parts["journal"].offset % 0x1000 == 0
    assert parts["factory"].offset == 0x10000 and parts["romfs"].subtype == 0x8F
    assert max(p.end for p in parts.values()) == parts["vfs"].end == partitions.flash_size(board)
    ordered = sorted(parts.values(), key=lambda p: p.offset)
    assert ordered[-1].name == "vfs"  # vfs last
    for a, b in zip(ordered, ordered[1:], strict=False):
        assert a.end <= b.offset, (a, b)  # no overlap
    assert ordered[0].offset >= partitions.TABLE_OFFSET + 0x1000


def test_a_table_without_vfs_gets_micropythons_automatic_one_sized_by_the_flash() -> None:
    # v1.26+: the vfs runs from the end of the last partition to the end of the real flash
    csv = "nvs, data, nvs, 0x9000, 0x6000,\nfactory, app, factory, 0x10000, 0x1F0000,\n"
    table = partitions.parse(csv)
    v8 = partitions.layout(table, 8 * MB)["vfs"]
    v16 = partitions.layout(table, 16 * MB)["vfs"]
    assert v8.offset == v16.offset == 0x200000 and v8.size == 6 * MB and v16.size == 14 * MB


def test_overlapping_or_oversized_tables_are_refused() -> None:
    with pytest.raises(partitions.PartitionError, match="overlap"):
        partitions.parse("a, data, nvs, 0x9000, 0x6000,\nb, data, nvs, 0xa000, 0x1000,\n")
    table = partitions.load(load_board("printer-s3"))  # an 8 MiB table
    with pytest.raises(partitions.PartitionError, match="does not fit"):
        partitions.layout(table, 4 * MB)


def _fake_base(tmp_path: Path, chip_id: int) -> Path:
    img = bytearray(64)
    img[0] = 0xE9
    img[12:14] = chip_id.to_bytes(2, "little")
    p = tmp_path / "fw.bin"
    p.write_bytes(bytes(img))
    return p


@pytest.mark.parametrize("name,chip_id,boot", [("latch-esp32", 0, "0x1000"), ("printer-s3", 9, "0x0")])
def test_flash_base_dry_run_writes_firmware_then_the_table(tmp_path: Path, name: str, chip_id: int,
                                                           boot: str) -> None:
    fw = _fake_base(tmp_path, chip_id)
    r = CliRunner().invoke(cli, ["flash", "--board", name, "--port", "/dev/ttyUSB9", "--base", str(fw),
                                 "--dry-run", "--json"])
    assert r.exit_code == 0, r.output
    cmds = json.loads(r.output)["commands"]
    assert [c[c.index("--baud") + 2] for c in cmds] == ["erase-flash", "write-flash", "write-flash"]
    assert cmds[1][-2:] == [boot, str(fw)]
    assert cmds[2][-2] == "0x8000"
    table = Path(cmds[2][-1]).read_bytes()  # the table the command would write
    assert [p.name for p in partitions.from_binary(table)] == ["nvs", "phy_init", "factory", "journal", "romfs", "vfs"]


def test_flash_image_dry_run_uses_the_tables_vfs(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["flash", "--board", "latch-esp32", "--port", "/dev/ttyUSB9", "--image",
                                 "--dry-run", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    (cmd,) = out["commands"]
    off, size = vfs_partition(load_board("latch-esp32"))
    assert cmd[-2] == f"0x{off:x}" and Path(cmd[-1]).stat().st_size == size
    assert "assumed" in out["notes"][0]
    r = CliRunner().invoke(cli, ["flash", "--board", "latch-esp32", "--port", "/dev/ttyUSB9", "--image",
                                 "--size", str(size // 2), "--dry-run"])
    assert r.exit_code == 1 and "would not mount" in r.output


def test_flash_size_is_read_from_esptools_answer() -> None:
    assert esp.detected_flash_mb("Manufacturer: c8\nDetected flash size: 16MB\n") == 16
    assert esp.detected_flash_mb("A fatal error occurred") is None


def test_a_board_whose_table_does_not_fit_its_flash_is_refused_before_esptool(tmp_path: Path, monkeypatch) -> None:
    board = json.loads((BOARDS / "printer-s3.json").read_text())
    board["flash"]["size_mb"] = 4  # the 8 MiB table on a 4 MiB module
    monkeypatch.setattr(esp, "load_board", lambda name: board)
    ran: list = []
    monkeypatch.setattr(esp, "run", lambda cmds, timeout=600: ran.append(cmds))
    fw = _fake_base(tmp_path, 9)
    r = CliRunner().invoke(cli, ["flash", "--board", "printer-s3", "--port", "/dev/ttyUSB9", "--base", str(fw)])
    assert r.exit_code == 1 and "does not fit" in r.output and ran == []


def test_vfs_partition_refuses_a_board_without_room() -> None:
    board = json.loads((BOARDS / "printer-s3.json").read_text())
    with pytest.raises(ImageError):
        vfs_partition(board, "board", 2 * MB)
