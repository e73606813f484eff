// SPDX-License-Identifier: MIT
//! A PCI device with one 4 KiB memory BAR: an id register, a scratch
//! register, a counter that counts its reads, and a doorbell that raises
//! INTA (bit 0) or sends an MSI (bit 1).

use crate::device::{Access, Ctx, Device, PciFunction};
use crate::testplatform;

const REG_ID: u64 = 0x0;
const REG_SCRATCH: u64 = 0x4;
const REG_COUNTER: u64 = 0x8;
const REG_DOORBELL: u64 = 0xc;
const REG_MSI_ADDR: u64 = 0x10;
const REG_MSI_DATA: u64 = 0x18;

/// The counter/scratch device in a PCI slot.
pub struct PciCounter {
    pci: PciFunction,
    scratch: u32,
    counter: u32,
    msi_addr: u64,
    msi_data: u32,
}

impl PciCounter {
    /// The device in `slot` of bus 0.
    pub fn new(slot: u8) -> Self {
        let pci = PciFunction::new(
            slot,
            testplatform::PCI_VENDOR as u16,
            testplatform::PCI_DEVICE as u16,
            0xff_0000,
        )
        .with_memory_bar(0, 0x1000);
        Self {
            pci,
            scratch: 0,
            counter: 0,
            msi_addr: 0xfee0_0000,
            msi_data: 0,
        }
    }
}

impl Device for PciCounter {
    fn name(&self) -> &str {
        "pci counter"
    }

    fn pci(&mut self) -> Option<&mut PciFunction> {
        Some(&mut self.pci)
    }

    fn read(&mut self, a: Access, _: &mut Ctx<'_>) -> u64 {
        match a.addr {
            REG_ID => testplatform::SCRATCH_ID,
            REG_SCRATCH => u64::from(self.scratch),
            REG_COUNTER => {
                let c = self.counter;
                self.counter = self.counter.wrapping_add(1);
                u64::from(c)
            }
            REG_MSI_ADDR => self.msi_addr,
            REG_MSI_DATA => u64::from(self.msi_data),
            _ => 0,
        }
    }

    fn write(&mut self, a: Access, value: u64, ctx: &mut Ctx<'_>) {
        match a.addr {
            REG_SCRATCH => self.scratch = value as u32,
            REG_DOORBELL => {
                ctx.set_intx(value & 1 != 0);
                if value & 2 != 0 {
                    ctx.inject_msi(self.msi_addr, self.msi_data);
                }
            }
            REG_MSI_ADDR => self.msi_addr = value,
            REG_MSI_DATA => self.msi_data = value as u32,
            _ => {}
        }
    }
}
