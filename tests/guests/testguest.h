/* SPDX-License-Identifier: MIT */
/*
 * The platform the test guest expects: standard PC ports where there is a
 * standard, and the project's test devices otherwise. xen-thin-dm emulates
 * these; without it (the smoke test's placeholder device model) reads come
 * back as all ones and the guest reports the devices as absent.
 */
#ifndef XDM_TESTGUEST_H
#define XDM_TESTGUEST_H

#define TG_COM1            0x3f8   /* 16550 UART */
#define TG_XEN_DEBUG_PORT  0xe9    /* answered by Xen itself: shows in `xl dmesg` */
#define TG_DEBUG_EXIT_PORT 0x501   /* write a 16-bit code: the device model shuts the guest down */
#define TG_SCRATCH_PORT    0x700   /* 4 bytes of scratch register file (xen-thin-dm's scratch device) */
#define TG_SCRATCH_ID_PORT 0x704   /* reads TG_SCRATCH_ID when the device is there */
#define TG_SCRATCH_ID      0x21444458u /* "XDD!" little endian */
#define TG_SCRATCH_MMIO    0xfe800000u /* 4 KiB scratch MMIO page */

#define TG_PCI_VENDOR      0x1234  /* the unofficial id emulators use for test hardware */
#define TG_PCI_DEVICE      0x11e5  /* xen-thin-dm's counter/scratch PCI device */

#define TG_BENCH_ROUNDS    20000   /* port round trips the benchmark guest times */
#define TG_BENCH_NOTIFY    0xfe800040u /* then as many dword writes here (a virtio notify) */

#define TG_EXIT_SUCCESS    0
#define TG_EXIT_FAILURE    1

#endif
