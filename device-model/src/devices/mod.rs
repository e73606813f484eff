// SPDX-License-Identifier: MIT
//! The devices of xen-thin-dm.

mod debug_exit;
mod pci_counter;
mod scratch;
mod uart;

pub use debug_exit::DebugExit;
pub use pci_counter::PciCounter;
pub use scratch::Scratch;
pub use uart::Uart16550;
