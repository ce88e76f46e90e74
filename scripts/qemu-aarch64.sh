#!/bin/sh
# Runs an aarch64 program under qemu-user with the CPU model from EDGEINFER_QEMU_CPU (default: max).
# cortex-a53: NEON only · neoverse-n1: + dot product · max: + i8mm. Used as CMAKE_CROSSCOMPILING_EMULATOR.
exec qemu-aarch64 -cpu "${EDGEINFER_QEMU_CPU:-max}" -L "${EDGEINFER_AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}" "$@"
