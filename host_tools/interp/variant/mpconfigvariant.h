// hearth_esp32: the MicroPython unix port built to behave like MicroPython on an ESP32
// wherever the hearth firmware could tell the difference. Each choice and its source in
// the esp32 port is explained in host_tools/interp/README.md.

// The esp32 port's feature level (ports/esp32/mpconfigport.h).
#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)

// Single-precision floats, as MICROPY_FLOAT_IMPL_FLOAT on the ESP32.
#define MICROPY_FLOAT_IMPL (MICROPY_FLOAT_IMPL_FLOAT)

// The esp32 port's split heap: it starts with MICROPY_GC_INITIAL_HEAP_SIZE (56 KiB on an
// ESP32, 64 KiB on an S3) and grows into the ESP-IDF heap when a collection is not
// enough. `-X heapsize=` is the initial area; MICROPY_SYSHEAP (environment) is the
// ESP-IDF heap that it may grow into (hearth_port.c).
#define MICROPY_GC_SPLIT_HEAP (1)
#define MICROPY_GC_SPLIT_HEAP_AUTO (1)
#include <stddef.h>
void *hearth_sysheap_alloc(size_t size);
void hearth_sysheap_free(void *ptr);
#define MP_PLAT_ALLOC_HEAP(size) hearth_sysheap_alloc(size)
#define MP_PLAT_FREE_HEAP(ptr) hearth_sysheap_free(ptr)

// Text written to stdout/stderr (print, sys.stdout.write, tracebacks) leaves with CR LF,
// as mp_hal_stdout_tx_strn_cooked does on the ESP32; sys.stdout.buffer stays binary.
#define MICROPY_HAL_STDOUT_CRLF (1)

// The REPL keeps what the host typed ahead (the unix port flushes it at every switch
// of terminal mode; a chip's UART ring does not).
#define MICROPY_HAL_KEEP_TYPEAHEAD (1)

// Console output goes through the board's link model (UART FIFO at the baud rate, or a
// USB-CDC with a bounded wait): hearth_port.c, configured by MICROPY_CONSOLE.
#include <sys/types.h>
ssize_t hearth_console_tx(const char *str, size_t len);
#define MICROPY_HW_CONSOLE_TX(str, len) hearth_console_tx(str, len)

// The REPL reads the bytes the host sent, as mp_hal_stdin_rx_chr on the ESP32: the unix
// port turns LF into CR, which made a raw-REPL script with CRLF line ends ("a\r\nb")
// reach the lexer as "a\r\rb", i.e. two line breaks (tests/basics/string_crlf_conversion.py).
#define MICROPY_HAL_STDIN_AS_SENT (1)

// A Ctrl-C while no code runs is ignored instead of killing the process (SIGINT's
// default), from start-up on: on a chip it only ever raises KeyboardInterrupt in
// running code (hearth_port.c, build.py PATCHES).
#define MICROPY_HAL_SIGINT_NEVER_KILLS (1)

// A soft reset leaves the process with a status naming the REPL mode it left in, after
// printing "MPY: soft reboot" as the esp32 port does; the virtual board restarts the
// interpreter in that mode (MICROPY_REPL_MODE=raw): hearth_port.c.
int hearth_repl_exit_status(int ret);
#define MICROPY_HW_REPL_EXIT_STATUS(ret) hearth_repl_exit_status(ret)

#include "../mpconfigvariant_common.h"

// A ROMFS partition backed by a file (MICROPY_ROMFS, environment), mapped into memory
// so that bytecode runs in place, and writable through vfs.rom_ioctl as on a board
// (so `mpremote romfs deploy` works): hearth_port.c.
#undef MICROPY_VFS_ROM_IOCTL
#define MICROPY_VFS_ROM_IOCTL (1)
#define MICROPY_VFS_ROM_IOCTL_IN_VARIANT (1)
