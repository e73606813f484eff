// SPDX-License-Identifier: MIT
//! A PCI host bridge at 00:00.0, with Intel 440FX's ids as the HVM
//! machines of Xen and QEMU have it. Nothing but its configuration header:
//! an operating system that finds PCI through the configuration mechanism
//! looks for a host bridge on bus 0 before it believes config space works
//! (Linux's `pci_sanity_check`), so a machine whose devices sit on PCI
//! has one.
//!
//! It also answers the configuration address register (4 ports, which the
//! board places at 0xcf8, [`crate::board::PCI_CONFIG_ADDRESS`]):
//! Xen notes what the guest writes there to route the data port's accesses
//! (0xcfc) to the server that claimed the function, but leaves the port
//! itself to the device model, and Linux reads it back before it trusts
//! the mechanism (`pci_check_type1`).

use crate::device::{Access, Ctx, Device, PciFunction, Region};

/// Intel's PCI vendor id.
const INTEL: u16 = 0x8086;
/// 82441FX (440FX) PCI and memory controller.
const I440FX: u16 = 0x1237;
/// Class: bridge, host bridge.
const CLASS_HOST_BRIDGE: u32 = 0x06_0000;

/// The host bridge.
pub struct HostBridge {
    func: PciFunction,
    /// The configuration address register.
    address: u32,
}

impl HostBridge {
    /// The host bridge in `slot` (0 on every PC).
    pub fn new(slot: u8) -> Self {
        Self {
            func: PciFunction::new(slot, INTEL, I440FX, CLASS_HOST_BRIDGE).with_interrupt_pin(0),
            address: 0,
        }
    }
}

impl Device for HostBridge {
    fn name(&self) -> &str {
        "pci host bridge"
    }

    fn pci(&mut self) -> Option<&mut PciFunction> {
        Some(&mut self.func)
    }

    fn regions(&self) -> Vec<Region> {
        vec![Region::Ports(4)]
    }

    fn read(&mut self, a: Access, _: &mut Ctx<'_>) -> u64 {
        u64::from(self.address) >> (8 * a.addr.min(3))
    }

    fn write(&mut self, a: Access, value: u64, _: &mut Ctx<'_>) {
        // Only a dword write at 0xcf8 sets it, as only that is what Xen
        // routes the data port by: the guest never reads back an address
        // other than the one its accesses go to. (0xcf9, the PIIX's reset
        // control, is not emulated: its writes do nothing.)
        if a.addr == 0 && a.size == 4 {
            self.address = value as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Space;

    #[test]
    fn the_configuration_address_register_reads_back() {
        let mut b = HostBridge::new(0);
        let mut actions = Vec::new();
        let mut ctx = Ctx::new(&mut actions, None);
        // Offsets in the four ports (0xcf8 to 0xcfb on the board).
        let at = |addr, size| Access {
            space: Space::Port(0),
            addr,
            size,
        };
        b.write(at(3, 1), 0x01, &mut ctx);
        b.write(at(0, 4), 0x8000_0000, &mut ctx);
        assert_eq!(b.read(at(0, 4), &mut ctx), 0x8000_0000);
        b.write(at(2, 1), 0x12, &mut ctx);
        assert_eq!(
            b.read(at(0, 4), &mut ctx),
            0x8000_0000,
            "only dword writes set it, as Xen routes by them"
        );
        assert_eq!(b.read(at(3, 1), &mut ctx) & 0xff, 0x80);
        assert_eq!(b.pci().unwrap().read(0x0a, 2), 0x0600, "a host bridge");
    }
}
