/* SPDX-License-Identifier: MIT */
/*
 * Calls every function of libxendevicemodel with distinct argument values
 * and prints what each returned. Compiled once against Xen 4.17's
 * xendevicemodel.h and Debian's library; run against Debian's and then
 * against ours (LD_LIBRARY_PATH), under the capture shim.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <xendevicemodel.h>

#define T(name, expr) do { errno = 0; int r_ = (expr); \
    printf("%-34s rc=%d errno=%d\n", name, r_, r_ ? errno : 0); } while (0)

int main(void)
{
    xendevicemodel_handle *dm = xendevicemodel_open(NULL, 0);
    if (!dm) { perror("xendevicemodel_open"); return 1; }
    ioservid_t id = 0;
    xen_pfn_t ioreq_gfn = 0, buf_gfn = 0;
    evtchn_port_t port = 0;
    unsigned int vcpus = 0;
    unsigned long bitmap[4] = { 0 };
    struct xen_dm_op_modified_memory_extent ext[3] = {
        { .nr = 1, .first_pfn = 0x1000 }, { .nr = 2, .first_pfn = 0x2000 }, { .nr = 3, .first_pfn = 0x3000 },
    };
    domid_t d = 0x1234;

    T("create_ioreq_server", xendevicemodel_create_ioreq_server(dm, d, 2, &id));
    T("create_ioreq_server (bufioreq 0x102)", xendevicemodel_create_ioreq_server(dm, d, 0x102, &id));
    T("get_ioreq_server_info all", xendevicemodel_get_ioreq_server_info(dm, d, 7, &ioreq_gfn, &buf_gfn, &port));
    T("get_ioreq_server_info port only", xendevicemodel_get_ioreq_server_info(dm, d, 7, NULL, NULL, &port));
    T("get_ioreq_server_info buf gfn", xendevicemodel_get_ioreq_server_info(dm, d, 7, NULL, &buf_gfn, NULL));
    T("map_io_range port", xendevicemodel_map_io_range_to_ioreq_server(dm, d, 7, 0, 0x3f8, 0x3ff));
    T("map_io_range mmio (is_mmio=5)", xendevicemodel_map_io_range_to_ioreq_server(dm, d, 7, 5, 0xfe000000ull, 0xfe000fffull));
    T("unmap_io_range mmio", xendevicemodel_unmap_io_range_from_ioreq_server(dm, d, 7, 1, 0xfe000000ull, 0xfe000fffull));
    T("map_mem_type", xendevicemodel_map_mem_type_to_ioreq_server(dm, d, 7, HVMMEM_ioreq_server, XEN_DMOP_IOREQ_MEM_ACCESS_WRITE));
    T("map_mem_type unmap", xendevicemodel_map_mem_type_to_ioreq_server(dm, d, 7, HVMMEM_ioreq_server, 0));
    T("map_mem_type bad type", xendevicemodel_map_mem_type_to_ioreq_server(dm, d, 7, HVMMEM_ram_rw, XEN_DMOP_IOREQ_MEM_ACCESS_WRITE));
    T("map_mem_type bad flags", xendevicemodel_map_mem_type_to_ioreq_server(dm, d, 7, HVMMEM_ioreq_server, XEN_DMOP_IOREQ_MEM_ACCESS_READ));
    T("map_pcidev", xendevicemodel_map_pcidev_to_ioreq_server(dm, d, 7, 0xabcd, 0x12, 0x1f, 7));
    T("map_pcidev device 0x20", xendevicemodel_map_pcidev_to_ioreq_server(dm, d, 7, 0, 0, 0x20, 0));
    T("unmap_pcidev", xendevicemodel_unmap_pcidev_from_ioreq_server(dm, d, 7, 0xffff, 0xff, 3, 2));
    T("unmap_pcidev function 8", xendevicemodel_unmap_pcidev_from_ioreq_server(dm, d, 7, 0, 0, 3, 8));
    T("set_ioreq_server_state 42", xendevicemodel_set_ioreq_server_state(dm, d, 7, 42));
    T("set_ioreq_server_state 0", xendevicemodel_set_ioreq_server_state(dm, d, 7, 0));
    T("destroy_ioreq_server", xendevicemodel_destroy_ioreq_server(dm, d, 7));
    T("set_pci_intx_level level 0x101", xendevicemodel_set_pci_intx_level(dm, d, 0x1, 0x2, 0x3, 0x4, 0x101));
    T("set_isa_irq_level", xendevicemodel_set_isa_irq_level(dm, d, 9, 1));
    T("set_irq_level", xendevicemodel_set_irq_level(dm, d, 0x12345, 3));
    T("set_pci_link_route", xendevicemodel_set_pci_link_route(dm, d, 3, 11));
    T("inject_msi", xendevicemodel_inject_msi(dm, d, 0xfee01000ull, 0x4041));
    T("inject_event", xendevicemodel_inject_event(dm, d, 1, 14, 3, 0x1234, 2, 0xdeadbeefcafeull));
    T("track_dirty_vram nr 100", xendevicemodel_track_dirty_vram(dm, d, 0xa0, 100, bitmap));
    T("track_dirty_vram nr 1", xendevicemodel_track_dirty_vram(dm, d, 0xa0, 1, bitmap));
    T("modified_memory", xendevicemodel_modified_memory(dm, d, 0x5000, 17));
    T("modified_memory_bulk", xendevicemodel_modified_memory_bulk(dm, d, ext, 3));
    T("set_mem_type", xendevicemodel_set_mem_type(dm, d, HVMMEM_ram_ro, 0x7000, 5));
    T("relocate_memory", xendevicemodel_relocate_memory(dm, d, 4, 0x100, 0x200));
    T("pin_memory_cacheattr", xendevicemodel_pin_memory_cacheattr(dm, d, 0x10, 0x20, XEN_DMOP_MEM_CACHEATTR_WC));
    T("nr_vcpus", xendevicemodel_nr_vcpus(dm, d, &vcpus));
    T("shutdown", xendevicemodel_shutdown(dm, d, 3));
    T("restrict", xendevicemodel_restrict(dm, d));
    T("restrict again", xendevicemodel_restrict(dm, d));
    T("restrict other", xendevicemodel_restrict(dm, 0x4321));
    T("set_isa_irq_level after", xendevicemodel_set_isa_irq_level(dm, d, 4, 0));
    T("close", xendevicemodel_close(dm));
    return 0;
}
