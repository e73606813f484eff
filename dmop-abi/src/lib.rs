// SPDX-License-Identifier: MIT
//! The frozen Xen device-model ABI.
#![no_std]
#![deny(missing_docs)]

#[cfg(feature = "check")]
extern crate std;

pub mod abi;
pub use abi::{dmop, evtchn, ioctl, ioreq, layout, privcmd, registry, types, xenmem};

#[cfg(feature = "check")]
pub mod cross;
#[cfg(feature = "check")]
pub mod headers;
#[cfg(feature = "check")]
pub mod manifest;
#[cfg(feature = "check")]
pub mod objread;
