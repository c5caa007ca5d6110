// The parts of an ESP32 running MicroPython that the unix port does not have and the
// hearth firmware could notice: the console link's timing, the split heap's limit, and
// a ROMFS partition. Configured from the environment so one binary serves every board
// (the virtual board's relay sets these from the board file). See README.md beside
// this folder for each figure's source in ports/esp32.

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "py/gc.h"
#include "py/mperrno.h"
#include "py/objarray.h"
#include "py/runtime.h"
#include "extmod/vfs.h"

static long parse_size(const char *s) {
    char *end;
    long v = strtol(s, &end, 0);
    if (*end == 'K' || *end == 'k') {
        v *= 1024;
    } else if (*end == 'M' || *end == 'm') {
        v *= 1024 * 1024;
    }
    return v;
}

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + ts.tv_nsec / 1000;
}

static void sleep_us(uint64_t us) {
    struct timespec ts = { (time_t)(us / 1000000u), (long)(us % 1000000u) * 1000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/******************************************************************************/
// Split heap: the ESP-IDF heap that the GC heap may grow into (gc_try_add_heap).
// On the chip this is the largest free block of the system heap
// (ports/esp32/gccollect.c); here a budget, MICROPY_SYSHEAP bytes, 0 when unset.

static long sysheap_left = -1;

static void sysheap_init(void) {
    if (sysheap_left < 0) {
        const char *s = getenv("MICROPY_SYSHEAP");
        sysheap_left = s ? parse_size(s) : 0;
        if (sysheap_left < 0) {
            sysheap_left = 0;
        }
    }
}

size_t gc_get_max_new_split(void) {
    sysheap_init();
    return (size_t)sysheap_left;
}

#define SYSHEAP_HDR (16)

void *hearth_sysheap_alloc(size_t size) {
    sysheap_init();
    if ((long)size > sysheap_left) {
        return NULL;
    }
    char *p = malloc(size + SYSHEAP_HDR);
    if (p == NULL) {
        return NULL;
    }
    *(size_t *)p = size;
    sysheap_left -= (long)size;
    return p + SYSHEAP_HDR;
}

void hearth_sysheap_free(void *ptr) {
    char *p = (char *)ptr - SYSHEAP_HDR;
    sysheap_left += (long)*(size_t *)p;
    free(p);
}

/******************************************************************************/
// Console link. MICROPY_CONSOLE is one of
//   uart:BAUD         the REPL UART behind a USB-UART bridge (ESP32 DevKitC). As
//                     uart_stdout_tx_strn (ports/esp32/uart.c): bytes go into the
//                     128-byte TX FIFO; when it is full the writer sleeps one FreeRTOS
//                     tick (10 ms) and tries again. The host never slows it down.
//   usbcdc:BAUD[:MS]  a stock ESP32-S3: the same UART0 REPL at BAUD (it blocks the
//                     writer whether or not anything listens), and the console the
//                     host has open is TinyUSB's CDC (shared/tinyusb/mp_usbd_cdc.c):
//                     while the host does not read, a write waits up to MS (500)
//                     without progress, then the rest is dropped.
// Unset: a plain write, as the stock unix port.

#define UART_FIFO (128)
#define RTOS_TICK_US (10000)
#define CDC_PACKET (64)

static int con_kind = -1; // 0 plain, 1 uart, 2 usbcdc
static uint64_t con_byte_us_x1000; // wire time of one byte, in ns
static uint64_t con_fifo_empty_at; // when the UART TX FIFO will have drained (us)
static int con_cdc_timeout_ms = 500;
static int con_cdc_fd = -1;

static void console_init(void) {
    if (con_kind >= 0) {
        return;
    }
    con_kind = 0;
    const char *s = getenv("MICROPY_CONSOLE");
    if (s == NULL || *s == 0) {
        return;
    }
    long baud = 115200;
    const char *colon = strchr(s, ':');
    if (colon) {
        baud = strtol(colon + 1, NULL, 10);
        const char *colon2 = strchr(colon + 1, ':');
        if (colon2) {
            con_cdc_timeout_ms = (int)strtol(colon2 + 1, NULL, 10);
        }
    }
    if (baud <= 0) {
        baud = 115200;
    }
    con_byte_us_x1000 = 10ull * 1000000000ull / (uint64_t)baud;
    if (strncmp(s, "uart", 4) == 0) {
        con_kind = 1;
    } else if (strncmp(s, "usbcdc", 6) == 0) {
        con_kind = 2;
        // A file description of our own, so that O_NONBLOCK does not also apply to
        // stdin (the same pty, opened once for fds 0, 1 and 2).
        char name[128];
        if (ttyname_r(STDOUT_FILENO, name, sizeof(name)) == 0) {
            con_cdc_fd = open(name, O_WRONLY | O_NONBLOCK | O_NOCTTY);
        }
        if (con_cdc_fd < 0) {
            con_kind = 1;
        }
    }
}

static ssize_t write_all(const char *str, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t r = write(STDOUT_FILENO, str + done, len - done);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return done ? (ssize_t)done : -1;
        }
        done += (size_t)r;
    }
    return (ssize_t)done;
}

