// Generated from boards/printer-s3.json by `hearth firmware board --board printer-s3`: edit the board file.
#define MICROPY_HW_BOARD_NAME "hearth printer-s3"
#define MICROPY_HW_MCU_NAME "ESP32S3"

// ROMFS: the romfs partition of partitions.csv, mounted at /rom and on sys.path
// (`hearth flash --format romfs`); bytecode there runs in place, not in the heap.
#define MICROPY_VFS_ROM (1)

// The REPL on UART0 as well as native USB, as the generic S3 board.
#define MICROPY_HW_ENABLE_UART_REPL (1)

// A host that keeps the USB port open but does not read makes each console write
// wait this long before TinyUSB drops it (500 ms in stock MicroPython): short, so the
// control loop never stalls on the host (docs/boards.md).
#define MICROPY_HW_USB_CDC_TX_TIMEOUT (2)
