# hearth_esp32: 32-bit, single float, none of the host-only extras the ESP32 lacks.
MICROPY_FORCE_32BIT = 1
MICROPY_PY_FFI = 0
MICROPY_PY_BTREE = 0
MICROPY_PY_SSL = 0
MICROPY_PY_JNI = 0
MICROPY_VFS_LFS2 = 1
# Frozen modules: empty unless the builder passes a manifest (python -m host_tools.interp
# build --freeze), so the plain interpreter needs no mpy-cross.
FROZEN_MANIFEST ?=
