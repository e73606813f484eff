/* SPDX-License-Identifier: MIT */
/*
 * dmop_calls OP N: calls one libxendevicemodel function N times (the ioctl
 * is answered by the LD_PRELOAD shim), for callgrind to count instructions
 * per call. Built against Xen's header and Debian's library; run against
 * Debian's and ours.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xendevicemodel.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: dmop_calls set_isa_irq_level|inject_msi|map_io_range N\n");
        return 2;
    }
    long n = atol(argv[2]);
    xendevicemodel_handle *dm = xendevicemodel_open(NULL, 0);
    if (!dm) { perror("open"); return 1; }
    int rc = 0;
    for (long i = 0; i < n; i++) {
        if (!strcmp(argv[1], "set_isa_irq_level"))
            rc |= xendevicemodel_set_isa_irq_level(dm, 5, 4, i & 1);
        else if (!strcmp(argv[1], "inject_msi"))
            rc |= xendevicemodel_inject_msi(dm, 5, 0xfee00000ull, 0x30 + (i & 7));
        else if (!strcmp(argv[1], "map_io_range"))
            rc |= xendevicemodel_map_io_range_to_ioreq_server(dm, 5, 1, 0, 0x700, 0x703);
        else { fprintf(stderr, "unknown op %s\n", argv[1]); return 2; }
    }
    xendevicemodel_close(dm);
    return rc != 0;
}
