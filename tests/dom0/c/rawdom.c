/* SPDX-License-Identifier: MIT */
/*
 * rawdom create DOMID | rawdom destroy DOMID: an empty, paused domain with
 * exactly that id, made through libxenctrl and nothing else, and its end.
 * The privcmd suite uses it to give a destroyed guest's domain id to a new
 * domain at once: libxl will not (it keeps recently used ids out of reuse,
 * and Xen hands out ids in turn). The new domain has no memory, no vCPU
 * context and no xenstore entries; only the hypervisor knows it. Compiled
 * against the release's own xenctrl.h, as dmcheck is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenctrl.h>

static int usage(void)
{
    fprintf(stderr, "usage: rawdom create|destroy DOMID (1..%u)\n", DOMID_FIRST_RESERVED - 1);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return usage();
    char *end;
    unsigned long id = strtoul(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || id == 0 || id >= DOMID_FIRST_RESERVED)
        return usage();
    uint32_t domid = (uint32_t)id;
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    if (!xch) {
        perror("xc_interface_open");
        return 1;
    }
    int rc;
    if (!strcmp(argv[1], "create")) {
        struct xen_domctl_createdomain cfg;
        memset(&cfg, 0, sizeof(cfg));
        cfg.max_vcpus = 1;
        cfg.max_evtchn_port = 1023;
        cfg.max_grant_frames = 1;
        cfg.max_maptrack_frames = 0;
        cfg.grant_opts = XEN_DOMCTL_GRANT_version(1);
#if defined(__aarch64__) || defined(__arm__)
        /* Arm has only one kind of guest: HVM with hardware paging. */
        cfg.flags = XEN_DOMCTL_CDF_hvm | XEN_DOMCTL_CDF_hap;
        cfg.arch.gic_version = XEN_DOMCTL_CONFIG_GIC_NATIVE;
        cfg.arch.tee_type = XEN_DOMCTL_CONFIG_TEE_NONE;
#endif
        /* x86: a PV domain with nothing emulated (the zeroed config). */
        rc = xc_domain_create(xch, &domid, &cfg);
        if (!rc && domid != id) {
            /* Xen chose another id: not what was asked; undo it. */
            xc_domain_destroy(xch, domid);
            errno = EEXIST;
            rc = -1;
        }
    } else if (!strcmp(argv[1], "destroy")) {
        rc = xc_domain_destroy(xch, domid);
    } else {
        xc_interface_close(xch);
        return usage();
    }
    int err = errno;
    xc_interface_close(xch);
    if (rc) {
        fprintf(stderr, "rawdom %s %lu: %s\n", argv[1], id, strerror(err));
        return 1;
    }
    printf("%s d%u\n", argv[1], domid);
    return 0;
}
