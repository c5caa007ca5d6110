// Generated from boards/latch-esp32.json by `hearth firmware board --board latch-esp32`: edit the board file.
#define MICROPY_HW_BOARD_NAME "hearth latch-esp32"
#define MICROPY_HW_MCU_NAME "ESP32"

// ROMFS: the romfs partition of partitions.csv, mounted at /rom and on sys.path
// (`hearth flash --format romfs`); bytecode there runs in place, not in the heap.
#define MICROPY_VFS_ROM (1)
