/* SPDX-License-Identifier: MIT */
/*
 * dmcheck DOMID: every libxendevicemodel op an x86 HVM guest supports, on a
 * real (paused) guest, one line per call with what it returned. Compiled
 * against Xen 4.17's xendevicemodel.h and Debian's library; run in the
 * test bed's dom0 against Debian's library and against ours. The Rust
 * twin (`xdm-suite dmcheck-rs`) prints the same lines through the Rust API.
 * The guest is shut down at the end.
 */
/* Xen's toolstack headers hide the HVM op constants from non-tools builds. */
#define __XEN_TOOLS__ 1
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xendevicemodel.h>
#include <xen/hvm/hvm_op.h>
#include <xen/sched.h>

/* Arm's Xen has no buffered ioreqs: it refuses any other mode (EINVAL). */
#if defined(__aarch64__)
#define BUFIOREQ HVM_IOREQSRV_BUFIOREQ_OFF
#else
#define BUFIOREQ HVM_IOREQSRV_BUFIOREQ_ATOMIC
#endif

#define T(name, expr) do { errno = 0; int r_ = (expr); \
    printf("%s rc=%d errno=%d\n", name, r_, r_ ? errno : 0); } while (0)

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: dmcheck DOMID\n");
        return 2;
    }
    domid_t d = (domid_t)atoi(argv[1]);
    xendevicemodel_handle *dm = xendevicemodel_open(NULL, 0);
    if (!dm) { perror("xendevicemodel_open"); return 1; }
    unsigned int vcpus = 0;
    ioservid_t id = 0;
    xen_pfn_t gfn = 0, bgfn = 0;
    evtchn_port_t port = 0;
    unsigned long bitmap[2] = { 0 };

    T("nr_vcpus", xendevicemodel_nr_vcpus(dm, d, &vcpus));
    printf("  vcpus=%u\n", vcpus);
    T("create_ioreq_server", xendevicemodel_create_ioreq_server(dm, d, BUFIOREQ, &id));
    printf("  id=%u\n", id);
    T("get_ioreq_server_info (port)", xendevicemodel_get_ioreq_server_info(dm, d, id, NULL, NULL, &port));
    printf("  port=%u\n", port);
    T("get_ioreq_server_info (gfns)", xendevicemodel_get_ioreq_server_info(dm, d, id, &gfn, &bgfn, NULL));
    printf("  gfns %s\n", gfn && bgfn && gfn != bgfn ? "two distinct" : "MISSING");
    T("map_io_range port", xendevicemodel_map_io_range_to_ioreq_server(dm, d, id, 0, 0x700, 0x703));
    T("map_io_range mmio", xendevicemodel_map_io_range_to_ioreq_server(dm, d, id, 1, 0xfe800000ull, 0xfe800fffull));
    T("map_io_range port again (overlap)", xendevicemodel_map_io_range_to_ioreq_server(dm, d, id, 0, 0x700, 0x703));
    T("map_pcidev", xendevicemodel_map_pcidev_to_ioreq_server(dm, d, id, 0, 0, 3, 0));
    T("map_mem_type write", xendevicemodel_map_mem_type_to_ioreq_server(dm, d, id, HVMMEM_ioreq_server, XEN_DMOP_IOREQ_MEM_ACCESS_WRITE));
    T("map_mem_type off", xendevicemodel_map_mem_type_to_ioreq_server(dm, d, id, HVMMEM_ioreq_server, 0));
    T("map_mem_type bad type", xendevicemodel_map_mem_type_to_ioreq_server(dm, d, id, HVMMEM_ram_rw, 0));
    T("set_ioreq_server_state on", xendevicemodel_set_ioreq_server_state(dm, d, id, 1));
    T("set_ioreq_server_state off", xendevicemodel_set_ioreq_server_state(dm, d, id, 0));
    T("set_pci_intx_level assert", xendevicemodel_set_pci_intx_level(dm, d, 0, 0, 3, 0, 1));
    T("set_pci_intx_level deassert", xendevicemodel_set_pci_intx_level(dm, d, 0, 0, 3, 0, 0));
    T("set_isa_irq_level assert", xendevicemodel_set_isa_irq_level(dm, d, 4, 1));
    T("set_isa_irq_level deassert", xendevicemodel_set_isa_irq_level(dm, d, 4, 0));
    T("set_irq_level (Arm only)", xendevicemodel_set_irq_level(dm, d, 40, 1));
    T("set_pci_link_route", xendevicemodel_set_pci_link_route(dm, d, 0, 5));
    T("set_pci_link_route off", xendevicemodel_set_pci_link_route(dm, d, 0, 0));
    T("inject_msi", xendevicemodel_inject_msi(dm, d, 0xfee00000ull, 0x30));
    T("inject_event", xendevicemodel_inject_event(dm, d, 0, 0x31, XEN_DMOP_EVENT_ext_int, ~0u, 0, 0));
    T("inject_event bad vcpu", xendevicemodel_inject_event(dm, d, 5, 0x31, XEN_DMOP_EVENT_ext_int, ~0u, 0, 0));
    T("track_dirty_vram", xendevicemodel_track_dirty_vram(dm, d, 0xa0, 32, bitmap));
    T("modified_memory", xendevicemodel_modified_memory(dm, d, 0x100, 1));
    T("set_mem_type ram_ro", xendevicemodel_set_mem_type(dm, d, HVMMEM_ram_ro, 0x300, 1));
    T("set_mem_type ram_rw", xendevicemodel_set_mem_type(dm, d, HVMMEM_ram_rw, 0x300, 1));
    T("pin_memory_cacheattr", xendevicemodel_pin_memory_cacheattr(dm, d, 0x400, 0x400, XEN_DMOP_MEM_CACHEATTR_WB));
    T("pin_memory_cacheattr delete", xendevicemodel_pin_memory_cacheattr(dm, d, 0x400, 0x400, XEN_DMOP_DELETE_MEM_CACHEATTR));
    T("relocate_memory", xendevicemodel_relocate_memory(dm, d, 1, 0x500, 0x10000));
    T("unmap_pcidev", xendevicemodel_unmap_pcidev_from_ioreq_server(dm, d, id, 0, 0, 3, 0));
    T("unmap_io_range mmio", xendevicemodel_unmap_io_range_from_ioreq_server(dm, d, id, 1, 0xfe800000ull, 0xfe800fffull));
    T("unmap_io_range port", xendevicemodel_unmap_io_range_from_ioreq_server(dm, d, id, 0, 0x700, 0x703));
    T("destroy_ioreq_server", xendevicemodel_destroy_ioreq_server(dm, d, id));
    T("destroy_ioreq_server again", xendevicemodel_destroy_ioreq_server(dm, d, id));
    T("nr_vcpus of dom0 (unrestricted)", xendevicemodel_nr_vcpus(dm, 0, &vcpus));
    T("nr_vcpus of a missing domain", xendevicemodel_nr_vcpus(dm, 999, &vcpus));
    T("restrict", xendevicemodel_restrict(dm, d));
    T("restrict again", xendevicemodel_restrict(dm, d));
    T("restrict to another domain", xendevicemodel_restrict(dm, d + 1));
    T("restricted nr_vcpus", xendevicemodel_nr_vcpus(dm, d, &vcpus));
    T("restricted nr_vcpus of dom0", xendevicemodel_nr_vcpus(dm, 0, &vcpus));
    T("restricted nr_vcpus of a missing domain", xendevicemodel_nr_vcpus(dm, 999, &vcpus));
    T("restricted create_ioreq_server on dom0", xendevicemodel_create_ioreq_server(dm, 0, 0, &id));
    T("shutdown", xendevicemodel_shutdown(dm, d, SHUTDOWN_poweroff));
    T("close", xendevicemodel_close(dm));
    return 0;
}
