// SPDX-License-Identifier: MIT
//! The tools that keep `dmop-abi` frozen, and the checker distributions run.
//!
//! `dmop-abi` is the ABI alone (`no_std`, `zerocopy` only). Everything that
//! reads, compares or generates lives here, with the `std` dependencies it
//! needs:
//!
//! - [`manifest`]: the frozen manifest (`abi/dmop-abi/abi/frozen.toml`, shipped
//!   in `dmop-abi` as [`dmop_abi::FROZEN_TOML`]), its diff against the code
//!   and the rules a freeze must follow (docs/abi-policy.md);
//! - [`headers`]: `dmop-abi-check`, which compiles probes of installed Xen
//!   and Linux headers for each architecture and compares every value with
//!   the manifest;
//! - [`cross`] and [`objread`]: the layouts of the ABI source on the other
//!   three architectures, compiled with the kernel's rustc and read back
//!   from the objects (what `dmop-abi-freeze` records);
//! - [`xen_guard`]: the hypervisor guard's header for the xen-patches
//!   series, generated from the manifest;
//! - [`capture_shim`]: the header of the drop-in tests' ioctl-capturing
//!   shim. With the frozen table ([`manifest`]) and the guard header, every
//!   generator of ABI facts is here; the test guest's header is the test
//!   board's own (xen-thin-dm's `testplatform`).
//!
//! The binaries are `dmop-abi-check` (distributions), `dmop-abi-freeze`
//! (feature `freeze`: `cargo xtask abi-freeze`, in this workspace, the
//! only place it works) and `dmop-abi-xen-guard`.
//! Nothing in a product depends on this crate.
//!
//! # Example
//!
//! Checking installed headers (what a distro runs):
//!
//! ```text
//! $ dmop-abi-check --xen-include /usr/include --target aarch64-linux-gnu
//! compatible: 336 values compared against the frozen ABI version 1 for arm64: 0 incompatibilities
//! ```
//!
//! The same from Rust, reading the manifest:
//!
//! ```
//! use dmop_abi_tools::manifest::{Arch, Manifest};
//!
//! let m = Manifest::frozen();
//! assert!(m.abi_version >= 1);
//! // Op 1 of Xen's hvm/dm_op.h, XEN_DMOP_create_ioreq_server.
//! assert!(m.dmops.iter().any(|e| e.number == 1));
//! assert!(!m.view(Arch::Arm64).structs.is_empty());
//! ```
#![deny(missing_docs)]

pub mod capture_shim;
pub mod cross;
pub mod headers;
pub mod manifest;
pub mod objread;
pub mod xen_guard;
