// SPDX-License-Identifier: MIT
//! The frozen Xen device-model ABI.
//!
//! A Xen device model (QEMU, or this project's `xen-thin-dm`) talks to the
//! hypervisor through one hypercall, `__HYPERVISOR_dm_op`, whose target
//! domain is an argument of its own so that dom0's kernel can confine a file
//! descriptor to one guest without understanding any op. This crate defines,
//! in `core`-only Rust:
//!
//! - every DMOP of Xen's `hvm/dm_op.h` ([`dmop`]): the op numbers, payload
//!   structs, the `xen_dm_op` header and buffers, and their constants;
//! - the Linux privcmd and evtchn ioctls ([`privcmd`], [`evtchn`]), plus this
//!   project's restrict-at-open ioctl for the `privcmd-restrict` node;
//! - the ioreq pages shared with Xen ([`ioreq`]) and the resource mapping
//!   that reaches them ([`xenmem`]).
//!
//! Every struct is `#[repr(C)]` with every padding byte named, ids and C
//! enums are open newtypes ([`types::DomId`], [`dmop::IoRangeType`], ...), bit
//! fields have typed accessors, and with the `zerocopy` feature (default)
//! every type derives zerocopy's `FromBytes`, `IntoBytes`, `KnownLayout` and
//! `Immutable`. The [`abi`] directory needs no crate at all: the
//! `privcmd-restrict` kernel module includes those very files.
//!
//! The ABI is frozen (`abi/frozen.toml`, policy in `docs/abi-policy.md`):
//! every layout is asserted at compile time on every target, an op whose
//! layout must change gets a new number, and a retired number is never
//! reused. The manifest machinery, the header checker distros run
//! (`dmop-abi-check`) and the generators live in the `dmop-abi-tools`
//! crate, so that depending on this one brings in nothing but `zerocopy`
//! (and with default features off, nothing at all): a kernel, a firmware
//! or a device model takes the ABI alone. This crate must never depend on
//! `std` or on anything beyond `zerocopy`.
//!
//! # Example
//!
//! Building the buffer a device model hands to `IOCTL_PRIVCMD_DM_OP` to
//! claim a port range:
//!
//! ```
//! # #[cfg(feature = "zerocopy")] {
//! use dmop_abi::dmop::{DmopCode, IoRangeType, IoreqServerRange, XenDmOp};
//! use dmop_abi::types::IoservId;
//! use zerocopy::IntoBytes;
//!
//! let range = IoreqServerRange {
//!     id: IoservId(1),
//!     r#type: IoRangeType::PORT,
//!     start: 0x3f8,
//!     end: 0x3ff,
//!     ..IoreqServerRange::ZEROED
//! };
//! let op = XenDmOp::with_payload(DmopCode::MAP_IO_RANGE_TO_IOREQ_SERVER, &range);
//! let bytes = op.as_bytes();
//! assert_eq!(bytes.len(), 32); // sizeof(struct xen_dm_op)
//! assert_eq!(&bytes[0..4], &3u32.to_ne_bytes()); // XEN_DMOP_map_io_range_to_ioreq_server
//! assert_eq!(&bytes[16..24], &0x3f8u64.to_ne_bytes()); // u.start
//! # }
//! ```
//!
//! The record of the freeze, `abi/frozen.toml`, ships with the crate as
//! [`FROZEN_TOML`], so that the tools read the very manifest the compile-time
//! assertions were generated from.
//!
#![no_std]
#![deny(missing_docs)]

pub mod abi;
pub use abi::{dmop, evtchn, hvm, ioctl, ioreq, layout, privcmd, registry, types, xenmem, xs_wire};

#[cfg(feature = "zerocopy")]
mod zc;

/// The frozen manifest (`abi/frozen.toml`) as text: every op, struct,
/// constant and ioctl the freeze recorded, per architecture. Parsed by
/// `dmop-abi-tools`; the compile-time assertions of [`abi`] are generated
/// from it.
pub const FROZEN_TOML: &str = include_str!("../abi/frozen.toml");
