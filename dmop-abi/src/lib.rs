// SPDX-License-Identifier: MIT
//! The frozen Xen device-model ABI.
#![no_std]
#![deny(missing_docs)]

pub mod abi;
pub use abi::{dmop, evtchn, ioctl, ioreq, layout, privcmd, registry, types, xenmem};