// The UART's pacing: returns once all but the last FIFO's worth has left the wire.
// `out` (may be NULL) receives each chunk as it enters the FIFO.
static void uart_pace(const char *str, size_t len, int to_stdout) {
    while (len) {
        uint64_t now = now_us();
        if (con_fifo_empty_at < now) {
            con_fifo_empty_at = now;
        }
        uint64_t queued = (con_fifo_empty_at - now) * 1000u / con_byte_us_x1000;
        size_t room = queued >= UART_FIFO ? 0 : UART_FIFO - (size_t)queued;
        size_t n = len < room ? len : room;
        if (n) {
            con_fifo_empty_at += n * con_byte_us_x1000 / 1000u;
            if (to_stdout) {
                write_all(str, n);
            }
            str += n;
            len -= n;
        }
        if (len) {
            // ulTaskNotifyTake(pdFALSE, 1): wait for the next FreeRTOS tick.
            uint64_t t = now_us();
            sleep_us(RTOS_TICK_US - t % RTOS_TICK_US);
        }
    }
}

static void cdc_write(const char *str, size_t len) {
    uint64_t last = now_us();
    while (len) {
        size_t n = len < CDC_PACKET ? len : CDC_PACKET;
        ssize_t r = write(con_cdc_fd, str, n);
        if (r > 0) {
            str += r;
            len -= (size_t)r;
            last = now_us();
            continue;
        }
        if (r < 0 && errno != EAGAIN && errno != EINTR) {
            return;
        }
        if (now_us() - last >= (uint64_t)con_cdc_timeout_ms * 1000u) {
            return; // the host does not read: the rest is dropped
        }
        struct pollfd p = { con_cdc_fd, POLLOUT, 0 };
        poll(&p, 1, 1);
    }
}

ssize_t hearth_console_tx(const char *str, size_t len) {
    console_init();
    if (con_kind == 1) {
        uart_pace(str, len, 1);
        return (ssize_t)len;
    }
    if (con_kind == 2) {
        uart_pace(str, len, 0);
        cdc_write(str, len);
        return (ssize_t)len;
    }
    return write_all(str, len);
}

/******************************************************************************/
// ROMFS partition: MICROPY_ROMFS=PATH[:OFFSET:SIZE], a region of a file (the virtual
// board's whole flash image), mapped read-only (bytecode runs in place, as from the
// chip's memory-mapped flash) and written only through vfs.rom_ioctl with NOR rules
// (prepare erases to 0xFF, a write can only clear bits).

#define ROM_BLOCK (4096)

static int rom_state = 0; // 0 not looked at, 1 none, 2 mapped
static int rom_fd = -1;
static off_t rom_base;
static size_t rom_len;
static mp_obj_array_t rom_view;

static void rom_init(void) {
    if (rom_state) {
        return;
    }
    rom_state = 1;
    const char *spec = getenv("MICROPY_ROMFS");
    if (spec == NULL || *spec == 0) {
        return;
    }
    char path[512];
    long off = 0, len = -1;
    const char *colon = strchr(spec, ':');
    size_t plen = colon ? (size_t)(colon - spec) : strlen(spec);
    if (plen >= sizeof(path)) {
        return;
    }
    memcpy(path, spec, plen);
    path[plen] = 0;
    if (colon) {
        char *end;
        off = strtol(colon + 1, &end, 0);
        if (*end == ':') {
            len = strtol(end + 1, NULL, 0);
        }
    }
    int fd = open(path, O_RDWR);
    if (fd < 0) {
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || off < 0 || off % ROM_BLOCK != 0 || off >= st.st_size) {
        close(fd);
        return;
    }
    if (len < 0 || off + len > st.st_size) {
        len = (long)st.st_size - off;
    }
    void *mem = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, fd, off);
    if (mem == MAP_FAILED) {
        close(fd);
        return;
    }
    rom_fd = fd;
    rom_base = off;
    rom_len = (size_t)len;
    mp_obj_memoryview_init(&rom_view, 'B', 0, rom_len, mem);
    rom_state = 2;
}

static mp_obj_t rom_erase(mp_int_t off, mp_int_t len) {
    if (off < 0 || len < 0 || (size_t)(off + len) > rom_len) {
        return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
    }
    static const uint8_t ff[ROM_BLOCK] = { [0 ... ROM_BLOCK - 1] = 0xff };
    mp_int_t start = off / ROM_BLOCK * ROM_BLOCK;
    mp_int_t end = (off + len + ROM_BLOCK - 1) / ROM_BLOCK * ROM_BLOCK;
    for (mp_int_t a = start; a < end; a += ROM_BLOCK) {
        size_t n = (size_t)(a + ROM_BLOCK) <= rom_len ? ROM_BLOCK : rom_len - (size_t)a;
        if (pwrite(rom_fd, ff, n, rom_base + a) != (ssize_t)n) {
            return MP_OBJ_NEW_SMALL_INT(-MP_EIO);
        }
    }
    return MP_OBJ_NEW_SMALL_INT(4); // smallest write: a flash word
}

