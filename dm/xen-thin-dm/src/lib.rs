// SPDX-License-Identifier: MIT
//! xen-thin-dm: a thin, deprivileged Xen device model.
//!
//! It depends on the project's libraries and rust-vmm's virtio crates, never
//! on the test bed (`tests/`); a production build has no escape self-test
//! (that is the cargo feature `escape-test`).
//!
//! It serves an HVM guest's emulated devices from dom0 through an ioreq
//! server, on top of the project's layers: [`dmop_abi`] for the ABI,
//! [`xendevicemodel`] for DMOPs, ioreq pages and event channels, and the
//! `privcmd-restrict` node when it is loaded. Before it reads the first
//! request it confines itself to its guest ([`depriv`]), failing closed.
//!
//! A device is a [`Device`]: the regions (ports, MMIO ranges) or the PCI
//! function it answers, by size, and what it answers. It never knows where
//! it sits: a board places its regions ([`Placed`], with [`board`]'s or
//! [`testplatform`]'s addresses) and it sees the offset in each, as it
//! sees a BAR the guest placed. [`Machine`] routes the guest's accesses to
//! devices; [`Server`] is the ioreq server that feeds it.
//!
//! # Example
//!
//! A device that answers a port with a constant and counts writes, placed
//! at port 0x710 in a machine (no Xen needed to try it):
//!
//! ```
//! use xen_thin_dm::{Access, Ctx, Device, Machine, Placed, Region};
//!
//! #[derive(Default)]
//! struct Answer {
//!     writes: u32,
//! }
//!
//! impl Device for Answer {
//!     fn name(&self) -> &str {
//!         "answer"
//!     }
//!     fn regions(&self) -> Vec<Region> {
//!         vec![Region::Ports(1)]
//!     }
//!     fn read(&mut self, a: Access, _: &mut Ctx<'_>) -> u64 {
//!         assert_eq!(a.addr, 0, "the offset in its one port");
//!         42
//!     }
//!     fn write(&mut self, _: Access, _: u64, _: &mut Ctx<'_>) {
//!         self.writes += 1;
//!     }
//! }
//!
//! let mut m = Machine::new(vec![Placed::at(Answer::default(), &[0x710])])?;
//! assert_eq!(m.port(0x710, 1, None), 42);
//! assert_eq!(m.port(0x711, 1, None), 0xff, "nothing there: all ones");
//! # Ok::<(), xen_thin_dm::Error>(())
//! ```
#![deny(missing_docs)]

pub mod app;
pub mod board;
pub mod cli;
pub mod depriv;
mod device;
pub mod devices;
#[cfg(feature = "escape-test")]
pub mod escape;
pub mod forwarder;
pub mod guest_ram;
pub mod logger;
mod server;
pub mod virtio;

pub use device::{all_ones, Access, Action, Ctx, Device, PciFunction, Region, Space};
pub use server::{BarChange, Error, Exit, Guest, Machine, Placed, Server};

pub mod testplatform;
