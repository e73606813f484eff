// SPDX-License-Identifier: MIT
//! Without Xen: every operation on a descriptor that is not open fails with
//! EBADF and names itself; restricting to a reserved id is refused first.

use std::os::fd::{FromRawFd, OwnedFd};

use dmop_abi::dmop::*;
use dmop_abi::types::{DomId, EvtchnPort, IoservId};
use xendevicemodel::{DeviceModel, Error, EventChannel};

/// A descriptor number that is certainly closed (high, so that parallel
/// tests opening files never reuse it).
fn closed_fd() -> OwnedFd {
    let n = 900 + std::process::id() as i32 % 50;
    // SAFETY: closing a number we never handed to anything else.
    unsafe { libc::close(n) };
    // SAFETY: deliberately wraps a closed descriptor; callers forget the
    // handle instead of dropping it (std aborts on closing a closed fd).
    unsafe { OwnedFd::from_raw_fd(n) }
}

#[test]
fn every_op_on_a_bad_descriptor_gives_ebadf() {
    let dm = DeviceModel::from_fd(closed_fd());
    let d = DomId(1);
    let id = IoservId(1);
    let mut bitmap = [0u8; 8];
    let mut ext = [ModifiedMemoryExtent::ZEROED];
    let results: Vec<(&str, Result<(), Error>)> = vec![
        (
            "create_ioreq_server",
            dm.create_ioreq_server(d, BufioreqMode::OFF).map(|_| ()),
        ),
        (
            "get_ioreq_server_info",
            dm.get_ioreq_server_info(d, id, true).map(|_| ()),
        ),
        (
            "map_io_range_to_ioreq_server",
            dm.map_io_range_to_ioreq_server(d, id, IoRangeType::PORT, 1, 2),
        ),
        (
            "unmap_io_range_from_ioreq_server",
            dm.unmap_io_range_from_ioreq_server(d, id, IoRangeType::MEMORY, 1, 2),
        ),
        (
            "map_pcidev_to_ioreq_server",
            dm.map_pcidev_to_ioreq_server(d, id, 0, 0, 3, 0),
        ),
        (
            "unmap_pcidev_from_ioreq_server",
            dm.unmap_pcidev_from_ioreq_server(d, id, 0, 0, 3, 0),
        ),
        (
            "map_mem_type_to_ioreq_server",
            dm.map_mem_type_to_ioreq_server(d, id, HvmMemType::IOREQ_SERVER, MemAccessFlags::WRITE),
        ),
        ("destroy_ioreq_server", dm.destroy_ioreq_server(d, id)),
        (
            "set_ioreq_server_state",
            dm.set_ioreq_server_state(d, id, true),
        ),
        (
            "set_pci_intx_level",
            dm.set_pci_intx_level(d, 0, 0, 3, 0, 1),
        ),
        ("set_isa_irq_level", dm.set_isa_irq_level(d, 4, 1)),
        ("set_irq_level", dm.set_irq_level(d, 40, 1)),
        ("set_pci_link_route", dm.set_pci_link_route(d, 0, 5)),
        ("inject_msi", dm.inject_msi(d, 0xfee0_0000, 0x30)),
        (
            "inject_event",
            dm.inject_event(d, 0, 14, EventType::HW_EXC, 0, 0, 0),
        ),
        (
            "track_dirty_vram",
            dm.track_dirty_vram(d, 0, 64, &mut bitmap),
        ),
        ("modified_memory", dm.modified_memory(d, 0, 1)),
        ("modified_memory", dm.modified_memory_bulk(d, &mut ext)),
        ("set_mem_type", dm.set_mem_type(d, HvmMemType::RAM_RO, 0, 1)),
        ("shutdown", dm.shutdown(d, ShutdownReason::POWEROFF)),
        ("relocate_memory", dm.relocate_memory(d, 1, 2, 3)),
        (
            "pin_memory_cacheattr",
            dm.pin_memory_cacheattr(d, 0, 1, CacheAttr::WB),
        ),
        ("nr_vcpus", dm.nr_vcpus(d).map(|_| ())),
        ("restrict", dm.restrict(d)),
    ];
    assert_eq!(
        results.len(),
        24,
        "every op of the C library (open and close aside)"
    );
    for (name, r) in results {
        let e = r.expect_err(name);
        assert_eq!((e.op(), e.errno()), (name, libc::EBADF), "{name}: {e}");
    }
    std::mem::forget(dm);

    let ev = EventChannel::from_fd(closed_fd());
    for (name, e) in [
        (
            "bind_interdomain",
            ev.bind_interdomain(d, EvtchnPort(1))
                .map(|_| ())
                .unwrap_err(),
        ),
        ("notify", ev.notify(EvtchnPort(1)).unwrap_err()),
        ("unbind", ev.unbind(EvtchnPort(1)).unwrap_err()),
        ("unmask", ev.unmask(EvtchnPort(1)).unwrap_err()),
        (
            "read pending ports",
            ev.pending(&mut [EvtchnPort(0); 2]).map(|_| ()).unwrap_err(),
        ),
        ("evtchn restrict", ev.restrict(d).unwrap_err()),
    ] {
        assert_eq!((e.op(), e.errno()), (name, libc::EBADF), "{e}");
    }
    std::mem::forget(ev);
}

#[test]
fn restricting_to_a_reserved_domain_is_refused() {
    // DOMID_INVALID means "unrestricted" to the C privcmd: refusing it is
    // what keeps a caller with an uninitialised domid from believing it is
    // confined. Refused before any ioctl (the descriptor is /dev/null).
    let dm = DeviceModel::from_fd(std::fs::File::open("/dev/null").unwrap().into());
    for d in [DomId::INVALID, DomId::SELF, DomId::IDLE, DomId(0xffff)] {
        assert_eq!(dm.restrict(d).unwrap_err().errno(), libc::EINVAL, "{d:?}");
    }
    assert_eq!(dm.restricted_to(), None);
}

#[test]
fn errors_name_the_op_and_the_errno() {
    let e = Error::new("create_ioreq_server", libc::EPERM);
    assert_eq!(
        e.to_string(),
        "create_ioreq_server: Operation not permitted (os error 1) (EPERM)"
    );
    assert_eq!(std::io::Error::from(e).raw_os_error(), Some(libc::EPERM));
}
