// SPDX-License-Identifier: MIT
//! `dmcheck-rs DOMID`: the Rust API's twin of `tests/dom0/c/dmcheck.c`,
//! printing the same lines, so that the C library, our C drop-in and the
//! Rust API can be compared on real Xen.

use dmop_abi::dmop::{
    BufioreqMode, CacheAttr, EventType, HvmMemType, IoRangeType, MemAccessFlags, ShutdownReason,
};
use dmop_abi::types::{DomId, IoservId};
use xen_thin_dm::testplatform::SCRATCH_MMIO;
use xendevicemodel::{DeviceModel, Error};

fn t<T>(name: &str, r: Result<T, Error>) -> Option<T> {
    match r {
        Ok(v) => {
            println!("{name} rc=0 errno=0");
            Some(v)
        }
        Err(e) => {
            println!("{name} rc=-1 errno={}", e.errno());
            None
        }
    }
}

/// Runs the check on domain `args[0]`; returns the exit status.
pub fn run(args: &[String]) -> i32 {
    let Some(d) = args.first().and_then(|a| a.parse::<u16>().ok()).map(DomId) else {
        eprintln!("usage: xdm-suite dmcheck-rs DOMID");
        return 2;
    };
    let dm = match DeviceModel::open() {
        Ok(dm) => dm,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let vcpus = t("nr_vcpus", dm.nr_vcpus(d)).unwrap_or(0);
    println!("  vcpus={vcpus}");
    let id = t(
        "create_ioreq_server",
        dm.create_ioreq_server(d, crate::xl::bufioreq_mode()),
    )
    .unwrap_or(IoservId(0));
    println!("  id={}", id.0);
    let info = t(
        "get_ioreq_server_info (port)",
        dm.get_ioreq_server_info(d, id, false),
    );
    println!("  port={}", info.map_or(0, |i| i.bufioreq_port.0));
    let info = t(
        "get_ioreq_server_info (gfns)",
        dm.get_ioreq_server_info(d, id, true),
    );
    let two = info
        .and_then(|i| i.gfns)
        .is_some_and(|(g, b)| g != 0 && b != 0 && g != b);
    println!("  gfns {}", if two { "two distinct" } else { "MISSING" });
    t(
        "map_io_range port",
        dm.map_io_range_to_ioreq_server(d, id, IoRangeType::PORT, 0x700, 0x703),
    );
    t(
        "map_io_range mmio",
        dm.map_io_range_to_ioreq_server(
            d,
            id,
            IoRangeType::MEMORY,
            SCRATCH_MMIO,
            SCRATCH_MMIO + 0xfff,
        ),
    );
    t(
        "map_io_range port again (overlap)",
        dm.map_io_range_to_ioreq_server(d, id, IoRangeType::PORT, 0x700, 0x703),
    );
    t(
        "map_pcidev",
        dm.map_pcidev_to_ioreq_server(d, id, 0, 0, 3, 0),
    );
    t(
        "map_mem_type write",
        dm.map_mem_type_to_ioreq_server(d, id, HvmMemType::IOREQ_SERVER, MemAccessFlags::WRITE),
    );
    t(
        "map_mem_type off",
        dm.map_mem_type_to_ioreq_server(d, id, HvmMemType::IOREQ_SERVER, MemAccessFlags(0)),
    );
    t(
        "map_mem_type bad type",
        dm.map_mem_type_to_ioreq_server(d, id, HvmMemType::RAM_RW, MemAccessFlags(0)),
    );
    t(
        "set_ioreq_server_state on",
        dm.set_ioreq_server_state(d, id, true),
    );
    t(
        "set_ioreq_server_state off",
        dm.set_ioreq_server_state(d, id, false),
    );
    t(
        "set_pci_intx_level assert",
        dm.set_pci_intx_level(d, 0, 0, 3, 0, 1),
    );
    t(
        "set_pci_intx_level deassert",
        dm.set_pci_intx_level(d, 0, 0, 3, 0, 0),
    );
    t("set_isa_irq_level assert", dm.set_isa_irq_level(d, 4, 1));
    t("set_isa_irq_level deassert", dm.set_isa_irq_level(d, 4, 0));
    t("set_irq_level (Arm only)", dm.set_irq_level(d, 40, 1));
    t("set_pci_link_route", dm.set_pci_link_route(d, 0, 5));
    t("set_pci_link_route off", dm.set_pci_link_route(d, 0, 0));
    t("inject_msi", dm.inject_msi(d, 0xfee0_0000, 0x30));
    t(
        "inject_event",
        dm.inject_event(d, 0, 0x31, EventType::EXT_INT, !0, 0, 0),
    );
    t(
        "inject_event bad vcpu",
        dm.inject_event(d, 5, 0x31, EventType::EXT_INT, !0, 0, 0),
    );
    let mut bitmap = [0u8; 16];
    t(
        "track_dirty_vram",
        dm.track_dirty_vram(d, 0xa0, 32, &mut bitmap),
    );
    t("modified_memory", dm.modified_memory(d, 0x100, 1));
    t(
        "set_mem_type ram_ro",
        dm.set_mem_type(d, HvmMemType::RAM_RO, 0x300, 1),
    );
    t(
        "set_mem_type ram_rw",
        dm.set_mem_type(d, HvmMemType::RAM_RW, 0x300, 1),
    );
    t(
        "pin_memory_cacheattr",
        dm.pin_memory_cacheattr(d, 0x400, 0x400, CacheAttr::WB),
    );
    t(
        "pin_memory_cacheattr delete",
        dm.pin_memory_cacheattr(d, 0x400, 0x400, CacheAttr::DELETE),
    );
    t("relocate_memory", dm.relocate_memory(d, 1, 0x500, 0x10000));
    t(
        "unmap_pcidev",
        dm.unmap_pcidev_from_ioreq_server(d, id, 0, 0, 3, 0),
    );
    t(
        "unmap_io_range mmio",
        dm.unmap_io_range_from_ioreq_server(
            d,
            id,
            IoRangeType::MEMORY,
            SCRATCH_MMIO,
            SCRATCH_MMIO + 0xfff,
        ),
    );
    t(
        "unmap_io_range port",
        dm.unmap_io_range_from_ioreq_server(d, id, IoRangeType::PORT, 0x700, 0x703),
    );
    t("destroy_ioreq_server", dm.destroy_ioreq_server(d, id));
    t("destroy_ioreq_server again", dm.destroy_ioreq_server(d, id));
    t("nr_vcpus of dom0 (unrestricted)", dm.nr_vcpus(DomId(0)));
    t("nr_vcpus of a missing domain", dm.nr_vcpus(DomId(999)));
    t("restrict", dm.restrict(d));
    t("restrict again", dm.restrict(d));
    t("restrict to another domain", dm.restrict(DomId(d.0 + 1)));
    t("restricted nr_vcpus", dm.nr_vcpus(d));
    t("restricted nr_vcpus of dom0", dm.nr_vcpus(DomId(0)));
    t(
        "restricted nr_vcpus of a missing domain",
        dm.nr_vcpus(DomId(999)),
    );
    t(
        "restricted create_ioreq_server on dom0",
        dm.create_ioreq_server(DomId(0), BufioreqMode::OFF),
    );
    t("shutdown", dm.shutdown(d, ShutdownReason::POWEROFF));
    drop(dm);
    println!("close rc=0 errno=0");
    0
}