static mp_obj_t rom_program(mp_int_t off, mp_obj_t data) {
    mp_buffer_info_t buf;
    mp_get_buffer_raise(data, &buf, MP_BUFFER_READ);
    if (off < 0 || (size_t)off + buf.len > rom_len) {
        return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
    }
    const uint8_t *old = (const uint8_t *)rom_view.items + off;
    const uint8_t *src = buf.buf;
    uint8_t chunk[256];
    for (size_t done = 0; done < buf.len;) {
        size_t n = buf.len - done < sizeof(chunk) ? buf.len - done : sizeof(chunk);
        for (size_t i = 0; i < n; i++) {
            chunk[i] = old[done + i] & src[done + i];
        }
        if (pwrite(rom_fd, chunk, n, rom_base + off + (off_t)done) != (ssize_t)n) {
            return MP_OBJ_NEW_SMALL_INT(-MP_EIO);
        }
        done += n;
    }
    return MP_OBJ_NEW_SMALL_INT(0);
}

mp_obj_t mp_vfs_rom_ioctl(size_t n_args, const mp_obj_t *args) {
    rom_init();
    mp_int_t cmd = mp_obj_get_int(args[0]);
    if (cmd == MP_VFS_ROM_IOCTL_GET_NUMBER_OF_SEGMENTS) {
        return MP_OBJ_NEW_SMALL_INT(rom_state == 2 ? 1 : 0);
    }
    if (rom_state != 2 || n_args < 2 || mp_obj_get_int(args[1]) != 0) {
        return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
    }
    switch (cmd) {
        case MP_VFS_ROM_IOCTL_GET_SEGMENT:
            return MP_OBJ_FROM_PTR(&rom_view);
        case MP_VFS_ROM_IOCTL_WRITE_PREPARE:
            if (n_args == 3) {
                return rom_erase(0, mp_obj_get_int(args[2]));
            } else if (n_args == 4) {
                return rom_erase(mp_obj_get_int(args[2]), mp_obj_get_int(args[3]));
            }
            break;
        case MP_VFS_ROM_IOCTL_WRITE:
            if (n_args == 4) {
                return rom_program(mp_obj_get_int(args[2]), args[3]);
            }
            break;
        case MP_VFS_ROM_IOCTL_WRITE_COMPLETE:
            fsync(rom_fd);
            return MP_OBJ_NEW_SMALL_INT(0);
        case 6: // block size (mpremote asks for it)
            return MP_OBJ_NEW_SMALL_INT(ROM_BLOCK);
    }
    return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
}

/******************************************************************************/
// REPL mode across a soft reset. On the chip a soft reset stays inside one firmware
// (ports/esp32/main.c): the REPL returns, "MPY: soft reboot" is printed, boot.py runs
// again and the REPL comes back in the mode it left, so a soft reset asked from the raw
// REPL prints only "raw REPL; CTRL-B to exit" and ">" (no banner, no ">>> "). Here the
// interpreter exits where the chip would soft-reset and the virtual board starts it
// again: MICROPY_REPL_MODE=raw starts it in the raw REPL, and the exit status says
// which mode the REPL left in (HEARTH_EXIT_SOFT_RESET_RAW / _FRIENDLY).

#include "shared/runtime/pyexec.h"

#define HEARTH_EXIT_SOFT_RESET_RAW (100)
#define HEARTH_EXIT_SOFT_RESET_FRIENDLY (101)

__attribute__((constructor)) static void repl_mode_init(void) {
    // Until code first runs, a Ctrl-C (one typed during a soft reset, say) is ignored,
    // as afterwards (MICROPY_HAL_SIGINT_NEVER_KILLS): it must not kill the "chip".
    signal(SIGINT, SIG_IGN);
    const char *m = getenv("MICROPY_REPL_MODE");
    if (m != NULL && strcmp(m, "raw") == 0) {
        pyexec_mode_kind = PYEXEC_MODE_RAW_REPL;
    }
}

int hearth_repl_exit_status(int ret) {
    if (!(ret & PYEXEC_FORCED_EXIT)) {
        return ret;
    }
    // The REPL asked for a soft reset (Ctrl-D, or SystemExit): as the esp32 port's
    // soft_reset_exit, in the same output stream, so it follows the REPL's "OK\r\n".
    mp_hal_stdout_tx_str("MPY: soft reboot\r\n");
    return pyexec_mode_kind == PYEXEC_MODE_RAW_REPL ? HEARTH_EXIT_SOFT_RESET_RAW : HEARTH_EXIT_SOFT_RESET_FRIENDLY;
}
