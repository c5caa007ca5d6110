# Generated from boards/printer-s3.json by `hearth firmware board --board printer-s3`: edit the board file.
set(IDF_TARGET esp32s3)

# ESP-IDF reads a relative partition table name against ports/esp32: name this
# folder's copy by its absolute path, in a fragment written at configure time.
file(WRITE ${CMAKE_BINARY_DIR}/sdkconfig.hearth_partitions
    "CONFIG_PARTITION_TABLE_CUSTOM=y\nCONFIG_PARTITION_TABLE_CUSTOM_FILENAME=\"${MICROPY_BOARD_DIR}/partitions.csv\"\n")

set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    boards/sdkconfig.ble
    ${MICROPY_BOARD_DIR}/sdkconfig.board
    ${CMAKE_BINARY_DIR}/sdkconfig.hearth_partitions
)

set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)
