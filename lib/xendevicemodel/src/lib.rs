// SPDX-License-Identifier: MIT
//! The Xen device-model library, in Rust.
//!
//! It depends on dmop-abi (the ABI), rustix and libc only: never on a device
//! model, the test bed, or Xen's C libraries (those are the drop-in's).
//!
//! Everything a device model needs to serve an HVM guest from dom0, and to
//! confine itself to that guest:
//!
//! - [`DeviceModel`]: every DMOP of Xen (the 26 functions of the C
//!   libxendevicemodel: ioreq servers, I/O ranges, PCI devices, interrupts,
//!   memory types, dirty tracking, shutdown...), issued through
//!   `IOCTL_PRIVCMD_DM_OP` on `/dev/xen/privcmd` or on the
//!   `privcmd-restrict` node, with buffers byte-identical to the C
//!   library's; [`DeviceModel::restrict`] confines it to one domain.
//! - [`IoreqPages`]: an ioreq server's pages, mapped with
//!   `IOCTL_PRIVCMD_MMAP_RESOURCE`, with the request state machine
//!   ([`IoreqSlot::begin`], [`IoreqSlot::complete`]) and the buffered ring.
//! - [`EventChannel`]: `/dev/xen/evtchn` (bind, notify, pending, unmask,
//!   restrict).
//! - [`ForeignMapping`]: guest memory, for requests whose data is a pointer.
//! - [`restrict_all`]: confines every descriptor the process holds through
//!   this crate, failing closed.
//!
//! Types (domain ids, op structs, constants) come from [`dmop_abi`], the
//! project's frozen ABI crate. The sibling crate `xendevicemodel-c` builds
//! this as a drop-in `libxendevicemodel.so.1` for C programs.
//!
//! # Example
//!
//! Serving port I/O for a guest, confined to it:
//!
//! ```no_run
//! use dmop_abi::dmop::{BufioreqMode, IoRangeType};
//! use dmop_abi::ioreq::IoreqDir;
//! use dmop_abi::types::DomId;
//! use xendevicemodel::{restrict_all, DeviceModel, EventChannel, IoreqPages};
//!
//! let guest = DomId(3);
//! let dm = DeviceModel::open()?;
//! let ev = EventChannel::open()?;
//! restrict_all(guest).expect("confined before touching guest data");
//!
//! let id = dm.create_ioreq_server(guest, BufioreqMode::OFF)?;
//! dm.map_io_range_to_ioreq_server(guest, id, IoRangeType::PORT, 0x700, 0x703)?;
//! let vcpus = dm.nr_vcpus(guest)?;
//! let pages = IoreqPages::map(&dm, guest, id, vcpus, false)?;
//! dm.set_ioreq_server_state(guest, id, true)?;
//! let slot = pages.slot(0).unwrap();
//! let port = ev.bind_interdomain(guest, slot.vp_eport())?;
//! loop {
//!     let mut fired = [port; 4];
//!     let n = ev.pending(&mut fired)?;
//!     for p in &fired[..n] {
//!         ev.unmask(*p)?;
//!     }
//!     if let Some(req) = slot.begin() {
//!         let answer = if req.dir() == IoreqDir::READ { 0x42 } else { 0 };
//!         slot.complete(answer);
//!         ev.notify(port)?;
//!     }
//! }
//! # Ok::<(), xendevicemodel::Error>(())
//! ```
//!
//! # Logging
//!
//! With the `log` feature, the events a device model's operator wants to
//! see go to the `log` crate, target `xendevicemodel`: `warn` when the
//! ioreq pages are mapped through the legacy gfns (no `MMAP_RESOURCE`),
//! when frames stay paged out after the retries, and for each descriptor
//! [`restrict_all`] could not confine; `debug` for each retry of paged-out
//! frames. Without it, nothing is logged and `log` is not a dependency.
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]

/// An event for the `log` crate (feature `log`); nothing without it.
macro_rules! event {
    ($level:ident, $($arg:tt)+) => {{
        #[cfg(feature = "log")]
        log::$level!(target: "xendevicemodel", $($arg)+);
        #[cfg(not(feature = "log"))]
        let _ = format_args!($($arg)+);
    }};
}

mod dm;
mod error;
mod evtchn;
mod foreign;
mod guest;
mod handle;
mod ioeventfd;
mod ioreq;
mod irqfd;
mod sys;

pub use dm::{DeviceModel, DmOpFallback, IoreqServerInfo, PRIVCMD_PATH, PRIVCMD_RESTRICT_PATH};
pub use error::{errno_name, Error, Result};
pub use evtchn::{BoundPort, EventChannel, EVTCHN_PATH};
pub use foreign::ForeignMapping;
pub use guest::{Guest, IoreqServer};
pub use handle::{restrict_all, HandleKind, RestrictAllError, RestrictFailure, Restricted};
pub use ioeventfd::{Ioeventfd, IoeventfdMatch};
pub use ioreq::{BufferedRequest, BufferedRing, IoreqPages, IoreqSlot, MapPath};
pub use irqfd::Irqfd;

pub use dmop_abi;
